r"""Forecasts: the predictive distribution of the series and factors beyond the sample.

For one parameter draw θ the model is linear and Gaussian, so everything here is
built on two pieces computed from the Kalman filter and smoother at θ:

**The edge state** ``(s_T, u_T) | y_{1:T}``. ``s_T = (f_T, …, f_{T-r+1})`` is the
companion state; ``u_T`` the idiosyncratic errors at the last date T. For series i
last observed at ``τ_i ≤ T`` (a ragged edge when ``τ_i < T``)

.. math::

    u_{iT} = ρ_i^{T-τ_i}\,(y_{iτ_i} - λ_i' f_{τ_i}) + e_i,\qquad
    e_i \sim N\!\big(0,\ σ_i^2 (1-ρ_i^{2(T-τ_i)}) / (1-ρ_i^2)\big),

which covers iid errors too (ρ_i = 0: ``u_{iT}`` is fresh noise unless y_iT is
observed). The joint Gaussian of ``s_T`` and the ``f_{τ_i}`` given the data comes
from the RTS smoother, with ``Cov(s_a, s_b | y) = J_a ⋯ J_{b-1} P_{b|T}`` for
``a < b`` (``J_t`` the smoother gain), so the correlation between ``f_T`` and
``u_T`` is exact.

**The h-step moments.** ``s_{T+h} = F^h s_T + ξ_h`` and
``u_{T+h} = R^h u_T + e_h`` with ``R = diag(ρ)``, ``idio_sd`` the *innovation*
sd σ_i (the marginal variance of an AR(1) error is σ_i²/(1-ρ_i²)). They are kept
in a factored form (:class:`Moments`) so that portfolio quantities never need an
N x N matrix.

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
``λ_{T+s} ~ Gamma(ν/2, rate ν/2)``, and :func:`simulate_forward` draws the factor shock
at ``T+s`` with variance ``factor_var[T+s] = exp(h_{T+s})/λ_{T+s}`` and the
idiosyncratic innovations with variance ``σ_i² obs_scale[T+s]``; nowcasts of the ragged
edge use the draw's in-sample paths. The closed-form :class:`Moments` are for the
constant Gaussian model only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from bdfm.dims import CHAIN, DRAW, FACTOR, SERIES, TIME, factor_labels
from bdfm.draws import stack_draws
from bdfm.inference.fitting import volatility_paths
from bdfm.statespace import inputs
from bdfm.statespace.kalman import FilterResult, filter_states, smooth_states

if TYPE_CHECKING:
    from bdfm.results import FitResult
    from bdfm.spec import DFMSpec

__all__ = [
    "EdgeState",
    "Forecast",
    "Moments",
    "continue_volatility",
    "edge_state",
    "forecast_dates",
    "forecast_fit",
    "idio_ar",
    "kalman_filter",
    "last_observed",
    "posterior_draws",
    "predictive_moments",
    "simulate_forward",
    "stack_draws",
    "state_companion",
    "stationary_state_cov",
    "summarize_draws",
    "unconditional_moments",
]

QUANTILE = "quantile"


# ---------------------------------------------------------------------------- helpers
def state_companion(factor_ar: np.ndarray, n_lags: int) -> np.ndarray:
    """(p, k, k) VAR coefficients -> (k n_lags, k n_lags) companion, zero-padded lags.

    :func:`bdfm.statespace.inputs.state_companion`.
    """
    return inputs.state_companion(factor_ar, n_lags)


def last_observed(mask: np.ndarray) -> np.ndarray:
    """Index of the last observed time of every series, (N,) ints (mask (T, N) bool)."""
    mask = np.asarray(mask, dtype=bool)
    T = mask.shape[0]
    return T - 1 - np.argmax(mask[::-1], axis=0)


def stationary_state_cov(
    factor_ar: np.ndarray, n_lags: int, shock_var: np.ndarray | None = None
) -> np.ndarray:
    """Stationary covariance of the companion state of one VAR draw (discrete Lyapunov).

    Parameters
    ----------
    factor_ar : (p, k, k) VAR coefficients.
    n_lags : factor lags in the state (m = k n_lags).
    shock_var : (k,) or (J, k), optional
        Variances of the factor shocks, or J sets of them; default ones (the model's).

    Returns
    -------
    (m, m), or (J, m, m) for J sets of shock variances.
    """
    return inputs.stationary_cov(inputs.transition_top(factor_ar, n_lags), shock_var)


def idio_ar(params: Mapping) -> np.ndarray:
    """The AR(1) coefficients of the idiosyncratic errors; zeros for iid errors.

    Works for one draw (``idio_sd`` (N,)) and for stacked draws (``idio_sd`` (D, N)).
    """
    rho = params.get("idio_ar")
    if rho is None:
        return np.zeros(np.shape(params["idio_sd"]))
    return np.asarray(rho, dtype=float)


def _filter(
    y: np.ndarray, mask: np.ndarray, params: Mapping, n_lags: int
) -> tuple[np.ndarray, FilterResult]:
    """The companion transition F (m, m) and the filter's moments at one draw.

    :meth:`bdfm.DynamicFactorModel.filter` computes the same moments, but only for
    the model's own data and through a compiled pytensor function (and a parameter
    check) per call; here ``y`` is any panel (backtests filter new data with old
    draws) and the collapsed statistics come straight from the numba kernels, which
    keeps the loops over thousands of draws fast. The filter and smoother
    themselves are :mod:`bdfm.statespace.kalman`'s.
    """
    fi = inputs.filter_inputs(
        y,
        mask,
        params["loadings"],
        params["factor_ar"],
        params["idio_sd"],
        params.get("idio_ar"),
        n_lags=n_lags,
    )
    F = state_companion(params["factor_ar"], n_lags)
    return F, filter_states(fi.C, fi.b, fi.top, fi.q, fi.P0)


def kalman_filter(
    y: np.ndarray, mask: np.ndarray, params: Mapping, n_lags: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Filter at one parameter draw (model units): ``(F, x_pred, P_pred, x_filt, P_filt)``.

    Parameters
    ----------
    y : (T, N) data in model units, missing entries zero; mask : (T, N) bool.
    params : one parameter draw (``loadings``, ``factor_ar``, ``idio_sd``, ``idio_ar``).
    n_lags : factor lags in the state (:attr:`bdfm.spec.DFMSpec.n_state_lags`).

    Returns
    -------
    F : (m, m) companion transition.
    x_pred, P_pred, x_filt, P_filt : (T, m), (T, m, m)
        Moments of the state given y_{1:t-1} and given y_{1:t}
        (:class:`bdfm.statespace.kalman.FilterResult`).
    """
    F, filtered = _filter(y, mask, params, n_lags)
    return F, filtered.x_pred, filtered.P_pred, filtered.x_filt, filtered.P_filt


