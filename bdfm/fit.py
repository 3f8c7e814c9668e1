"""Bayesian fitting: build, initialise, sample, align, draw the factors, assemble the result.

:func:`fit_bayes` is what ``DynamicFactorModel.fit`` runs:

1. a point estimate (maximum likelihood, or the posterior mode with ``init="map"``)
   rotated into the identified form — every chain starts there, without jitter;
2. NUTS with the chosen sampler (nutpie by default), one BLAS thread;
3. for ``identification="rsp"``, every draw rotated and sign/permutation-aligned;
4. the factors drawn by the simulation smoother for every parameter draw;
5. the pointwise log-likelihood over time, data, scaling, spec and priors stored
   in one :class:`arviz.InferenceData`, wrapped by :class:`FitResult`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bdfm.bayes import BayesSpec, build_pymc_model, make_bayes_spec, model_priors
from bdfm.diagnostics import Diagnostics, diagnose
from bdfm.dims import CHAIN, DRAW, FACTOR, SERIES, TIME, factor_labels
from bdfm.forecast import Forecast, forecast_fit, stack_draws
from bdfm.identification import rsp_align
from bdfm.init import identified_params, point_to_free
from bdfm.priors import priors_to_json
from bdfm.sampling import default_sampler, run_sampler
from bdfm.statespace.simsmoother import simulation_smoother

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping
    from pathlib import Path

    from matplotlib.figure import Figure

    from bdfm.risk import RiskResult

__all__ = ["FitResult", "assemble_idata", "fit_bayes", "pointwise_loglik", "prepare_bayes"]

_log = logging.getLogger(__name__)

KEY_VARS = ("loadings", "factor_ar", "idio_sd", "idio_ar", "loading_scale")
FORMAT_VERSION = 1


@dataclass
class FitResult:
    """A Bayesian fit: ``idata`` (ArviZ InferenceData) plus the model it came from."""

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
        names = [v for v in KEY_VARS if v in self.posterior]
        if self.bspec.identification == "rsp":
            names = [v for v in names if v != "loading_scale"]  # unaligned under rsp
        return names

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

    def forecast(
        self, steps: int = 1, include_factors: bool = True, random_seed: int | None = None
    ) -> Forecast:
        """Posterior predictive draws of every series (and the factors) ``steps`` ahead.

        Each posterior draw continues its own joint smoother path of the factors;
        AR(1) errors restart from each series' last observation (ragged edges are
        carried forward with their AR(1) noise), values missing at the end of the
        sample are nowcast. Draws are in original units; the dates continue the
        index at its inferred frequency (business days for daily data whose
        frequency cannot be inferred). See :mod:`bdfm.forecast`.

        Parameters
        ----------
        steps : int
            Forecast horizon (>= 1).
        include_factors : bool
            Also return the factor draws.
        random_seed : int, optional
            Seed of the forward simulation.

        Returns
        -------
        bdfm.forecast.Forecast
            ``.draws`` (y, factors), ``.nowcast``, ``.summary(prob)``, ``.quantiles(q)``.
        """
        return forecast_fit(self, steps, include_factors=include_factors, random_seed=random_seed)

    def covariance(self, horizon: int = 1, conditional: bool = True) -> xr.DataArray:
        """Posterior draws of the covariance of the series, in ORIGINAL units.

        ``conditional=True``: ``Var(y_{T+h} | y_{1:T}, θ) = Λ Var(f_{T+h}|y) Λ' +
        Λ Cov(f, u) + Cov(u, f) Λ' + Var(u_{T+h}|y)`` (the f/u covariance is non-zero
        only with AR(1) errors). ``conditional=False``: the stationary
        ``Λ Σ_f Λ' + diag(σ²/(1-ρ²))``. Entry (i, j) is scaled by ``scale_i scale_j``.

        Parameters
        ----------
        horizon : int
            Steps ahead of the last date (conditional only).
        conditional : bool
            Given the data to T (default), or the stationary distribution.

        Returns
        -------
        xarray.DataArray
            Dims (chain, draw, series, series_to).
        """
        from bdfm.risk import covariance_fit

        return covariance_fit(self, horizon, conditional)

    def risk(
        self,
        weights: pd.Series | Mapping | np.ndarray | pd.DataFrame,
        alpha: float | tuple[float, ...] = (0.95, 0.99),
        horizon: int = 1,
        method: str = "gaussian",
        n_sims: int = 2000,
        conditional: bool = True,
        random_seed: int | None = None,
    ) -> RiskResult:
        """Posterior volatility, VaR, ES and Euler risk contributions of portfolios.

        Parameters
        ----------
        weights : Series, dict, array or DataFrame
            Weights on the original series: one portfolio (Series/dict by series
            name, or an (N,) array), or several (DataFrame with one row per
            portfolio and one column per series). Mismatching series raise a
            ValueError naming them.
        alpha : float or sequence
            Confidence levels; VaR and ES are positive losses.
        horizon : int
            Risk of the return at date T + horizon (a single-period return).
        method : {"gaussian", "simulation"}
            Closed form per draw, or ``n_sims`` simulated returns per draw.
        n_sims : int
            Simulated returns per draw (``method="simulation"``, at least 100).
        conditional : bool
            Given the data to T (default), or the stationary distribution.
        random_seed : int, optional
            Seed of the simulation.

        Returns
        -------
        bdfm.risk.RiskResult
        """
        from bdfm.risk import risk_fit

        return risk_fit(self, weights, alpha, horizon, method, n_sims, conditional, random_seed)

    def variance_decomposition(self) -> xr.DataArray:
        """Shares of each series' unconditional variance by source (chain, draw, series, source).

        Sources are the factors' shocks then ``idiosyncratic``; shares sum to 1.
        Summarise with :func:`bdfm.forecast.summarize_draws`.
        """
        from bdfm.risk import variance_decomposition_fit

        return variance_decomposition_fit(self)

    def plot_data_overview(self, **kwargs) -> Figure:
        """The series over time and a picture of the missing values; see :mod:`bdfm.plots`."""
        from bdfm.plots import plot_data_overview

        return plot_data_overview(self, **kwargs)

    def plot_factors(self, **kwargs) -> Figure:
        """Posterior factors with credible bands (a matplotlib Figure); see :mod:`bdfm.plots`."""
        from bdfm.plots import plot_factors

        return plot_factors(self, **kwargs)

    def plot_loadings(self, **kwargs) -> Figure:
        """Heatmaps of the posterior mean loadings and their interval widths."""
        from bdfm.plots import plot_loadings

        return plot_loadings(self, **kwargs)

    def plot_variance_decomposition(
        self, decomposition: xr.DataArray | None = None, **kwargs
    ) -> Figure:
        """Stacked bars of each series' variance shares by source."""
        from bdfm.plots import plot_variance_decomposition

        return plot_variance_decomposition(self, decomposition, **kwargs)

    def plot_impulse_responses(self, **kwargs) -> Figure:
        """Impulse responses of the factors and the persistence of the factor VAR."""
        from bdfm.plots import plot_impulse_responses

        return plot_impulse_responses(self, **kwargs)

    def plot_forecast(self, forecast: Forecast | None = None, **kwargs) -> Figure:
        """Fan charts of the forecasts of a few series."""
        from bdfm.plots import plot_forecast

        return plot_forecast(self, forecast, **kwargs)

    def plot_risk(self, risk: RiskResult | None = None, **kwargs) -> Figure:
        """Posterior volatility, VaR and ES of a portfolio and its risk by source."""
        from bdfm.plots import plot_risk

        return plot_risk(self, risk, **kwargs)

    def report(self, path: str | os.PathLike | None = None, **kwargs) -> str | Path:
        """Self-contained HTML report of the fit; see :func:`bdfm.report.build_report`."""
        from bdfm.report import build_report

        return build_report(self, path, **kwargs)

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write everything (posterior, factors, data, spec, priors, scaling) to netCDF.

        An existing file is never replaced unless ``overwrite=True``; see
        :func:`bdfm.io.save`.
        """
        from bdfm.io import save

        return save(self, path, overwrite=overwrite)

    def __repr__(self) -> str:
        p = self.posterior
        return (
            f"FitResult({self.model!r}, chains={p.sizes[CHAIN]}, draws={p.sizes[DRAW]}, "
            f"identification={self.bspec.identification!r}, loadings={self.bspec.loadings!r})"
        )


def prepare_bayes(model, *, priors=None, reference_loadings=None, **options):
    """Resolve options and priors and build the PyMC model: ``(bspec, priors, pm_model)``."""
    bspec = make_bayes_spec(model, reference_loadings=reference_loadings, **options)
    resolved = model_priors(model, bspec, priors)
    return bspec, resolved, build_pymc_model(model, bspec, resolved)


def _time_index(model) -> pd.DatetimeIndex:
    # named after the dim: an index named otherwise (e.g. "date") is written to netCDF
    # as a coordinate on a different dimension and comes back detached
    return pd.DatetimeIndex(model.panel.index, name=TIME)


def _align_rsp(post: xr.Dataset) -> xr.Dataset:
    """Rotate/sign/permute every draw's loadings and VAR to a common reference."""
    lam = stack_draws(post["loadings"])
    T = rsp_align(lam)
    n_chain, n_draw = post.sizes[CHAIN], post.sizes[DRAW]
    new_lam = np.einsum("dnk,dkj->dnj", lam, T)
    A = stack_draws(post["factor_ar"])
    new_A = np.einsum("dji,dljk,dkm->dlim", T, A, T)
    post = post.copy()
    post["loadings"] = (post["loadings"].dims, new_lam.reshape(post["loadings"].shape))
    post["factor_ar"] = (post["factor_ar"].dims, new_A.reshape((n_chain, n_draw, *A.shape[1:])))
    return post


