"""A Bayesian fit: :class:`FitResult` wraps the InferenceData and the model it came from.

:func:`fit` runs :func:`bdfm.inference.fitting.fit_bayes` and wraps what it returns.
``FitResult`` holds the summaries that need nothing but the draws; the analysis
methods (``forecast``, ``covariance``, ``risk``, ``variance_decomposition``,
``save``, ``report`` and the ``plot`` accessor) are the functions of the higher parts
(:mod:`bdfm.posterior`, :mod:`bdfm.io`, :mod:`bdfm.report`), attached to the class by
:mod:`bdfm.api` so this module never imports them.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bdfm.dims import CHAIN, DRAW
from bdfm.inference.diagnostics import Diagnostics, diagnose
from bdfm.inference.fitting import fit_bayes, key_vars
from bdfm.inference.pymc_model import BayesSpec

__all__ = ["FitResult", "fit"]


@dataclass
class FitResult:
    """A Bayesian fit: ``idata`` (ArviZ InferenceData) plus the model it came from.

    Besides the methods below, ``fit.forecast``, ``fit.covariance``, ``fit.risk``,
    ``fit.variance_decomposition``, ``fit.save``, ``fit.report`` and the figures of
    ``fit.plot`` (``fit.plot.factors()``, ...) are available once :mod:`bdfm` is used.
    """

    idata: az.InferenceData
    model: object
    bspec: BayesSpec
    priors: dict
    timings: dict = field(default_factory=dict)

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group of :attr:`idata` (parameters and factor draws)."""
        return self.idata.posterior

    def key_vars(self) -> list[str]:
        """The parameters summarised and diagnosed (aligned natural parameters)."""
        return key_vars(self.posterior, self.bspec)

    def summary(self, var_names=None, **kwargs) -> pd.DataFrame:
        """ArviZ summary (mean, sd, HDI, ESS, R-hat) of the key parameters."""
        with np.errstate(invalid="ignore", divide="ignore"):  # structural zeros
            return az.summary(self.idata, var_names=list(var_names or self.key_vars()), **kwargs)

    def diagnostics(self) -> Diagnostics:
        """R-hat, bulk/tail ESS, divergences and E-BFMI with plain-language warnings."""
        return diagnose(self.idata, self.key_vars())

    def factors(self, hdi_prob: float = 0.9) -> pd.DataFrame:
        """Posterior mean and equal-tailed interval of each factor over time."""
        f = self.posterior["factors"]
        lo, hi = (1 - hdi_prob) / 2, 1 - (1 - hdi_prob) / 2
        q = f.quantile([lo, hi], dim=(CHAIN, DRAW))
        frames = {
            "mean": f.mean((CHAIN, DRAW)).to_pandas(),
            "sd": f.std((CHAIN, DRAW)).to_pandas(),
            f"q{lo:.3g}": q.sel(quantile=lo).to_pandas(),
            f"q{hi:.3g}": q.sel(quantile=hi).to_pandas(),
        }
        return pd.concat(frames, axis=1)

    def loadings(self) -> pd.DataFrame:
        """Posterior mean loadings (series x factors, model units)."""
        return self.posterior["loadings"].mean((CHAIN, DRAW)).to_pandas()

    def __repr__(self) -> str:
        p = self.posterior
        return (
            f"FitResult({self.model!r}, chains={p.sizes[CHAIN]}, draws={p.sizes[DRAW]}, "
            f"identification={self.bspec.identification!r}, loadings={self.bspec.loadings!r})"
        )


def fit(model, *args, **kwargs) -> FitResult:
    return FitResult(*fit_bayes(model, *args, **kwargs))


fit.__doc__ = (fit_bayes.__doc__ or "").replace(
    "(the fields of a :class:`bdfm.results.FitResult`)", "; returns a :class:`FitResult`"
)
fit.__signature__ = inspect.signature(fit_bayes).replace(return_annotation="FitResult")
