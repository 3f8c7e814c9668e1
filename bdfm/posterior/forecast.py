r"""Forecasts: the predictive distribution of the series and factors beyond the sample.

The closed-form moments of one parameter draw (the edge state, h-step moments) are in
:mod:`bdfm.posterior.moments`.

:func:`forecast_fit` (``FitResult.forecast``) draws paths instead: for every
posterior draw it continues that draw's joint smoother path of the factors, with
``u`` rebuilt at each series' last observation and carried forward by its AR(1)
(fresh noise for iid errors), fills in ("nowcasts") values missing at the end of
the sample, and returns the draws in original units.

**Time-varying volatility and Student-t shocks.** Given a draw's volatility paths the
model is still linear and Gaussian, with per-date variances ``factor_var`` and
``obs_scale`` (:func:`bdfm.statespace.assemble.dfm_loglike_pointwise`). For such fits
:func:`continue_volatility` carries every draw's own paths past T by their AR(1),
``h_{T+s} = φ h_{T+s-1} + σ z`` (mean 0), ``g`` likewise, with fresh
``λ_{T+s} ~ Gamma(ν/2, rate ν/2)``; factor GARCH variances go on from the draw's
``q_{T+1}`` (known from the data) by their recursion, driven by the same standardised
shocks that :func:`simulate_forward` then uses for the factors. :func:`simulate_forward` draws the factor shock
at ``T+s`` with variance ``factor_var[T+s] = exp(h_{T+s})/λ_{T+s}`` and the
idiosyncratic innovations with variance ``σ_i² obs_scale[T+s]``; nowcasts of the ragged
edge use the draw's in-sample paths. The closed-form moments
(:mod:`bdfm.posterior.moments`) take the same paths: given them each draw is Gaussian.
:func:`stationary_volatility` gives the stationary means of the variances (for the
unconditional second moments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from bdfm.dims import CHAIN, DRAW, FACTOR, SERIES, TIME, factor_labels
from bdfm.draws import stack_draws
from bdfm.inference.fitting import volatility_paths
from bdfm.posterior.moments import idio_ar, last_observed, mean_variance_scale

if TYPE_CHECKING:
    from bdfm.results import FitResult
    from bdfm.spec import DFMSpec

__all__ = [
    "Forecast",
    "continue_volatility",
    "forecast_dates",
    "forecast_fit",
    "posterior_draws",
    "simulate_forward",
    "stack_draws",
    "stationary_volatility",
    "summarize_draws",
]

QUANTILE = "quantile"


# ---------------------------------------------------------------------------- paths
def _ar1_forward(
    last: np.ndarray, phi: np.ndarray, sd: np.ndarray, steps: int, rng: np.random.Generator
) -> np.ndarray:
    """``steps`` values of zero-mean AR(1) paths after ``last`` (D, J): (D, steps, J)."""
    out = np.empty((last.shape[0], steps, last.shape[1]))
    h = last
    for s in range(steps):
        h = phi * h + sd * rng.standard_normal(h.shape)
        out[:, s] = h
    return out


def _garch_forward(post: xr.Dataset, part: str, lam: np.ndarray, shocks: np.ndarray) -> np.ndarray:
    """Log GARCH variances (D, steps, J) past T, driven by the standardised ``shocks``.

    ``part`` is ``"factor"`` or ``"idio"``. The first value is the draw's
    ``{part}_log_var_next`` (known from the data); then
    ``q ← ω + (α + γ 1[ε < 0]) q ε²/λ + β q``: the simulated shock itself stands in
    for its estimate from the data beyond T.
    """
    alpha, beta, gamma = (
        stack_draws(post[f"{part}_garch_{v}"]) for v in ("alpha", "beta", "gamma")
    )
    q = np.exp(stack_draws(post[f"{part}_log_var_next"]))  # (D, J)
    out = np.empty(shocks.shape)
    for s in range(shocks.shape[1]):
        out[:, s] = np.log(q)
        eta2 = q * shocks[:, s] ** 2 / lam[:, s, None]
        news = (alpha + gamma * (shocks[:, s] < 0)) * eta2
        q = (1.0 - alpha - 0.5 * gamma - beta) + news + beta * q
    return out


def continue_volatility(
    post: xr.Dataset, spec: DFMSpec, n_series: int, steps: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    r"""Every posterior draw's volatility paths over the sample and ``steps`` dates beyond.

    Per draw d (chain and draw stacked, leading axis D) the log-variance paths go on
    by the model's AR(1) with mean 0 (:func:`bdfm.inference.pymc_model._sv_path`),
    ``h_{T+s} = φ_d h_{T+s-1} + σ_d z`` from the draw's own ``h_T`` (``g`` likewise,
    common or per series), and the tail scales are fresh,
    ``λ_{T+s} ~ Gamma(ν_d/2, rate ν_d/2)``.

    Parameters
    ----------
    post : posterior with the draws' parameters (``factor_sv_phi`` ...) and paths
        (``factor_log_var``, ``idio_log_var``, ``tail_scale``) as ``spec`` has them.
    spec : DFMSpec of the fit; n_series : N; steps : the horizon.
    rng : numpy Generator of the volatility innovations and tail scales.

    Returns
    -------
    dict
        Empty for a constant-variance Gaussian spec. Otherwise ``"factor_var"``
        (D, T + steps, k) ``= exp(h)/λ`` and/or ``"obs_scale"`` (D, T + steps, N)
        ``= exp(g)/λ`` (the in-sample rows are the draws' own, as
        :func:`bdfm.inference.fitting.volatility_paths` gives them), and the future
        values alone: ``"factor_log_var"`` (D, steps, k), ``"idio_log_var"``
        (D, steps) or (D, steps, N), ``"tail_scale"`` (D, steps), as the spec has them.
        Factor GARCH adds ``"factor_shock"`` (D, steps, k) and idiosyncratic GARCH
        ``"idio_shock"`` (D, steps, N): the standard-normal shocks that drive the
        variances (give them to :func:`simulate_forward`, so that a large shock raises
        the next variances of the same path).
    """
    if spec.constant_gaussian:
        return {}
    k = spec.n_factors
    n_draws = post.sizes[CHAIN] * post.sizes[DRAW]
    future: dict[str, np.ndarray] = {}
    h = np.zeros((n_draws, steps, k))
    g = np.zeros((n_draws, steps, 1))
    lam = np.ones((n_draws, steps))
    if spec.factor_volatility == "sv":
        last = stack_draws(post["factor_log_var"])[:, -1]  # (D, k)
        phi, sd = (stack_draws(post[f"factor_sv_{v}"]) for v in ("phi", "sd"))
        h = future["factor_log_var"] = _ar1_forward(last, phi, sd, steps, rng)
    if spec.idio_volatility in ("common_sv", "sv"):
        last = stack_draws(post["idio_log_var"])[:, -1]  # (D,) common, (D, N) per series
        phi, sd = (stack_draws(post[f"idio_sv_{v}"]) for v in ("phi", "sd"))
        common = last.ndim == 1
        if common:
            last, phi, sd = last[:, None], phi[:, None], sd[:, None]
        else:
            phi, sd = np.broadcast_to(phi, last.shape), np.broadcast_to(sd, last.shape)
        g = _ar1_forward(last, phi, sd, steps, rng)
        future["idio_log_var"] = g[..., 0] if common else g
    if spec.tails == "student_t":
        nu = stack_draws(post["tails_nu"]).reshape(n_draws, 1)
        lam = future["tail_scale"] = rng.gamma(0.5 * nu, 2.0 / nu, size=(n_draws, steps))
    if spec.factor_volatility == "garch":
        shocks = future["factor_shock"] = rng.standard_normal((n_draws, steps, k))
        h = future["factor_log_var"] = _garch_forward(post, "factor", lam, shocks)
    if spec.idio_volatility == "garch":
        shocks = future["idio_shock"] = rng.standard_normal((n_draws, steps, n_series))
        g = future["idio_log_var"] = _garch_forward(post, "idio", lam, shocks)
    past = volatility_paths(post, k, n_series)
    out = dict(future)
    if "factor_var" in past:
        out["factor_var"] = np.concatenate([past["factor_var"], np.exp(h) / lam[..., None]], 1)
    if "obs_scale" in past:
        new = np.broadcast_to(np.exp(g) / lam[..., None], (n_draws, steps, n_series))
        out["obs_scale"] = np.concatenate([past["obs_scale"], new], 1)
    return out


def stationary_volatility(post: xr.Dataset, spec: DFMSpec, n_series: int) -> dict[str, np.ndarray]:
    """Every posterior draw's stationary mean variances: ``factor_var`` (D, k), ``obs_scale`` (D, N).

    ``E[exp(h)/λ]`` of the factor shocks and ``E[exp(g)/λ]`` of the idiosyncratic
    multipliers under the draw's parameters (:func:`bdfm.posterior.moments.mean_variance_scale`;
    a common ``g`` is broadcast over the series). Empty for a constant-variance
    Gaussian spec; otherwise both keys, ones where a part is constant.
    """
    if spec.constant_gaussian:
        return {}
    n_draws = post.sizes[CHAIN] * post.sizes[DRAW]
    nu = None
    if spec.tails == "student_t":
        nu = stack_draws(post["tails_nu"]).reshape(n_draws, 1)

    def mean_scale(prefix: str, on: bool) -> np.ndarray:
        if not on:
            return mean_variance_scale(tails_nu=nu)
        phi, sd = (
            stack_draws(post[f"{prefix}_sv_{v}"]).reshape(n_draws, -1) for v in ("phi", "sd")
        )
        return mean_variance_scale(phi, sd, nu)  # a common path: (D, 1)

    factor = mean_scale("factor", spec.factor_volatility == "sv")
    idio = mean_scale("idio", spec.idio_volatility in ("common_sv", "sv"))
    return {
        "factor_var": np.broadcast_to(factor, (n_draws, spec.n_factors)).astype(float),
        "obs_scale": np.broadcast_to(idio, (n_draws, n_series)).astype(float),
    }


def simulate_forward(
    y: np.ndarray,
    mask: np.ndarray,
    factors: np.ndarray,
    draws: dict,
    steps: int,
    rng: np.random.Generator,
    *,
    factor_var: np.ndarray | None = None,
    obs_scale: np.ndarray | None = None,
    factor_shock: np.ndarray | None = None,
    idio_shock: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Continue joint smoother paths of the factors: nowcasts and h-step forecasts.

    Parameters
    ----------
    y : (T, N) model-unit data (missing entries zero); mask : (T, N) bool.
    factors : (D, T, k) draws of f_{1:T} | y, θ_d (the simulation smoother's output).
    draws : parameter draws with leading axis D.
    steps : forecast horizon h.
    rng : numpy Generator.
    factor_var : (D, T + h, k), optional
        Per-draw, per-date factor shock variances over the sample and the horizon
        (time-varying volatility, :func:`continue_volatility`); the shock entering
        ``f_{T+s}`` has variance ``factor_var[:, T+s]``. The in-sample rows are not
        used (the factor path up to T is given). Default ones.
    obs_scale : (D, T + h, N), optional
        Per-draw, per-date multipliers of the idiosyncratic innovation variances
        ``idio_sd² obs_scale[:, t]``, used for the nowcast (t < T) and the horizon.
        Default ones. The conventions are those of
        :func:`bdfm.statespace.assemble.dfm_loglike_pointwise`; without either
        argument the draws are the constant model's, bit for bit.
    factor_shock : (D, h, k), optional
        Standard-normal factor shocks to use instead of fresh draws (factor GARCH:
        the shocks that :func:`continue_volatility` drove the variances with).
    idio_shock : (D, h, N), optional
        Standard-normal idiosyncratic innovations over the horizon, likewise.

    Returns
    -------
    nowcast : (D, T - t0, N) values at the in-sample dates t0..T-1 (t0 = earliest date
        after a series' last observation; observed entries are the data).
    y_future : (D, h, N); f_future : (D, h, k). All in model units.
    """
    lam = np.asarray(draws["loadings"], dtype=float)
    D, n, k = lam.shape
    T = y.shape[0]
    sd = np.asarray(draws["idio_sd"], dtype=float)
    for name, value, width in (("factor_var", factor_var, k), ("obs_scale", obs_scale, n)):
        if value is not None and np.shape(value)[1:] != (T + steps, width):
            raise ValueError(
                f"{name} must have shape (D, T + steps, {width}) = (D, {T + steps}, {width}), "
                f"got {np.shape(value)}"
            )

    def idio_sd(t: int) -> np.ndarray:
        return sd if obs_scale is None else sd * np.sqrt(obs_scale[:, t])

    rho = idio_ar(draws)
    factor_ar = np.asarray(draws["factor_ar"], dtype=float)
    p = factor_ar.shape[1]
    tau = last_observed(mask)
    cols = np.arange(n)
    # u at each series' last observation, then carried to T by the AR(1)
    u = y[tau, cols] - np.einsum("dnk,dnk->dn", factors[:, tau, :], lam)
    t0 = int(min(tau.min() + 1, T))
    nowcast = np.broadcast_to(y[t0:], (D, T - t0, n)).copy()
    for t in range(t0, T):
        late = t > tau
        step = rho * u + idio_sd(t) * rng.standard_normal((D, n))
        u = np.where(late, step, u)
        fitted = np.einsum("dk,dnk->dn", factors[:, t], lam) + u
        nowcast[:, t - t0] = np.where(late, fitted, nowcast[:, t - t0])
    # state (f_T, ..., f_{T-p+1}); earlier draws pad a short sample with zeros
    hist = np.zeros((D, p, k))
    avail = min(p, T)
    hist[:, :avail] = factors[:, T - avail :][:, ::-1]
    f_future = np.empty((D, steps, k))
    y_future = np.empty((D, steps, n))
    for s in range(steps):
        shock = rng.standard_normal((D, k)) if factor_shock is None else factor_shock[:, s]
        if factor_var is not None:
            shock = np.sqrt(factor_var[:, T + s]) * shock
        f_new = np.einsum("dlij,dlj->di", factor_ar, hist) + shock
        hist = np.concatenate([f_new[:, None], hist[:, :-1]], axis=1)
        z = rng.standard_normal((D, n)) if idio_shock is None else idio_shock[:, s]
        u = rho * u + idio_sd(T + s) * z
        f_future[:, s] = f_new
        y_future[:, s] = np.einsum("dk,dnk->dn", f_new, lam) + u
    return nowcast, y_future, f_future