def pointwise_loglik(model, post: xr.Dataset) -> np.ndarray:
    """``log p(y_t | y_{1:t-1}, θ)`` in original units for every draw: (chain, draw, time).

    ``model`` gives the data (and its scaling); ``post`` the parameter draws, e.g. of a fit
    to a leading window of the same data (leave-future-out scoring).
    """
    return _model_unit_loglik(model, post) + model.panel.log_jacobian()


def _model_unit_loglik(model, post: xr.Dataset) -> np.ndarray:
    names = model.param_names
    stacked = {n: stack_draws(post[n]) for n in names}
    n = next(iter(stacked.values())).shape[0]
    out = np.empty((n, model.n_time))
    for d in range(n):
        out[d] = model._pointwise_fn(*[np.ascontiguousarray(stacked[k][d]) for k in names])
    return out.reshape(post.sizes[CHAIN], post.sizes[DRAW], model.n_time)


def _data_groups(model) -> dict[str, xr.Dataset]:
    panel = model.panel
    coords = {TIME: _time_index(model), SERIES: list(panel.columns)}
    original = panel.original  # bit for bit as given (not mean + scale * standardised)
    observed = xr.Dataset({"y": ((TIME, SERIES), original)}, coords=coords)
    constant = xr.Dataset(
        {
            "mask": ((TIME, SERIES), panel.mask.astype(np.int8)),
            "scaling_mean": ((SERIES,), panel.scaling.mean),
            "scaling_scale": ((SERIES,), panel.scaling.scale),
        },
        coords=coords,
    )
    return {"observed_data": observed, "constant_data": constant}


