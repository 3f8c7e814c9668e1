"""The public API in one place, and the wiring of the convenience methods.

Lower parts never import higher ones, so the model and the fit result cannot import the
estimation and analysis functions that use them. This module, the top of the package,
attaches those functions as methods: ``model.fit(...)`` *is*
:func:`bdfm.results.fit`, ``fit.forecast(...)`` *is*
:func:`bdfm.posterior.forecast.forecast_fit`, and so on; signatures and defaults live
in the functions only. ``import bdfm`` is light (no PyMC, ArviZ or matplotlib); the
first use of a public name imports this module.
"""

from __future__ import annotations

from bdfm import datasets
from bdfm.inference.fitting import build_model, fit_map
from bdfm.inference.mle import fit_mle
from bdfm.io import load, save
from bdfm.model import DynamicFactorModel
from bdfm.posterior.backtest import BacktestResult, backtest_var
from bdfm.posterior.forecast import Forecast, forecast_fit
from bdfm.posterior.risk import RiskResult, covariance_fit, risk_fit, variance_decomposition_fit
from bdfm.priors import Prior
from bdfm.report import plots
from bdfm.report.accessor import Accessor, PlotAccessor
from bdfm.report.html import build_report
from bdfm.results import FitResult, fit
from bdfm.selection.compare import compare
from bdfm.selection.lfo import lfo
from bdfm.selection.parallel import fit_many
from bdfm.selection.select import information_criteria, select_factors
from bdfm.simulation import simulate
from bdfm.spec import DFMSpec

__all__ = [
    "BacktestResult",
    "DFMSpec",
    "DynamicFactorModel",
    "Forecast",
    "Prior",
    "RiskResult",
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

#: method name -> function, per class; the function's first argument is the instance.
METHODS = {
    DynamicFactorModel: {
        "fit_mle": fit_mle,
        "build_model": build_model,
        "fit": fit,
        "fit_map": fit_map,
    },
    FitResult: {
        "forecast": forecast_fit,
        "covariance": covariance_fit,
        "risk": risk_fit,
        "variance_decomposition": variance_decomposition_fit,
        "report": build_report,
        "save": save,
        "plot": Accessor("plot", PlotAccessor),
    },
    BacktestResult: {"plot": plots.plot_backtest},
}


def _attach() -> None:
    for cls, methods in METHODS.items():
        for name, func in methods.items():
            if name in vars(cls) and vars(cls)[name] is not func:
                raise RuntimeError(f"{cls.__name__}.{name} is defined twice")
            setattr(cls, name, func)


_attach()