def forecast_dates(index: pd.DatetimeIndex, steps: int) -> pd.DatetimeIndex:
    """The ``steps`` dates after ``index``.

    The frequency is ``pd.infer_freq(index)``; when that fails (e.g. daily data with
    holidays) a median spacing of at most 4 days is taken as business days, and any
    other spacing as a fixed step equal to the median spacing.
    """
    index = pd.DatetimeIndex(index)
    freq = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
    if freq is None:
        spacing = pd.Series(index).diff().median()
        freq = pd.offsets.BDay() if spacing <= pd.Timedelta(days=4) else spacing
    return pd.date_range(index[-1], periods=steps + 1, freq=freq)[1:].rename(TIME)


# ---------------------------------------------------------------------------- result
def summarize_draws(da: xr.DataArray, prob: float = 0.9) -> pd.DataFrame:
    """Posterior mean, median and equal-tailed ``prob`` interval over (chain, draw).

    Returns a DataFrame indexed by the remaining dims, columns ``mean, median,
    lower, upper``.
    """
    if not 0 < prob < 1:
        raise ValueError(f"prob must lie in (0, 1), got {prob!r}")
    q = da.quantile([(1 - prob) / 2, (1 + prob) / 2], dim=(CHAIN, DRAW))
    frames = {
        "mean": da.mean((CHAIN, DRAW)),
        "median": da.median((CHAIN, DRAW)),
        "lower": q.isel({QUANTILE: 0}, drop=True),
        "upper": q.isel({QUANTILE: 1}, drop=True),
    }
    return pd.DataFrame({k: v.to_series() for k, v in frames.items()})