# ---------------------------------------------------------------------------- edge state
class EdgeState(NamedTuple):
    r"""``(s_T, u_T) | y`` for one parameter draw, in factored form.

    ``z ~ N(z_mean, z_cov)`` stacks ``s_T`` (its first ``m`` coordinates) and the
    states at the earlier last-observation dates that ``u_T`` needs;
    ``u_T = u_const + u_gain z + e`` with ``e ~ N(0, diag(u_var))`` independent of z.
    """

    z_mean: np.ndarray  #: (z,)
    z_cov: np.ndarray  #: (z, z)
    u_const: np.ndarray  #: (N,)
    u_gain: np.ndarray  #: (N, z)
    u_var: np.ndarray  #: (N,)


def edge_state(y: np.ndarray, mask: np.ndarray, params: dict, n_lags: int) -> EdgeState:
    """Joint Gaussian of the companion state and the idiosyncratic errors at T given y.

    Parameters
    ----------
    y : (T, N) data in model units, missing entries zero; mask : (T, N) bool.
    params : one parameter draw (``loadings``, ``factor_ar``, ``idio_sd``, ``idio_ar``).
    n_lags : factor lags in the state (:attr:`bdfm.spec.DFMSpec.n_state_lags`).
    """
    lam = np.asarray(params["loadings"], dtype=float)
    n, k = lam.shape
    sd = np.asarray(params["idio_sd"], dtype=float)
    rho = idio_ar(params)
    T = y.shape[0]
    F, filtered = _filter(y, mask, params, n_lags)
    smoothed = smooth_states(filtered, F[:k])
    P_pred, P_filt = filtered.P_pred, filtered.P_filt
    x_s, P_s = smoothed.x_smooth, smoothed.P_smooth
    m = F.shape[0]
    tau = last_observed(mask)
    gap = T - 1 - tau
    coef = np.where(gap == 0, 1.0, rho**gap)  # 0**0 = 1: an iid error at T is observed
    used = np.abs(coef) > 1e-15  # an error far behind the edge no longer matters
    deep = sorted({int(t) for t in tau[used & (gap >= n_lags)]})
    times = [*deep, T - 1]
    blocks = {t: j for j, t in enumerate(times)}
    # Cov(s_a, s_b | y) = J_a ... J_{b-1} P_s[b] for a < b
    gains: dict[int, np.ndarray] = {}

    def gain(t: int) -> np.ndarray:
        if t not in gains:
            gains[t] = np.linalg.solve(P_pred[t + 1], F @ P_filt[t]).T
        return gains[t]

    nz = m * len(times)
    z_cov = np.zeros((nz, nz))
    for jb, b in enumerate(times):
        z_cov[jb * m : (jb + 1) * m, jb * m : (jb + 1) * m] = P_s[b]
        prod = np.eye(m)
        for t in range(b - 1, times[0] - 1, -1):
            prod = gain(t) @ prod
            if t in blocks:
                ja = blocks[t]
                c = prod @ P_s[b]
                z_cov[ja * m : (ja + 1) * m, jb * m : (jb + 1) * m] = c
                z_cov[jb * m : (jb + 1) * m, ja * m : (ja + 1) * m] = c.T
    z_mean = np.concatenate([x_s[t] for t in times])
    # position of f_{tau_i} in z: a lag block of s_T, or the top block of s_{tau_i}
    start = np.where(gap < n_lags, (len(times) - 1) * m + gap * k, 0)
    for t in deep:
        start[tau == t] = blocks[t] * m
    u_gain = np.zeros((n, nz))
    rows = np.flatnonzero(used)
    for i in rows:
        u_gain[i, start[i] : start[i] + k] = -coef[i] * lam[i]
    y_tau = y[tau, np.arange(n)]
    u_const = np.where(used, coef * y_tau, 0.0)
    # sum of the AR(1) innovations between tau and T
    with np.errstate(invalid="ignore", divide="ignore"):
        u_var = np.where(rho != 0, sd**2 * (1 - rho ** (2 * gap)) / (1 - rho**2), sd**2 * (gap > 0))
    # put s_T first
    order = np.r_[np.arange((len(times) - 1) * m, nz), np.arange((len(times) - 1) * m)]
    return EdgeState(z_mean[order], z_cov[np.ix_(order, order)], u_const, u_gain[:, order], u_var)


