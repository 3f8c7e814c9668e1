"""Bayesian fitting: build, initialise, sample, align, draw the factors, assemble the draws.

:func:`fit_bayes` is what ``DynamicFactorModel.fit`` runs (through :func:`bdfm.results.fit`):

1. a point estimate (maximum likelihood, or the posterior mode with ``init="map"``)
   rotated into the identified form — every chain starts there, without jitter;
2. NUTS with the chosen sampler (nutpie by default), one BLAS thread;
3. for ``identification="rsp"``, every draw rotated and sign/permutation-aligned;
4. the factors drawn by the simulation smoother for every parameter draw;
5. the pointwise log-likelihood over time, data, scaling, spec and priors stored
   in one :class:`arviz.InferenceData`.

It returns a :class:`SampledFit`; :func:`bdfm.results.fit` wraps it into a ``FitResult``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from importlib.metadata import PackageNotFoundError, version
from typing import NamedTuple

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bdfm.dims import CHAIN, DRAW, FACTOR, SERIES, TIME, factor_labels
from bdfm.draws import stack_draws
from bdfm.inference.diagnostics import diagnose
from bdfm.inference.gauge import flip_var, fold_anchor_signs
from bdfm.inference.identification import rsp_align
from bdfm.inference.mle import fit_mle, initial_params
from bdfm.inference.posterior_mode import find_map
from bdfm.inference.pymc_model import BayesSpec, build_pymc_model, make_bayes_spec, model_priors
from bdfm.inference.samplers import check_sampling_options, default_sampler, run_sampler
from bdfm.inference.start import frame_of, identified_params, point_to_free, split_frame
from bdfm.priors import priors_to_json
from bdfm.statespace.simsmoother import STREAM, simulation_smoother

__all__ = [
    "FORMAT_VERSION",
    "SampledFit",
    "assemble_idata",
    "build_model",
    "constant_counterpart",
    "derived_quantities",
    "fit_bayes",
    "fit_map",
    "key_vars",
    "pointwise_loglik",
    "prepare_bayes",
    "volatility_paths",
    "volatility_start",
]

_log = logging.getLogger(__name__)


def package_version() -> str:
    """The installed bdfm version (``0.0.0+unknown`` in an uninstalled source tree)."""
    try:
        return version("bdfm")
    except PackageNotFoundError:
        return "0.0.0+unknown"


KEY_VARS = (
    "loadings",
    "factor_ar",
    "idio_sd",
    "idio_ar",
    "loading_scale",
    "factor_sv_phi",
    "factor_sv_sd",
    "factor_garch_alpha",
    "factor_garch_beta",
    "factor_garch_gamma",
    "idio_garch_alpha",
    "idio_garch_beta",
    "idio_garch_gamma",
    "idio_sv_phi",
    "idio_sv_sd",
    "tails_nu",
)
FORMAT_VERSION = 1


class SampledFit(NamedTuple):
    """What :func:`fit_bayes` returns: the fields of a :class:`bdfm.results.FitResult`."""

    idata: az.InferenceData
    model: object
    bspec: BayesSpec
    priors: dict
    timings: dict


def key_vars(posterior: xr.Dataset, bspec: BayesSpec) -> list[str]:
    """The parameters summarised and diagnosed (aligned natural parameters)."""
    names = [v for v in KEY_VARS if v in posterior]
    if bspec.identification == "rsp":
        names = [v for v in names if v != "loading_scale"]  # unaligned under rsp
    return names


def build_model(model, priors=None, **options):
    """The PyMC model (named dims time/series/factor/lag) with the Kalman likelihood.

    Parameters
    ----------
    model : DynamicFactorModel
    priors : dict, optional
        Overrides by prior name (:class:`bdfm.Prior` or dicts); an unknown
        name is an error listing the valid ones. See :mod:`bdfm.priors`.
    **options
        ``loadings`` ("shrinkage" | "normal" | "horseshoe"), ``identification``
        ("lower_triangular" | "rsp"), ``anchors`` (one series per factor),
        ``groups`` ({series: group}), ``blocks`` ({series: [factors]}),
        ``dynamics`` ("var" | "diagonal"), ``gauge`` ("direct", the default here:
        generative, ``pm.draw`` works | "split": how :func:`fit_bayes` samples the same
        model, see :mod:`bdfm.inference.gauge`). See :mod:`bdfm.inference.pymc_model`.
    """
    return prepare_bayes(model, priors=priors, **options)[2]


def prepare_bayes(model, *, priors=None, reference_loadings=None, **options):
    """Resolve options and priors and build the PyMC model: ``(bspec, priors, pm_model)``."""
    if reference_loadings is None and options.get("gauge") == "split":
        reference_loadings = initial_params(model)["loadings"]
    bspec = make_bayes_spec(model, reference_loadings=reference_loadings, **options)
    frame = None
    if bspec.gauge == "split":
        frame = split_frame(reference_loadings, bspec)
        if frame is None:  # a reference without k clear columns: sample the loadings directly
            bspec = dataclasses.replace(bspec, gauge="direct")
    resolved = model_priors(model, bspec, priors)
    return bspec, resolved, build_pymc_model(model, bspec, resolved, frame)


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


def _fold_signs(post: xr.Dataset, bspec: BayesSpec) -> xr.Dataset:
    """Every draw to the half with positive anchor loadings (see :mod:`bdfm.inference.gauge`)."""
    lam, A, signs = fold_anchor_signs(
        post["loadings"].values, bspec.anchors, post["factor_ar"].values
    )
    if np.all(signs > 0):
        return post
    post = post.copy()
    post["loadings"] = (post["loadings"].dims, lam)
    post["factor_ar"] = (post["factor_ar"].dims, A)
    if bspec.dynamics == "var":
        raw = post["factor_ar_raw"]
        post["factor_ar_raw"] = (raw.dims, flip_var(raw.values, signs))
    if "group_loading_mean" in post:
        mean = post["group_loading_mean"].values * signs[:, :, None, :]
        post["group_loading_mean"] = (post["group_loading_mean"].dims, mean)
    return post


def pointwise_loglik(
    model, post: xr.Dataset, *, n_particles: int = 200, random_seed=None
) -> np.ndarray:
    """``log p(y_t | y_{1:t-1}, θ)`` in original units for every draw: (chain, draw, time).

    ``model`` gives the data (and its scaling); ``post`` the parameter draws, e.g. of a fit
    to a leading window of the same data (leave-future-out scoring). Exact (Kalman
    filter) for constant Gaussian specifications; with time-varying volatility or
    Student-t shocks a Rao–Blackwellised particle filter per draw
    (:meth:`bdfm.DynamicFactorModel.loglike_particle`, ``n_particles`` particles, one
    random stream seeded by ``random_seed``) marginalises the latent paths, so y_t is
    scored by the filter given y_{1:t-1} only, never by a path smoothed with y_t.
    """
    return _model_unit_loglik(model, post, n_particles, random_seed) + model.panel.log_jacobian()


def _model_unit_loglik(model, post: xr.Dataset, n_particles: int, random_seed) -> np.ndarray:
    names = model.param_names
    stacked = {n: stack_draws(post[n]) for n in names}
    n = next(iter(stacked.values())).shape[0]
    out = np.empty((n, model.n_time))
    if model.spec.constant_gaussian:
        for d in range(n):
            out[d] = model._pointwise_fn(*[np.ascontiguousarray(stacked[k][d]) for k in names])
    else:
        rng = np.random.default_rng(random_seed)
        for d in range(n):
            one = {k: stacked[k][d] for k in names}
            out[d] = model.loglike_particle(one, n_particles=n_particles, random_seed=rng).loglike
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

    post = raw.posterior
    if bspec.identification == "rsp":
        post = _align_rsp(post)
    elif bspec.gauge == "split":
        post = _fold_signs(post, bspec)
    # the factor draws' seed is always recorded (drawn here when none was given), so a
    # saved fit can leave out the factor arrays and the log-likelihood and rebuild them
    factor_seed = (
        random_seed + 1
        if random_seed is not None
        else int(np.random.SeedSequence().entropy % 2**62)
    )
    t0 = time.perf_counter()
    post = post.assign_coords(
        {TIME: _time_index(model), FACTOR: factor_labels(model.spec.n_factors)}
    )
    post, log_lik = derived_quantities(model, post, factor_seed)
    meta["factors_s"] = time.perf_counter() - t0  # factor draws and log-likelihood, one pass
    groups = {"posterior": post, **_data_groups(model)}
    if log_lik is not None:
        groups["log_likelihood"] = log_lik
    # With volatility paths there is no log_likelihood group: the pointwise density given
    # a path smoothed with y_t would score y_t with itself (and PSIS-LOO over time is not
    # valid for latent paths); the honest p(y_t | y_{1:t-1}) is the particle filter's
    # (DynamicFactorModel.loglike_particle).
    if "sample_stats" in raw:
        groups["sample_stats"] = raw.sample_stats
    idata = az.InferenceData(**groups)
    idata.attrs.update(
        {
            "bdfm_format": FORMAT_VERSION,
            "bdfm_version": package_version(),
            "spec": model.spec.to_json(),
            "bayes_spec": bspec.to_json(),
            "priors": priors_to_json(priors),
            "random_seed": -1 if random_seed is None else int(random_seed),
            "factor_seed": int(factor_seed),
            "factor_stream": STREAM,
            "scaling_given": int(model.scaling_given),
            "sampler": meta.get("sampler", ""),
            "tune": int(meta.get("tune", -1)),
            "timings": str({k: round(v, 3) for k, v in meta.items() if k.endswith("_s")}),
        }
    )
    return idata


def derived_quantities(
    model, post: xr.Dataset, factor_seed: int, stream: int = STREAM
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The factor draws, their smoothed means and the pointwise log-likelihood of a posterior.

    Deterministic given the parameter draws in ``post`` (with ``time`` and ``factor``
    coordinates), the data, ``factor_seed`` and the simulation smoother's random
    ``stream`` version (recorded as ``factor_stream``): :func:`bdfm.io.load` rebuilds
    what a compact save left out with them.

    Returns
    -------
    post : ``post`` with ``factors`` and ``factors_smoothed`` (chain, draw, time, factor).
    log_likelihood : Dataset with ``y`` (chain, draw, time), or None for models with
        latent volatility paths (no honest pointwise density is stored for them).
    """
    k = model.spec.n_factors
    draws = {n: stack_draws(post[n]) for n in model.param_names}
    draws |= volatility_paths(post, k, model.n_series)
    exact = model.spec.constant_gaussian
    # the pointwise log-likelihood comes from the smoother's own filter pass (exact for the
    # constant Gaussian model; with volatility paths there is none to store, see below)
    factors, smoothed, *ll = simulation_smoother(
        model.panel.filled,
        model.panel.mask,
        draws,
        model.spec.n_state_lags,
        random_seed=factor_seed,
        stream=stream,
        with_loglik=exact,
    )
    shape = (post.sizes[CHAIN], post.sizes[DRAW], model.n_time, k)
    fdims = (CHAIN, DRAW, TIME, FACTOR)
    post = post.copy()
    post["factors"] = (fdims, factors.reshape(shape))
    post["factors_smoothed"] = (fdims, smoothed.reshape(shape))
    if not exact:
        return post, None
    # in the units of observed_data (original units), so fits with different scalings compare
    ll = ll[0].reshape(shape[:3]) + model.panel.log_jacobian()
    log_lik = xr.Dataset(
        {"y": ((CHAIN, DRAW, TIME), ll)},
        coords={CHAIN: post[CHAIN], DRAW: post[DRAW], TIME: post[TIME]},
    )
    return post, log_lik


