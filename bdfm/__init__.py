"""bdfm — Bayesian dynamic factor models with an exact, fast Kalman likelihood.

``import bdfm`` is light: PyMC, ArviZ and matplotlib are imported on the first use of a
public name (``bdfm.DynamicFactorModel``, ``bdfm.load``, ...), which loads
:mod:`bdfm.api`. ``docs/architecture.md`` describes the parts of the package.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bdfm")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "BacktestResult",
    "DFMSpec",
    "DynamicFactorModel",
    "Forecast",
    "Prior",
    "RiskResult",
    "__version__",
    "backtest_var",
    "build_report",
    "compare",
    "datasets",
    "fit_many",
    "information_criteria",
    "lfo",
    "load",
    "plots",
    "select_factors",
    "simulate",
]


def __getattr__(name: str):
    if name in __all__:
        value = getattr(importlib.import_module("bdfm.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bdfm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