# ---------------------------------------------------------------------------- moments
class Moments(NamedTuple):
    r"""Gaussian moments of ``y = intercept + Λ f + u`` at one horizon, per draw (leading D).

    ``f = f_mean + f_gain z + ξ``, ``u = u_mean + u_gain z + e`` with independent
    ``z ~ N(0, z_cov)``, ``ξ ~ N(0, xi_cov)``, ``e ~ N(0, diag(e_var))``. So
    ``Var(f) = f_gain z_cov f_gain' + xi_cov``, ``Cov(f, u) = f_gain z_cov u_gain'`` and
    ``Var(u) = u_gain z_cov u_gain' + diag(e_var)``.
    """

    intercept: np.ndarray  #: (D, N)
    loadings: np.ndarray  #: (D, N, k)
    f_mean: np.ndarray  #: (D, k)
    u_mean: np.ndarray  #: (D, N)
    f_gain: np.ndarray  #: (D, k, z)
    u_gain: np.ndarray  #: (D, N, z)
    z_cov: np.ndarray  #: (D, z, z)
    xi_cov: np.ndarray  #: (D, k, k)
    e_var: np.ndarray  #: (D, N)

    def mean(self) -> np.ndarray:
        """E[y] (D, N)."""
        return self.intercept + np.einsum("dnk,dk->dn", self.loadings, self.f_mean) + self.u_mean

    def factor_cov(self) -> np.ndarray:
        """Var(f) (D, k, k)."""
        fz = self.f_gain @ self.z_cov
        return fz @ np.swapaxes(self.f_gain, 1, 2) + self.xi_cov

    def cov(self) -> np.ndarray:
        """Var(y) (D, N, N)."""
        lam, z = self.loadings, self.z_cov
        g = lam @ self.f_gain + self.u_gain  # y = ... + g z + Λ ξ + e
        out = g @ z @ np.swapaxes(g, 1, 2) + lam @ self.xi_cov @ np.swapaxes(lam, 1, 2)
        idx = np.arange(out.shape[-1])
        out[:, idx, idx] += self.e_var
        return out

    def to_original(self, mean: np.ndarray, scale: np.ndarray) -> Moments:
        """Moments of ``mean + scale * y`` (model units -> original units)."""
        s = np.asarray(scale, dtype=float)
        return self._replace(
            intercept=mean + s * self.intercept,
            loadings=self.loadings * s[:, None],
            u_mean=self.u_mean * s,
            u_gain=self.u_gain * s[:, None],
            e_var=self.e_var * s**2,
        )


def _stack_edges(edges: list[EdgeState]) -> tuple[np.ndarray, ...]:
    """Pad the per-draw edge states to a common z (zeros: unused coordinates)."""
    D, n = len(edges), edges[0].u_const.shape[0]
    nz = max(e.z_mean.shape[0] for e in edges)
    z_mean, z_cov = np.zeros((D, nz)), np.zeros((D, nz, nz))
    u_gain = np.zeros((D, n, nz))
    for d, e in enumerate(edges):
        w = e.z_mean.shape[0]
        z_mean[d, :w], z_cov[d, :w, :w], u_gain[d, :, :w] = e.z_mean, e.z_cov, e.u_gain
    u_const = np.stack([e.u_const for e in edges])
    u_var = np.stack([e.u_var for e in edges])
    return z_mean, z_cov, u_const, u_gain, u_var