def assemble_idata(
    model, raw: az.InferenceData, bspec, priors, random_seed, meta
) -> az.InferenceData:
    """Posterior (aligned, with factors), log-likelihood, data and attrs in one InferenceData."""
    import bdfm

    post = raw.posterior
    if bspec.identification == "rsp":
        post = _align_rsp(post)
    k = model.spec.n_factors
    draws = {n: stack_draws(post[n]) for n in model.param_names}
    t0 = time.perf_counter()
    factors, smoothed = simulation_smoother(
        model.panel.filled,
        model.panel.mask,
        draws,
        model.spec.n_state_lags,
        random_seed=None if random_seed is None else random_seed + 1,
    )
    meta["factors_s"] = time.perf_counter() - t0
    shape = (post.sizes[CHAIN], post.sizes[DRAW], model.n_time, k)
    fdims = (CHAIN, DRAW, TIME, FACTOR)
    post = post.assign_coords({TIME: _time_index(model), FACTOR: factor_labels(k)})
    post["factors"] = (fdims, factors.reshape(shape))
    post["factors_smoothed"] = (fdims, smoothed.reshape(shape))
    t0 = time.perf_counter()
    # in the units of observed_data (original units), so fits with different scalings compare
    ll = pointwise_loglik(model, post)
    meta["log_likelihood_s"] = time.perf_counter() - t0
    log_lik = xr.Dataset(
        {"y": ((CHAIN, DRAW, TIME), ll)},
        coords={CHAIN: post[CHAIN], DRAW: post[DRAW], TIME: _time_index(model)},
    )
    groups = {"posterior": post, "log_likelihood": log_lik, **_data_groups(model)}
    if "sample_stats" in raw:
        groups["sample_stats"] = raw.sample_stats
    idata = az.InferenceData(**groups)
    idata.attrs.update(
        {
            "bdfm_format": FORMAT_VERSION,
            "bdfm_version": bdfm.__version__,
            "spec": model.spec.to_json(),
            "bayes_spec": bspec.to_json(),
            "priors": priors_to_json(priors),
            "random_seed": -1 if random_seed is None else int(random_seed),
            "scaling_given": int(model.scaling_given),
            "sampler": meta.get("sampler", ""),
            "tune": int(meta.get("tune", -1)),
            "timings": str({k: round(v, 3) for k, v in meta.items() if k.endswith("_s")}),
        }
    )
    return idata