def volatility_paths(post: xr.Dataset, k: int, n_series: int) -> dict[str, np.ndarray]:
    """Per-draw ``factor_var`` (D, T, k) and ``obs_scale`` (D, T, N) of a posterior.

    ``exp(factor_log_var) / tail_scale`` and ``exp(idio_log_var) / tail_scale`` (a common
    path broadcast over the series); the keys of a constant-variance Gaussian posterior
    are absent (an empty dict).
    """
    lam = stack_draws(post["tail_scale"]) if "tail_scale" in post else None  # (D, T)
    out = {}
    if "factor_log_var" in post or lam is not None:
        fv = np.exp(stack_draws(post["factor_log_var"])) if "factor_log_var" in post else 1.0
        out["factor_var"] = fv / (1.0 if lam is None else lam[..., None])
    if "idio_log_var" in post or lam is not None:
        if "idio_log_var" in post:
            g = np.exp(stack_draws(post["idio_log_var"]))
            sc = g[..., None] if g.ndim == 2 else g
        else:
            sc = 1.0
        out["obs_scale"] = sc / (1.0 if lam is None else lam[..., None])
    if not out:
        return {}
    n_draws = post.sizes[CHAIN] * post.sizes[DRAW]
    n_time = post.sizes[TIME]
    shapes = {"factor_var": (n_draws, n_time, k), "obs_scale": (n_draws, n_time, n_series)}
    return {
        name: np.ascontiguousarray(np.broadcast_to(value, shapes[name]))
        for name, value in out.items()
    }