def predictive_moments(
    y: np.ndarray, mask: np.ndarray, draws: dict, n_lags: int, horizon: int = 1
) -> Moments:
    """Moments of y_{T+h} | y_{1:T}, θ_d (model units) for every draw d.

    Parameters
    ----------
    y : (T, N) data in model units, missing entries zero; mask : (T, N) bool.
    draws : parameter draws with a leading axis D (``loadings`` (D, N, k), ...).
    n_lags : factor lags in the state; horizon : h >= 1.
    """
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    h = int(horizon)
    lam = np.asarray(draws["loadings"], dtype=float)
    D, n, k = lam.shape
    edges = []
    for d in range(D):
        one = {name: np.asarray(v[d]) for name, v in draws.items()}
        edges.append(edge_state(y, mask, one, n_lags))
    z_mean, z_cov, u_const, u_gain, u_var = _stack_edges(edges)
    nz = z_mean.shape[1]
    rho = idio_ar(draws)
    sd = np.asarray(draws["idio_sd"], dtype=float)
    F = np.stack([state_companion(np.asarray(a, dtype=float), n_lags) for a in draws["factor_ar"]])
    m = F.shape[1]
    Fh = np.linalg.matrix_power(F, h)
    # innovations over the h steps: xi = sum_j F^j Q F^j'
    xi = np.zeros((D, m, m))
    Fj = np.broadcast_to(np.eye(m), (D, m, m))
    for _ in range(h):
        xi += Fj[:, :, :k] @ np.swapaxes(Fj[:, :, :k], 1, 2)
        Fj = F @ Fj
    # f_{T+h} = E1 F^h s_T + xi ; s_T = first m coordinates of z
    sel = np.zeros((m, nz))
    sel[:, :m] = np.eye(m)
    f_gain = Fh[:, :k, :] @ sel
    rh = rho**h
    with np.errstate(invalid="ignore", divide="ignore"):
        e_new = np.where(rho != 0, sd**2 * (1 - rho ** (2 * h)) / (1 - rho**2), sd**2)
    return Moments(
        intercept=np.zeros((D, n)),
        loadings=lam,
        f_mean=np.einsum("dkz,dz->dk", f_gain, z_mean),
        u_mean=rh * (u_const + np.einsum("dnz,dz->dn", u_gain, z_mean)),
        f_gain=f_gain,
        u_gain=rh[:, :, None] * u_gain,
        z_cov=z_cov,
        xi_cov=xi[:, :k, :k],
        e_var=rh**2 * u_var + e_new,
    )


def unconditional_moments(draws: dict, n_lags: int) -> Moments:
    """Stationary moments of y_t (model units): ``Λ Σ_f Λ' + diag(σ²/(1-ρ²))``, mean zero.

    ``Σ_f`` is the stationary factor covariance (discrete Lyapunov equation).
    """
    lam = np.asarray(draws["loadings"], dtype=float)
    D, n, k = lam.shape
    sd = np.asarray(draws["idio_sd"], dtype=float)
    rho = idio_ar(draws)
    sig_f = np.stack([stationary_state_cov(a, n_lags)[:k, :k] for a in draws["factor_ar"]])
    return Moments(
        intercept=np.zeros((D, n)),
        loadings=lam,
        f_mean=np.zeros((D, k)),
        u_mean=np.zeros((D, n)),
        f_gain=np.zeros((D, k, 0)),
        u_gain=np.zeros((D, n, 0)),
        z_cov=np.zeros((D, 0, 0)),
        xi_cov=sig_f,
        e_var=sd**2 / (1 - rho**2),
    )


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
    if spec.idio_volatility != "constant":
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
    past = volatility_paths(post, k, n_series)
    out = dict(future)
    if "factor_var" in past:
        out["factor_var"] = np.concatenate([past["factor_var"], np.exp(h) / lam[..., None]], 1)
    if "obs_scale" in past:
        new = np.broadcast_to(np.exp(g) / lam[..., None], (n_draws, steps, n_series))
        out["obs_scale"] = np.concatenate([past["obs_scale"], new], 1)
    return out


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
        shock = rng.standard_normal((D, k))
        if factor_var is not None:
            shock = np.sqrt(factor_var[:, T + s]) * shock
        f_new = np.einsum("dlij,dlj->di", factor_ar, hist) + shock
        hist = np.concatenate([f_new[:, None], hist[:, :-1]], axis=1)
        u = rho * u + idio_sd(T + s) * rng.standard_normal((D, n))
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
