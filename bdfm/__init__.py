"""bdfm — Bayesian dynamic factor models with an exact, fast Kalman likelihood."""

from importlib.metadata import PackageNotFoundError, version

from bdfm import datasets
from bdfm.io import load
from bdfm.model import DynamicFactorModel
from bdfm.priors import Prior
from bdfm.simulate import simulate
from bdfm.spec import DFMSpec

try:
    __version__ = version("bdfm")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["DFMSpec", "DynamicFactorModel", "Prior", "__version__", "datasets", "load", "simulate"]