def _garch_start(part: str, size: int) -> dict[str, np.ndarray]:
    values = {"persistence": 0.95, "share": 0.1, "leverage": 0.2}
    return {f"{part}_garch_{name}": np.full(size, v) for name, v in values.items()}


def volatility_start(spec, n_time: int, n_series: int) -> dict[str, np.ndarray]:
    """Starting values of the volatility variables.

    Flat SV paths with persistence 0.9 and sd 0.2; GARCH persistence 0.95, news share
    0.1 and leverage share 0.2 (α = 0.076, γ = 0.038, β = 0.855); ν = 10.
    """
    k = spec.n_factors
    out: dict[str, np.ndarray] = {}
    if spec.factor_volatility == "sv":
        out |= {
            "factor_sv_phi": np.full(k, 0.9),
            "factor_sv_sd": np.full(k, 0.2),
            "factor_sv_z": np.zeros((n_time, k)),
        }
    elif spec.factor_volatility == "garch":
        out |= _garch_start("factor", k)
    if spec.idio_volatility == "garch":
        out |= _garch_start("idio", n_series)
    if spec.idio_volatility == "common_sv":
        out |= {
            "idio_sv_phi": np.array(0.9),
            "idio_sv_sd": np.array(0.2),
            "idio_sv_z": np.zeros(n_time),
        }
    elif spec.idio_volatility == "sv":
        out |= {
            "idio_sv_phi": np.full(n_series, 0.9),
            "idio_sv_sd": np.full(n_series, 0.2),
            "idio_sv_z": np.zeros((n_time, n_series)),
        }
    if spec.tails == "student_t":
        out |= {"tails_nu_excess": np.array(8.0), "tail_scale": np.ones(n_time)}
    return out