def fit_bayes(
    model,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    sampler: str | None = None,
    random_seed: int | None = None,
    progressbar: bool = True,
    priors=None,
    init: str = "mle",
    loadings: str = "shrinkage",
    identification: str = "lower_triangular",
    anchors=None,
    groups=None,
    blocks=None,
    dynamics: str = "var",
    initvals: dict | None = None,
    **sampler_kwargs,
) -> FitResult:
    """Fit by NUTS; see :meth:`bdfm.DynamicFactorModel.fit`."""
    sampler = sampler or default_sampler()
    if init not in ("mle", "map"):
        raise ValueError(f"init must be 'mle' or 'map', got {init!r}")
    meta: dict = {"sampler": sampler, "tune": tune}
    _log.info("starting point: maximum likelihood (compiles the likelihood on first use) ...")
    t0 = time.perf_counter()
    mle = model.fit_mle()
    meta["mle_s"] = time.perf_counter() - t0
    _log.info("maximum likelihood found in %.1f s", meta["mle_s"])
    bspec, resolved, pm_model = prepare_bayes(
        model,
        priors=priors,
        reference_loadings=mle.params["loadings"],
        loadings=loadings,
        identification=identification,
        anchors=anchors,
        groups=groups,
        blocks=blocks,
        dynamics=dynamics,
    )
    start = point_to_free(identified_params(mle.params, bspec), bspec, model.spec.idiosyncratic)
    if init == "map":
        from bdfm.map import find_map

        t0 = time.perf_counter()
        start = find_map(pm_model, start, model.spec.idiosyncratic, model.n_obs).point
        meta["map_s"] = time.perf_counter() - t0
    _log.info(
        "sampling with %s: %d chains x (%d tune + %d draws)%s",
        sampler,
        chains,
        tune,
        draws,
        "; compiling the model first (15-40 s for a new data set)" if sampler == "nutpie" else "",
    )
    raw, timings = run_sampler(
        pm_model,
        sampler,
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        progressbar=progressbar,
        initvals=initvals if initvals is not None else start,
        **sampler_kwargs,
    )
    meta.update(timings)
    _log.info(
        "sampled in %.1f s; drawing the factors (simulation smoother) ...",
        timings.get("sample_s", 0.0),
    )
    idata = assemble_idata(model, raw, bspec, resolved, random_seed, meta)
    result = FitResult(idata, model, bspec, resolved, meta)
    for warning in result.diagnostics().warnings:
        _log.warning(warning)
    return result
