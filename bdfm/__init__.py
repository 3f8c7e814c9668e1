"""bdfm — Bayesian dynamic factor models with an exact, fast Kalman likelihood."""

from importlib.metadata import PackageNotFoundError, version

from bdfm import datasets, plots
from bdfm.backtest import BacktestResult, backtest_var
from bdfm.compare import compare
from bdfm.forecast import Forecast
from bdfm.io import load
from bdfm.lfo import lfo
from bdfm.model import DynamicFactorModel
from bdfm.parallel import fit_many
from bdfm.priors import Prior
from bdfm.report import build_report
from bdfm.risk import RiskResult
from bdfm.select import information_criteria, select_factors
from bdfm.simulate import simulate
from bdfm.spec import DFMSpec

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