@dataclass(frozen=True)
class Forecast:
    """Posterior predictive draws beyond the sample, in original units.

    Attributes
    ----------
    draws : xarray.Dataset
        ``y`` (chain, draw, time, series) and, with ``include_factors``, ``factors``
        (chain, draw, time, factor) at the ``steps`` dates after the sample; for fits
        with time-varying volatility or Student-t shocks also the simulated
        ``factor_log_var``, ``idio_log_var`` and ``tail_scale`` at those dates (as
        the model has them).
    nowcast : xarray.Dataset
        ``y`` (chain, draw, time, series) at the in-sample dates after the earliest
        last observation of any series (the ragged edge): missing values drawn from
        their predictive distribution given all data, observed values as observed.
        Empty time axis when every series is observed at the last date.
    """

    draws: xr.Dataset
    nowcast: xr.Dataset

    def summary(self, prob: float = 0.9, nowcast: bool = False) -> pd.DataFrame:
        """Mean, median and equal-tailed ``prob`` interval per date x series.

        With ``nowcast=True`` the ragged-edge dates come first.
        """
        y = self.draws["y"]
        if nowcast:
            y = xr.concat([self.nowcast["y"], y], dim=TIME)
        return summarize_draws(y, prob)

    def quantiles(self, q: float | Sequence[float]) -> xr.DataArray:
        """Quantiles ``q`` (scalar or sequence in [0, 1]) of ``y`` over the draws."""
        return self.draws["y"].quantile(q, dim=(CHAIN, DRAW))


