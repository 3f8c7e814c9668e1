r"""Posterior risk: covariance, portfolio volatility, VaR, expected shortfall, contributions.

Every quantity is a posterior distribution: one value per parameter draw. The
numerics are plain-array functions (:func:`portfolio_sources`,
:func:`euler_contributions`, :func:`gaussian_var_es`, :func:`empirical_var_es`,
:func:`variance_shares`); the ``*_fit`` functions wrap them for a
:class:`~bdfm.results.FitResult` and label the result with xarray dims.

**Units.** Covariances, volatilities, VaR and ES are in the *original* units of
the data (the standardisation is undone: ``Σ_ij`` is scaled by ``scale_i scale_j``
and the series means are added back), and portfolio weights apply to the
original series: the portfolio return is ``r = w'y``.

**Sources.** With ``β = Λ'w`` the portfolio's factor exposures,
``r = w'μ + β'f + w'u`` and the risk sources are ``x = (f_1, …, f_k, w'u)`` with
exposures ``b = (β, 1)``; ``σ_p² = b'Var(x) b``. The Euler contribution of source j is
``b_j (Var(x) b)_j / σ_p`` and the contributions sum to σ_p exactly (with correlated
factors, or the conditional f/u covariance of AR(1) errors, a contribution can be
negative).

**VaR and ES** are reported as positive losses: with ``z = Φ^{-1}(α)``,
``VaR_α = -μ_p + z σ_p`` and ``ES_α = -μ_p + σ_p φ(z) / (1 - α)`` per draw
(``method="gaussian"``, exact given θ because the model is Gaussian), or from
``n_sims`` simulated returns per draw (``method="simulation"``: the empirical
quantile and tail mean of draws from the same predictive distribution — a Monte
Carlo check of the closed form, also giving simulation-based contributions).

**Volatility models** (SV, Student-t). ``conditional=True``: each draw keeps its
in-sample volatility path (a draw given ``y_{1:T}``), continues it to ``T+h``
(:func:`~bdfm.posterior.forecast.continue_volatility`, seeded by ``random_seed`` with
``forecast_fit``'s stream) and is Gaussian given θ_d and that path; the mixture over
draws is the posterior predictive. So a draw's VaR/ES is given θ_d *and* its simulated
future variances (one per draw): their spread carries both uncertainties, and the VaR of
the pooled predictive is not the mean of the per-draw VaRs. ``conditional=False``:
the exact second moments, with the stationary mean variances
(:func:`~bdfm.posterior.forecast.stationary_volatility`); that law is not Gaussian, so
:func:`risk_fit` refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import norm

from bdfm.dims import (
    ALPHA,
    CHAIN,
    DRAW,
    PORTFOLIO,
    SERIES,
    SERIES_TO,
    SOURCE,
    source_labels,
)
from bdfm.posterior.forecast import (
    continue_volatility,
    posterior_draws,
    stationary_volatility,
    summarize_draws,
)
from bdfm.posterior.moments import (
    Moments,
    idio_ar,
    predictive_moments,
    stationary_state_cov,
    unconditional_moments,
)

if TYPE_CHECKING:
    from bdfm.results import FitResult

__all__ = [
    "RiskResult",
    "confidence_levels",
    "covariance_fit",
    "empirical_var_es",
    "euler_contributions",
    "fit_moments",
    "gaussian_var_es",
    "parse_weights",
    "portfolio_sources",
    "risk_fit",
    "variance_decomposition_fit",
    "variance_shares",
]

METHODS = ("gaussian", "simulation")
DEFAULT_PORTFOLIO = "portfolio"


# ---------------------------------------------------------------------------- weights
def _mismatch(given: pd.Index, series: pd.Index) -> str:
    missing = [str(s) for s in series if s not in given]
    extra = [str(s) for s in given if s not in series]
    parts = []
    if missing:
        parts.append(f"missing series {missing}")
    if extra:
        parts.append(f"unknown series {extra}")
    return "; ".join(parts)


Weights = pd.Series | pd.DataFrame | Mapping | np.ndarray | Sequence[float]


def parse_weights(weights: Weights, series: Sequence) -> pd.DataFrame:
    """Portfolio weights as a DataFrame (portfolios x series, columns in model order).

    Parameters
    ----------
    weights : Series, dict, 1-D/2-D array or DataFrame
        One portfolio: a Series or dict indexed by series name (named by the
        Series' ``name``, else ``"portfolio"``), or an array of length N in the
        model's series order. Several portfolios: a DataFrame with one *row* per
        portfolio and one column per series, or a 2-D array (P, N).
    series : the model's series names.

    Raises
    ------
    ValueError
        If the series do not match (naming the missing and unknown ones), a
        DataFrame is given series x portfolios, shapes disagree, or a weight is
        not finite.
    """
    series = pd.Index(series)
    if isinstance(weights, Mapping) and not isinstance(weights, pd.Series):
        weights = pd.Series(weights, dtype=float)
    if isinstance(weights, pd.Series):
        name = DEFAULT_PORTFOLIO if weights.name is None else weights.name
        weights = weights.to_frame(name=name).T
    if isinstance(weights, pd.DataFrame):
        cols = pd.Index(weights.columns)
        if set(cols) != set(series) or len(cols) != len(series):
            if set(weights.index) == set(series):
                raise ValueError(
                    "weights DataFrame has the series as rows; pass one row per portfolio "
                    "and one column per series (use weights.T)"
                )
            raise ValueError(f"weights do not match the model's series: {_mismatch(cols, series)}")
        frame = weights.loc[:, list(series)].astype(float)
    else:
        arr = np.asarray(weights, dtype=float)
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] != len(series):
            raise ValueError(
                f"weights of shape {np.shape(weights)} do not fit {len(series)} series; give "
                "(N,) or (portfolios, N), or a Series/DataFrame labelled by series"
            )
        labels = (
            [DEFAULT_PORTFOLIO]
            if arr.shape[0] == 1
            else [f"{DEFAULT_PORTFOLIO}{i + 1}" for i in range(arr.shape[0])]
        )
        frame = pd.DataFrame(arr, index=labels, columns=series)
    bad = ~np.isfinite(frame.to_numpy())
    if bad.any():
        rows, cols = np.nonzero(bad)
        where = [f"{frame.index[r]}/{frame.columns[c]}" for r, c in zip(rows, cols, strict=True)]
        raise ValueError(f"weights must be finite; not so for {where[:5]}")
    frame.index.name = PORTFOLIO
    frame.columns.name = SERIES
    return frame


# ---------------------------------------------------------------------------- numerics
def portfolio_sources(
    mom: Moments, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, exposures and source covariance of portfolio returns ``w'y``.

    Parameters
    ----------
    mom : :class:`~bdfm.posterior.moments.Moments` with a leading draw axis D.
    weights : (P, N) portfolio weights.

    Returns
    -------
    mean : (D, P) expected return.
    exposures : (D, P, k + 1) ``b = (Λ'w, 1)``.
    source_cov : (D, P, k + 1, k + 1) covariance of ``x = (f, w'u)``.
    """
    w = np.asarray(weights, dtype=float)
    beta = np.einsum("dnk,pn->dpk", mom.loadings, w)
    mean = np.einsum("dn,pn->dp", mom.mean(), w)
    D, P, k = beta.shape
    gz = np.einsum("pn,dnz->dpz", w, mom.u_gain)  # w'u = w'u_mean + gz z + w'e
    fz = mom.f_gain @ mom.z_cov  # (D, k, z)
    cov = np.empty((D, P, k + 1, k + 1))
    cov[:, :, :k, :k] = mom.factor_cov()[:, None]
    cross = np.einsum("dkz,dpz->dpk", fz, gz)
    cov[:, :, :k, k] = cross
    cov[:, :, k, :k] = cross
    cov[:, :, k, k] = np.einsum("dpz,dzy,dpy->dp", gz, mom.z_cov, gz) + np.einsum(
        "dn,pn->dp", mom.e_var, w**2
    )
    exposures = np.concatenate([beta, np.ones((D, P, 1))], axis=-1)
    return mean, exposures, cov


def euler_contributions(
    exposures: np.ndarray, source_cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Volatility ``sqrt(b'Σb)`` and Euler contributions ``b_j (Σb)_j / σ`` (sum = σ).

    Parameters
    ----------
    exposures : (..., S); source_cov : (..., S, S).

    Returns
    -------
    vol : (...); contributions : (..., S).
    """
    sb = np.einsum("...ij,...j->...i", source_cov, exposures)
    var = np.einsum("...i,...i->...", exposures, sb)
    vol = np.sqrt(var)
    return vol, exposures * sb / vol[..., None]


def confidence_levels(alpha: float | Sequence[float]) -> np.ndarray:
    """``alpha`` as a 1-D float array, checked to lie in (0, 1).

    Raises
    ------
    ValueError
        If a level is not strictly between 0 and 1.
    """
    a = np.atleast_1d(np.asarray(alpha, dtype=float))
    if a.ndim != 1 or not np.all((a > 0) & (a < 1)):
        raise ValueError(f"alpha must be confidence levels in (0, 1), got {alpha!r}")
    return a


def gaussian_var_es(
    mean: np.ndarray, vol: np.ndarray, alpha: float | Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES (positive losses) of N(mean, vol²) returns at levels ``alpha``.

    ``VaR = -mean + z vol``, ``ES = -mean + vol φ(z) / (1 - α)``, ``z = Φ^{-1}(α)``.

    Parameters
    ----------
    mean, vol : (...) means and standard deviations of the returns.
    alpha : confidence level(s).

    Returns
    -------
    var, es : (..., len(alpha)).
    """
    a = confidence_levels(alpha)
    z = norm.ppf(a)
    mean = np.asarray(mean, dtype=float)[..., None]
    vol = np.asarray(vol, dtype=float)[..., None]
    return -mean + z * vol, -mean + vol * norm.pdf(z) / (1 - a)


def empirical_var_es(
    returns: np.ndarray, alpha: float | Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES (positive losses) from simulated returns along the last axis.

    VaR is minus the ``1 - α`` quantile; ES is minus the mean of the returns at or
    below that quantile.

    Parameters
    ----------
    returns : (..., S) simulated returns.
    alpha : confidence level(s).

    Returns
    -------
    var, es : (..., len(alpha)).
    """
    a = confidence_levels(alpha)
    r = np.asarray(returns, dtype=float)
    q = np.quantile(r, 1 - a, axis=-1)  # (A, ...)
    q = np.moveaxis(q, 0, -1)
    tail = r[..., None, :] <= q[..., None]
    es = -np.sum(np.where(tail, r[..., None, :], 0.0), axis=-1) / np.sum(tail, axis=-1)
    return -q, es


def _simulated_risk(mean, exposures, source_cov, alphas, n_sims, rng, chunk=32):
    """VaR, ES, volatility and Euler contributions from ``n_sims`` returns per draw.

    The sources ``x ~ N(0, Var(x))`` are simulated (in chunks of draws, so memory
    stays small); contributions are ``b_j Cov(x_j, r) / sd(r)`` on the sample, which
    sum to the sample sd exactly.
    """
    D, P, S = exposures.shape
    var = np.empty((D, P, alphas.size))
    es = np.empty((D, P, alphas.size))
    contrib = np.empty((D, P, S))
    vol = np.empty((D, P))
    for lo in range(0, D, chunk):
        hi = min(D, lo + chunk)
        L = np.linalg.cholesky(source_cov[lo:hi] + 1e-14 * np.eye(S))
        x = np.einsum("dpij,dpnj->dpni", L, rng.standard_normal((hi - lo, P, n_sims, S)))
        x -= x.mean(axis=2, keepdims=True)
        r = np.einsum("dpni,dpi->dpn", x, exposures[lo:hi])
        sd = np.sqrt(np.mean(r**2, axis=-1))
        contrib[lo:hi] = exposures[lo:hi] * np.mean(x * r[..., None], axis=2) / sd[..., None]
        vol[lo:hi] = sd
        var[lo:hi], es[lo:hi] = empirical_var_es(mean[lo:hi, :, None] + r, alphas)
    return var, es, vol, contrib


def variance_shares(
    draws: Mapping,
    n_lags: int,
    *,
    factor_var: np.ndarray | None = None,
    obs_scale: np.ndarray | None = None,
) -> np.ndarray:
    r"""Share of each series' unconditional variance due to each source, (D, N, k + 1).

    Factor j's share is the variance caused by the shocks to factor j's equation,
    ``λ_i' Σ_f^{(j)} λ_i`` with ``Σ_f^{(j)}`` the stationary covariance of the VAR
    driven by that shock alone (the infinite-horizon forecast-error variance
    decomposition; non-negative, and they add up to ``λ_i' Σ_f λ_i``); the last
    source is the idiosyncratic variance ``σ_i² / (1 - ρ_i²)``. Shares sum to 1.
    Scale-free, so the same in model and original units.
    ``factor_var`` (D, k), ``obs_scale`` (D, N): stationary mean variances (volatility
    models; None for ones), as in :func:`~bdfm.posterior.moments.unconditional_moments`.
    """
    lam = np.asarray(draws["loadings"], dtype=float)
    D, n, k = lam.shape
    sd = np.asarray(draws["idio_sd"], dtype=float)
    rho = idio_ar(draws)
    parts = np.empty((D, n, k + 1))
    for d in range(D):
        # one factor's shocks at a time: the stationary covariance they cause
        shocks = np.eye(k) if factor_var is None else np.diag(factor_var[d])
        sig = stationary_state_cov(draws["factor_ar"][d], n_lags, shocks)[:, :k, :k]
        for j in range(k):
            parts[d, :, j] = np.einsum("nk,kl,nl->n", lam[d], sig[j], lam[d])
    var = sd**2 if obs_scale is None else sd**2 * np.asarray(obs_scale, dtype=float)
    parts[:, :, k] = var / (1 - rho**2)
    return parts / parts.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------- fits
def fit_moments(
    fit: FitResult,
    horizon: int = 1,
    conditional: bool = True,
    random_seed: int | None = None,
) -> Moments:
    """Moments of ``y_{T+h}`` (conditional) or ``y_t`` (unconditional) in original units.

    Volatility models: per draw, given its volatility path continued to ``T+h``
    (conditional), or the exact second moments (unconditional); see the module docstring.

    Parameters
    ----------
    fit : FitResult
    horizon : steps ahead of the last date (conditional only).
    conditional : given the data to T, or the stationary distribution.
    random_seed : int, optional
        Seed of the continued volatility paths (conditional, volatility models only;
        the same seed gives :func:`~bdfm.posterior.forecast.forecast_fit`'s paths).
    """
    spec = fit.model.spec
    panel = fit.model.panel
    draws = posterior_draws(fit)
    n_lags = spec.n_state_lags
    if conditional:
        vol = {}
        if not spec.constant_gaussian:  # predictive_moments checks the horizon
            rng = np.random.default_rng(random_seed).spawn(1)[0]  # forecast_fit's stream
            vol = continue_volatility(
                fit.posterior, spec, panel.n_series, max(int(horizon), 1), rng
            )
        paths = {name: vol[name] for name in ("factor_var", "obs_scale") if name in vol}
        mom = predictive_moments(panel.filled, panel.mask, draws, n_lags, horizon, **paths)
    else:
        vol = stationary_volatility(fit.posterior, spec, panel.n_series)
        mom = unconditional_moments(draws, n_lags, **vol)
    return mom.to_original(panel.scaling.mean, panel.scaling.scale)


def _draw_coords(fit: FitResult) -> dict:
    post = fit.posterior
    return {CHAIN: post[CHAIN].values, DRAW: post[DRAW].values}


def _unstack(fit: FitResult, arr: np.ndarray) -> np.ndarray:
    post = fit.posterior
    return arr.reshape(post.sizes[CHAIN], post.sizes[DRAW], *arr.shape[1:])


def covariance_fit(
    fit: FitResult,
    horizon: int = 1,
    conditional: bool = True,
    random_seed: int | None = None,
) -> xr.DataArray:
    """Posterior draws of the covariance of the series, in ORIGINAL units.

    ``conditional=True``: ``Var(y_{T+h} | y_{1:T}, θ) = Λ Var(f_{T+h}|y) Λ' +
    Λ Cov(f, u) + Cov(u, f) Λ' + Var(u_{T+h}|y)`` (the f/u covariance is non-zero
    only with AR(1) errors). ``conditional=False``: the stationary
    ``Λ Σ_f Λ' + diag(σ²/(1-ρ²))``. Entry (i, j) is scaled by ``scale_i scale_j``.

    With time-varying volatility or Student-t shocks a conditional draw is the
    covariance given θ_d *and* the draw's volatility path continued to ``T+h``
    (one simulated path per draw); the unconditional one uses the stationary
    means of the variances and is exact (see the module docstring).

    Parameters
    ----------
    fit : FitResult
    horizon : int
        Steps ahead of the last date (conditional only).
    conditional : bool
        Given the data to T (default), or the stationary distribution.
    random_seed : int, optional
        Seed of the continued volatility paths (volatility models, conditional only).

    Returns
    -------
    xarray.DataArray
        Dims (chain, draw, series, series_to).
    """
    cov = fit_moments(fit, horizon, conditional, random_seed).cov()
    series = list(fit.model.panel.columns)
    return xr.DataArray(
        _unstack(fit, cov),
        dims=(CHAIN, DRAW, SERIES, SERIES_TO),
        coords={**_draw_coords(fit), SERIES: series, SERIES_TO: series},
        name="covariance",
        attrs={"horizon": int(horizon), "conditional": int(bool(conditional)), "units": "original"},
    )


def variance_decomposition_fit(fit: FitResult) -> xr.DataArray:
    """Shares of each series' unconditional variance by source (chain, draw, series, source).

    Sources are the factors' shocks then ``idiosyncratic``; shares sum to 1.
    With time-varying volatility or Student-t shocks they are the shares of the
    *unconditional* variance, with the stationary means of the variances
    (:func:`~bdfm.posterior.forecast.stationary_volatility`); the shares at any one
    date vary with the volatility.
    Summarise with :func:`bdfm.posterior.forecast.summarize_draws`.
    """
    draws = posterior_draws(fit)
    k = fit.model.spec.n_factors
    vol = stationary_volatility(fit.posterior, fit.model.spec, fit.model.panel.n_series)
    shares = variance_shares(draws, fit.model.spec.n_state_lags, **vol)
    return xr.DataArray(
        _unstack(fit, shares),
        dims=(CHAIN, DRAW, SERIES, SOURCE),
        coords={
            **_draw_coords(fit),
            SERIES: list(fit.model.panel.columns),
            SOURCE: source_labels(k),
        },
        name="variance_share",
    )


@dataclass(frozen=True)
class RiskResult:
    """Posterior draws of portfolio risk.

    Attributes
    ----------
    draws : xarray.Dataset
        ``mean`` and ``volatility`` (chain, draw, portfolio); ``var`` and ``es``
        (chain, draw, portfolio, alpha), positive numbers are losses;
        ``contribution`` (chain, draw, portfolio, source), summing to ``volatility``
        over ``source``. Original units of the data.
    weights : pandas.DataFrame
        Portfolios x series.
    method : str; horizon : int; conditional : bool
    """

    draws: xr.Dataset
    weights: pd.DataFrame
    method: str
    horizon: int
    conditional: bool

    def summary(self, prob: float = 0.9) -> pd.DataFrame:
        """Tidy table: ``portfolio, measure, alpha, source, mean, median, lower, upper``.

        ``measure`` is one of ``mean, volatility, var, es, contribution``; ``alpha``
        is set for var/es and ``source`` for contributions (NaN/None otherwise).
        """
        rows = []
        for name in ("mean", "volatility", "var", "es", "contribution"):
            table = summarize_draws(self.draws[name], prob).reset_index()
            table.insert(1, "measure", name)
            rows.append(table)
        out = pd.concat(rows, ignore_index=True)
        for col in (ALPHA, SOURCE):
            if col not in out:
                out[col] = None
        cols = [PORTFOLIO, "measure", ALPHA, SOURCE, "mean", "median", "lower", "upper"]
        return out[cols]


def risk_fit(
    fit: FitResult,
    weights: Weights,
    alpha: float | Sequence[float] = (0.95, 0.99),
    horizon: int = 1,
    method: str = "gaussian",
    n_sims: int = 2000,
    conditional: bool = True,
    random_seed: int | None = None,
) -> RiskResult:
    """Posterior volatility, VaR, ES and Euler risk contributions of portfolios.

    Parameters
    ----------
    fit : FitResult
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
        Given the data to T (default), or the stationary distribution (constant
        Gaussian models only: otherwise that law is not Gaussian).
    random_seed : int, optional
        Seed of the simulation and, for volatility models, of the continued
        volatility paths.

    Returns
    -------
    bdfm.posterior.risk.RiskResult
        With time-varying volatility or Student-t shocks, each draw's numbers are
        given θ_d and its volatility path continued to ``T+h`` (module docstring).

    Raises
    ------
    ValueError
        For an unknown method, bad weights or levels, or ``conditional=False`` with a
        volatility or Student-t model.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not conditional and not fit.model.spec.constant_gaussian:
        fit.model.spec.require_constant_gaussian(
            "risk with conditional=False",
            "the unconditional law is a scale mixture of Gaussians, so its VaR and ES are "
            "not Gaussian; use conditional=True, or fit.covariance(conditional=False) for "
            "its exact second moments",
        )
    alphas = confidence_levels(alpha)
    frame = parse_weights(weights, fit.model.panel.columns)
    mom = fit_moments(fit, horizon, conditional, random_seed)
    mean, exposures, source_cov = portfolio_sources(mom, frame.to_numpy())
    if method == "gaussian":
        vol, contrib = euler_contributions(exposures, source_cov)
        var, es = gaussian_var_es(mean, vol, alphas)
    else:
        if int(n_sims) < 100:
            raise ValueError(f"n_sims must be at least 100, got {n_sims!r}")
        rng = np.random.default_rng(random_seed)
        var, es, vol, contrib = _simulated_risk(
            mean, exposures, source_cov, alphas, int(n_sims), rng
        )
    k = fit.model.spec.n_factors
    coords = {
        **_draw_coords(fit),
        PORTFOLIO: list(frame.index),
        ALPHA: alphas,
        SOURCE: source_labels(k),
    }
    base = (CHAIN, DRAW, PORTFOLIO)
    data = xr.Dataset(
        {
            "mean": (base, _unstack(fit, mean)),
            "volatility": (base, _unstack(fit, vol)),
            "var": ((*base, ALPHA), _unstack(fit, var)),
            "es": ((*base, ALPHA), _unstack(fit, es)),
            "contribution": ((*base, SOURCE), _unstack(fit, contrib)),
        },
        coords=coords,
    )
    return RiskResult(data, frame, method, int(horizon), bool(conditional))
