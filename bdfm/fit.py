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

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bdfm.bayes import BayesSpec, build_pymc_model, make_bayes_spec, model_priors
from bdfm.diagnostics import Diagnostics, diagnose
from bdfm.dims import CHAIN, DRAW, FACTOR, SERIES, TIME, factor_labels
from bdfm.identification import rsp_align
from bdfm.init import identified_params, point_to_free
from bdfm.priors import priors_to_json
from bdfm.sampling import default_sampler, run_sampler
from bdfm.statespace.simsmoother import simulation_smoother

__all__ = ["FitResult", "assemble_idata", "fit_bayes", "prepare_bayes"]

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

    def save(self, path, overwrite: bool = False):
        """Write everything (posterior, factors, data, spec, priors, scaling) to netCDF.

        An existing file is never replaced unless ``overwrite=True``.
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


def _stack(post: xr.Dataset, name: str) -> np.ndarray:
    v = post[name]
    return v.values.reshape((-1, *v.shape[2:]))


def _align_rsp(post: xr.Dataset) -> xr.Dataset:
    """Rotate/sign/permute every draw's loadings and VAR to a common reference."""
    lam = _stack(post, "loadings")
    T = rsp_align(lam)
    n_chain, n_draw = post.sizes[CHAIN], post.sizes[DRAW]
    new_lam = np.einsum("dnk,dkj->dnj", lam, T)
    A = _stack(post, "factor_ar")
    new_A = np.einsum("dji,dljk,dkm->dlim", T, A, T)
    post = post.copy()
    post["loadings"] = (post["loadings"].dims, new_lam.reshape(post["loadings"].shape))
    post["factor_ar"] = (post["factor_ar"].dims, new_A.reshape((n_chain, n_draw, *A.shape[1:])))
    return post


def _pointwise_loglik(model, post: xr.Dataset) -> np.ndarray:
    names = model.param_names
    stacked = {n: _stack(post, n) for n in names}
    n = next(iter(stacked.values())).shape[0]
    out = np.empty((n, model.n_time))
    for d in range(n):
        out[d] = model._pointwise_fn(*[np.ascontiguousarray(stacked[k][d]) for k in names])
    return out.reshape(post.sizes[CHAIN], post.sizes[DRAW], model.n_time)


def _data_groups(model) -> dict[str, xr.Dataset]:
    panel = model.panel
    coords = {TIME: _time_index(model), SERIES: list(panel.columns)}
    original = panel.scaling.to_original(panel.values)
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
    draws = {n: _stack(post, n) for n in model.param_names}
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
    ll = _pointwise_loglik(model, post)
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
            "sampler": meta.get("sampler", ""),
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
    meta: dict = {"sampler": sampler}
    t0 = time.perf_counter()
    mle = model.fit_mle()
    meta["mle_s"] = time.perf_counter() - t0
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
    idata = assemble_idata(model, raw, bspec, resolved, random_seed, meta)
    result = FitResult(idata, model, bspec, resolved, meta)
    for warning in result.diagnostics().warnings:
        _log.warning(warning)
    return result