def posterior_draws(fit: FitResult) -> dict[str, np.ndarray]:
    """The natural parameters of a fit stacked over (chain, draw): leading axis D."""
    return {n: stack_draws(fit.posterior[n]) for n in fit.model.param_names}


def forecast_fit(
    fit: FitResult, steps: int = 1, include_factors: bool = True, random_seed: int | None = None
) -> Forecast:
    """Posterior predictive draws of every series (and the factors) ``steps`` ahead.

    Each posterior draw continues its own joint smoother path of the factors;
    AR(1) errors restart from each series' last observation (ragged edges are
    carried forward with their AR(1) noise), values missing at the end of the
    sample are nowcast. With time-varying volatility or Student-t shocks each draw
    also continues its own volatility paths (:func:`continue_volatility`): the
    shocks beyond T have the simulated variances, the nowcast uses the draw's
    in-sample ones. Draws are in original units; the dates continue the
    index at its inferred frequency (business days for daily data whose
    frequency cannot be inferred). See :mod:`bdfm.posterior.forecast`.

    Parameters
    ----------
    fit : FitResult
        The fit (``fit.forecast(...)`` passes itself).
    steps : int
        Forecast horizon (>= 1).
    include_factors : bool
        Also return the factor draws.
    random_seed : int, optional
        Seed of the forward simulation.

    Returns
    -------
    bdfm.posterior.forecast.Forecast
        ``.draws`` (y, factors), ``.nowcast``, ``.summary(prob)``, ``.quantiles(q)``.
    """
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    steps = int(steps)
    post = fit.posterior
    panel = fit.model.panel
    draws = posterior_draws(fit)
    factors = stack_draws(post["factors"])
    rng = np.random.default_rng(random_seed)
    spec = fit.model.spec
    # the volatility draws come from a spawned stream: the shocks' stream stays the
    # constant model's (and a constant fit draws nothing more)
    vol = (
        {}
        if spec.constant_gaussian
        else continue_volatility(post, spec, panel.n_series, steps, rng.spawn(1)[0])
    )
    nowcast, y_f, f_f = simulate_forward(
        panel.filled,
        panel.mask,
        factors,
        draws,
        steps,
        rng,
        factor_var=vol.get("factor_var"),
        obs_scale=vol.get("obs_scale"),
        factor_shock=vol.get("factor_shock"),
        idio_shock=vol.get("idio_shock"),
    )
    shape = (post.sizes[CHAIN], post.sizes[DRAW])
    scaling = panel.scaling
    dates = forecast_dates(panel.index, steps)
    base = {CHAIN: post[CHAIN].values, DRAW: post[DRAW].values, SERIES: list(panel.columns)}
    dims = (CHAIN, DRAW, TIME, SERIES)
    data = {"y": (dims, scaling.to_original(y_f).reshape(*shape, *y_f.shape[1:]))}
    if include_factors:
        k = f_f.shape[-1]
        data["factors"] = ((CHAIN, DRAW, TIME, FACTOR), f_f.reshape(*shape, steps, k))
        base[FACTOR] = factor_labels(k)
    # the simulated volatility paths at the forecast dates (a common idio path: no series)
    for name, last in (("factor_log_var", FACTOR), ("idio_log_var", SERIES), ("tail_scale", "")):
        if name in vol:
            value = vol[name]
            vdims = (CHAIN, DRAW, TIME, last) if value.ndim == 3 else (CHAIN, DRAW, TIME)
            data[name] = (vdims, value.reshape(*shape, *value.shape[1:]))
    if "factor_log_var" in vol:
        base[FACTOR] = factor_labels(spec.n_factors)
    out = xr.Dataset(data, coords={**base, TIME: dates})
    t0 = panel.n_time - nowcast.shape[1]
    now = xr.Dataset(
        {"y": (dims, scaling.to_original(nowcast).reshape(*shape, *nowcast.shape[1:]))},
        coords={k: v for k, v in base.items() if k != FACTOR}
        | {TIME: pd.DatetimeIndex(panel.index[t0:], name=TIME)},
    )
    return Forecast(out, now)