def constant_counterpart(model):
    """The constant-variance Gaussian model of the same data, scaling and structure."""
    if model.spec.constant_gaussian:
        return model
    spec, panel = model.spec, model.panel
    data = pd.DataFrame(panel.original, index=panel.index, columns=panel.columns)
    return type(model)(
        data,
        n_factors=spec.n_factors,
        factor_order=spec.factor_order,
        idiosyncratic=spec.idiosyncratic,
        standardize=spec.standardize,
        scaling=panel.scaling if model.scaling_given else None,
    )


def fit_bayes(
    model,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    sampler: str | None = None,
    random_seed: int | None = None,
    progressbar: bool = True,
    *,
    priors=None,
    init: str = "mle",
    loadings: str = "shrinkage",
    identification: str = "lower_triangular",
    anchors=None,
    groups=None,
    blocks=None,
    dynamics: str = "var",
    gauge: str = "split",
    initvals: dict | None = None,
    **sampler_kwargs,
) -> SampledFit:
    """Sample the posterior by NUTS (the fields of a :class:`bdfm.results.FitResult`).

    Parameters
    ----------
    model : DynamicFactorModel
    draws, tune, chains : int
        Draws kept and tuning steps per chain, number of chains.
    sampler : {"nutpie", "pymc", "numpyro", "blackjax"}, optional
        Default: the fastest installed (nutpie, else PyMC). Optional
        samplers raise an ImportError naming the extra to install.
    random_seed : int, optional
    progressbar : bool
    priors : dict, optional
        Overrides by prior name; see :func:`build_model`.
    init : {"mle", "map"}
        The start of every chain (maximum likelihood or posterior mode), rotated
        into the identified form, no jitter.
    loadings, identification, anchors, groups, blocks, dynamics
        The structure options of :func:`build_model`.
    gauge : {"split", "direct"}
        How NUTS sees the loadings; the model is the same. ``"split"`` (default)
        gives the factor scales and the shears the anchors allow their own
        coordinates (:mod:`bdfm.inference.gauge`): at (200, 1000, 5) it tripled the
        ESS per second (``docs/benchmarks.md``). ``"direct"`` samples the loadings.
    initvals : dict, optional
        Explicit start: constrained values by variable name, or one dict per
        chain with ``sampler="pymc"``.
    **sampler_kwargs
        Keyword arguments for the sampler.

    Raises
    ------
    ValueError
        Before any work: ``draws`` or ``chains`` not an integer >= 1, ``tune`` not
        an integer >= 0, an unknown sampler or ``init``.
    ImportError
        The sampler's optional dependency is not installed.
    KeyboardInterrupt
        Ctrl-C, also one the sampler catches (nothing partial is returned).
    """
    sampler = sampler or default_sampler()
    check_sampling_options(draws, tune, chains, sampler)
    if init not in ("mle", "map"):
        raise ValueError(f"init must be 'mle' or 'map', got {init!r}")
    meta: dict = {"sampler": sampler, "tune": tune}
    _log.info("starting point: maximum likelihood (compiles the likelihood on first use) ...")
    t0 = time.perf_counter()
    if init == "map" and not model.spec.constant_gaussian:
        raise ValueError(
            "init='map' is for constant-variance Gaussian models: with volatility paths the "
            "joint posterior mode is degenerate; use init='mle' (the default)"
        )
    mle = fit_mle(constant_counterpart(model))
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
        gauge=gauge,
    )
    start = point_to_free(
        identified_params(mle.params, bspec),
        bspec,
        model.spec.idiosyncratic,
        frame=frame_of(pm_model, bspec),
    )
    start |= volatility_start(model.spec, model.n_time, model.n_series)
    if init == "map":
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
    for warning in diagnose(idata, key_vars(idata.posterior, bspec)).warnings:
        _log.warning(warning)
    return SampledFit(idata, model, bspec, resolved, meta)


def fit_map(model, priors=None, maxiter: int = 2000, **options):
    """Posterior mode by L-BFGS (quick look, or a start for the samplers).

    Starts from the principal-component estimate rotated into the identified
    form. Returns a :class:`bdfm.inference.posterior_mode.MAPResult` (``params``
    in model units). ``priors`` and ``**options`` are those of :func:`build_model`.
    Constant-variance Gaussian models only (with volatility paths the joint mode is
    degenerate).
    """
    if not model.spec.constant_gaussian:
        raise ValueError(
            "fit_map is for constant-variance Gaussian models: with factor_volatility, "
            "idio_volatility or tails set, the posterior mode over the latent paths is "
            "degenerate; use fit() (NUTS)"
        )
    start = initial_params(model)
    bspec, _, pm_model = prepare_bayes(
        model, priors=priors, reference_loadings=start["loadings"], **options
    )
    free = point_to_free(identified_params(start, bspec), bspec, model.spec.idiosyncratic)
    return find_map(pm_model, free, model.spec.idiosyncratic, model.n_obs, maxiter=maxiter)
