r"""Closed-form predictive moments at one parameter draw: the filter, the edge state, h steps.

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

**Time-varying volatility and Student-t shocks.** Given a draw's volatility paths,
the per-date factor innovation variances ``factor_var`` (q_t, (T, k)) and the
multipliers ``obs_scale`` (c_t, (T, N)) of the idiosyncratic variances, the model is
still linear and Gaussian (:func:`bdfm.statespace.inputs.filter_inputs`). The filter
and the edge state take the in-sample rows; the smoother needs only the filter's
``P_pred``/``P_filt`` and F (``J_t = P_{t|t} F' P_{t+1|t}^{-1}``, the shock variance
enters through ``P_{t+1|t}``), so it is unchanged. The sums of innovations above become

.. math::

    \operatorname{Var}(e_i) = σ_i^2 \sum_{j=0}^{T-τ_i-1} ρ_i^{2j} c_{T-j,i},\qquad
    ξ_h = \sum_{j=0}^{h-1} F^j R\,\mathrm{diag}(q_{T+h-j})\,R' F^{j\prime},\qquad
    \operatorname{Var}(e_{h,i}) = σ_i^2 \sum_{j=0}^{h-1} ρ_i^{2j} c_{T+h-j,i}

(``0^0 = 1``: iid errors keep only the last date's term). Without the paths every
result is the constant model's, bit for bit. :mod:`bdfm.posterior.forecast` draws paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from bdfm.statespace import inputs
from bdfm.statespace.kalman import FilterResult, filter_states, smooth_states

__all__ = [
    "EdgeState",
    "Moments",
    "edge_state",
    "idio_ar",
    "kalman_filter",
    "last_observed",
    "mean_variance_scale",
    "predictive_moments",
    "state_companion",
    "stationary_state_cov",
    "unconditional_moments",
]


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
    y: np.ndarray,
    mask: np.ndarray,
    params: Mapping,
    n_lags: int,
    *,
    factor_var: np.ndarray | None = None,
    obs_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, FilterResult]:
    """The companion transition F (m, m) and the filter's moments at one draw.

    :meth:`bdfm.DynamicFactorModel.filter` computes the same moments, but only for
    the model's own data and through a compiled pytensor function (and a parameter
    check) per call; here ``y`` is any panel (backtests filter new data with old
    draws) and the collapsed statistics come straight from the numba kernels, which
    keeps the loops over thousands of draws fast. The filter and smoother
    themselves are :mod:`bdfm.statespace.kalman`'s. ``factor_var`` (T, k) and
    ``obs_scale`` (T, N) are a draw's volatility paths (None: ones).
    """
    fi = inputs.filter_inputs(
        y,
        mask,
        params["loadings"],
        params["factor_ar"],
        params["idio_sd"],
        params.get("idio_ar"),
        n_lags=n_lags,
        factor_var=factor_var,
        obs_scale=obs_scale,
    )
    F = state_companion(params["factor_ar"], n_lags)
    return F, filter_states(fi.C, fi.b, fi.top, fi.q, fi.P0)


def kalman_filter(
    y: np.ndarray,
    mask: np.ndarray,
    params: Mapping,
    n_lags: int,
    *,
    factor_var: np.ndarray | None = None,
    obs_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Filter at one parameter draw (model units): ``(F, x_pred, P_pred, x_filt, P_filt)``.

    Parameters
    ----------
    y : (T, N) data in model units, missing entries zero; mask : (T, N) bool.
    params : one parameter draw (``loadings``, ``factor_ar``, ``idio_sd``, ``idio_ar``).
    n_lags : factor lags in the state (:attr:`bdfm.spec.DFMSpec.n_state_lags`).
    factor_var : (T, k), optional
        Per-date factor innovation variances (row 0 sets the initial covariance); None for ones.
    obs_scale : (T, N), optional
        Per-date multipliers of the idiosyncratic innovation variances; None for ones.

    Returns
    -------
    F : (m, m) companion transition.
    x_pred, P_pred, x_filt, P_filt : (T, m), (T, m, m)
        Moments of the state given y_{1:t-1} and given y_{1:t}
        (:class:`bdfm.statespace.kalman.FilterResult`).
    """
    F, filtered = _filter(y, mask, params, n_lags, factor_var=factor_var, obs_scale=obs_scale)
    return F, filtered.x_pred, filtered.P_pred, filtered.x_filt, filtered.P_filt


def _innovation_sum_var(
    sd: np.ndarray, rho: np.ndarray, steps: np.ndarray | int, scale_back: np.ndarray | None
) -> np.ndarray:
    r"""Variance of ``Σ_{j=0}^{s-1} ρ^j ε_{t-j}``, ``ε_{t-j} ~ N(0, σ² c_{t-j})``, per series.

    Parameters
    ----------
    sd, rho : (..., N) innovation sds σ and AR(1) coefficients ρ (0: iid, only j = 0 counts).
    steps : (N,) or int, the number s of innovations summed (0: none).
    scale_back : (S, ..., N), optional
        The multipliers backwards in time, ``scale_back[j] = c_{t-j}`` (S >= max s);
        None for ones, giving ``σ² (1 - ρ^{2s}) / (1 - ρ²)`` (``σ² [s > 0]`` for ρ = 0).
    """
    if scale_back is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                rho != 0, sd**2 * (1 - rho ** (2 * steps)) / (1 - rho**2), sd**2 * (steps > 0)
            )
    c = np.asarray(scale_back, dtype=float)
    j = np.arange(c.shape[0]).reshape(-1, *([1] * (c.ndim - 1)))
    weight = np.where(j < steps, rho ** (2 * j), 0.0)  # 0.0**0 = 1: iid keeps j = 0
    return sd**2 * np.sum(weight * c, axis=0)


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


def edge_state(
    y: np.ndarray,
    mask: np.ndarray,
    params: dict,
    n_lags: int,
    *,
    factor_var: np.ndarray | None = None,
    obs_scale: np.ndarray | None = None,
) -> EdgeState:
    r"""Joint Gaussian of the companion state and the idiosyncratic errors at T given y.

    Parameters
    ----------
    y : (T, N) data in model units, missing entries zero; mask : (T, N) bool.
    params : one parameter draw (``loadings``, ``factor_ar``, ``idio_sd``, ``idio_ar``).
    n_lags : factor lags in the state (:attr:`bdfm.spec.DFMSpec.n_state_lags`).
    factor_var : (T, k), optional
        Per-date factor innovation variances of the draw; None for ones.
    obs_scale : (T, N), optional
        Per-date multipliers ``c_t`` of the idiosyncratic innovation variances; None
        for ones. The innovations a series accumulates after its last observation
        ``τ_i`` then have variance ``σ_i² Σ_{t=τ_i+1}^{T} ρ_i^{2(T-t)} c_{t,i}``.
    """
    lam = np.asarray(params["loadings"], dtype=float)
    n, k = lam.shape
    sd = np.asarray(params["idio_sd"], dtype=float)
    rho = idio_ar(params)
    T = y.shape[0]
    F, filtered = _filter(y, mask, params, n_lags, factor_var=factor_var, obs_scale=obs_scale)
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
    u_var = _innovation_sum_var(sd, rho, gap, None if obs_scale is None else obs_scale[::-1])
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


def _check_paths(
    factor_var: np.ndarray | None, obs_scale: np.ndarray | None, shape: tuple[int, int, int, int]
) -> None:
    """Raise a ValueError unless the paths are (D, T + h, k) and (D, T + h, N)."""
    D, rows, k, n = shape
    for name, value, width in (("factor_var", factor_var, k), ("obs_scale", obs_scale, n)):
        if value is not None and np.shape(value) != (D, rows, width):
            raise ValueError(
                f"{name} must have shape (D, T + horizon, {width}) = ({D}, {rows}, {width}), "
                f"got {np.shape(value)}"
            )


def predictive_moments(
    y: np.ndarray,
    mask: np.ndarray,
    draws: dict,
    n_lags: int,
    horizon: int = 1,
    *,
    factor_var: np.ndarray | None = None,
    obs_scale: np.ndarray | None = None,
) -> Moments:
    r"""Moments of y_{T+h} | y_{1:T}, θ_d (model units) for every draw d.

    With volatility paths, the moments of draw d are those given θ_d *and* its
    paths: Gaussian, ``y_{T+h} | y_{1:T}, θ_d, q^{(d)}, c^{(d)}``. When the paths'
    in-sample rows are posterior draws and the future rows continue them by the
    model (:func:`bdfm.posterior.forecast.continue_volatility`), the mixture of
    these Gaussians over the draws is the posterior predictive of ``y_{T+h}``.

    Parameters
    ----------
    y : (T, N) data in model units, missing entries zero; mask : (T, N) bool.
    draws : parameter draws with a leading axis D (``loadings`` (D, N, k), ...).
    n_lags : factor lags in the state; horizon : h >= 1.
    factor_var : (D, T + h, k), optional
        Per-draw factor innovation variances: the T in-sample rows (the filter; row 0
        sets the initial covariance), then the h future ones, ``factor_var[:, T+s-1]``
        the variance of the shock to ``f_{T+s}``. None for ones.
    obs_scale : (D, T + h, N), optional
        Per-draw multipliers of the idiosyncratic innovation variances, laid out
        likewise. None for ones. Without either path the results are the constant
        model's, bit for bit.

    Raises
    ------
    ValueError
        If ``horizon`` is not an integer >= 1 or a path has the wrong shape.
    """
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    h = int(horizon)
    lam = np.asarray(draws["loadings"], dtype=float)
    D, n, k = lam.shape
    T = y.shape[0]
    _check_paths(factor_var, obs_scale, (D, T + h, k, n))
    edges = []
    for d in range(D):
        one = {name: np.asarray(v[d]) for name, v in draws.items()}
        fv = None if factor_var is None else factor_var[d, :T]
        sc = None if obs_scale is None else obs_scale[d, :T]
        edges.append(edge_state(y, mask, one, n_lags, factor_var=fv, obs_scale=sc))
    z_mean, z_cov, u_const, u_gain, u_var = _stack_edges(edges)
    nz = z_mean.shape[1]
    rho = idio_ar(draws)
    sd = np.asarray(draws["idio_sd"], dtype=float)
    F = np.stack([state_companion(np.asarray(a, dtype=float), n_lags) for a in draws["factor_ar"]])
    m = F.shape[1]
    Fh = np.linalg.matrix_power(F, h)
    # innovations over the h steps: xi = sum_j F^j R Q_{T+h-j} R' F^j'
    xi = np.zeros((D, m, m))
    Fj = np.broadcast_to(np.eye(m), (D, m, m))
    for j in range(h):
        G = Fj[:, :, :k]
        if factor_var is not None:
            G = G * np.sqrt(np.asarray(factor_var, dtype=float)[:, T + h - 1 - j, None, :])
        xi += G @ np.swapaxes(G, 1, 2)
        Fj = F @ Fj
    # f_{T+h} = E1 F^h s_T + xi ; s_T = first m coordinates of z
    sel = np.zeros((m, nz))
    sel[:, :m] = np.eye(m)
    f_gain = Fh[:, :k, :] @ sel
    rh = rho**h
    back = None if obs_scale is None else np.moveaxis(obs_scale[:, T:][:, ::-1], 1, 0)
    e_new = _innovation_sum_var(sd, rho, h, back)
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


def mean_variance_scale(
    sv_phi: np.ndarray | None = None,
    sv_sd: np.ndarray | None = None,
    tails_nu: np.ndarray | None = None,
) -> np.ndarray:
    r"""Stationary mean ``E[exp(h_t) / λ_t]`` of a variance multiplier.

    For the stationary zero-mean AR(1) log-variance ``h ~ N(0, s²/(1-φ²))``,
    ``E[exp(h)] = exp(s² / (2 (1 - φ²)))``; for the Student-t scale
    ``λ ~ Gamma(ν/2, rate ν/2)``, ``E[1/λ] = ν / (ν - 2)`` (ν > 2); the two are
    independent, so the mean of ``exp(h)/λ`` is their product. Absent parts count as 1.

    Parameters
    ----------
    sv_phi, sv_sd : (...) persistence and innovation sd of the log-variance, or None
        (constant variance).
    tails_nu : (...) degrees of freedom, broadcastable against them, or None (normal).

    Returns
    -------
    numpy.ndarray, broadcast over the given arguments (1.0 if none is given).
    """
    out = np.asarray(1.0)
    if sv_phi is not None:
        phi, sd = np.asarray(sv_phi, dtype=float), np.asarray(sv_sd, dtype=float)
        out = out * np.exp(0.5 * sd**2 / ((1 - phi) * (1 + phi)))
    if tails_nu is not None:
        nu = np.asarray(tails_nu, dtype=float)
        out = out * nu / (nu - 2)
    return out


def unconditional_moments(
    draws: dict,
    n_lags: int,
    *,
    factor_var: np.ndarray | None = None,
    obs_scale: np.ndarray | None = None,
) -> Moments:
    r"""Stationary moments of y_t (model units): ``Λ Σ_f Λ' + diag(σ² c̄/(1-ρ²))``, mean zero.

    ``Σ_f`` is the stationary factor covariance (discrete Lyapunov equation) with
    shock variances ``q̄`` (ones by default). With stochastic volatility or
    Student-t shocks, ``q̄ = E[q_t]`` and ``c̄ = E[c_t]`` (:func:`mean_variance_scale`)
    give the exact unconditional second moments: given the volatility paths the
    shocks are independent with mean zero, so ``Var(f_t) = Σ_j A^j E[Q_{t-j}] A^j'``
    and ``Var(u_it) = σ_i² Σ_j ρ_i^{2j} E[c_{t-j,i}]``. (The unconditional law itself
    is then a scale mixture, not Gaussian.)

    Parameters
    ----------
    draws : parameter draws with a leading axis D.
    n_lags : factor lags in the state.
    factor_var : (D, k), optional
        Stationary mean factor innovation variances per draw; None for ones.
    obs_scale : (D, N), optional
        Stationary mean multipliers of the idiosyncratic innovation variances; None for ones.
    """
    lam = np.asarray(draws["loadings"], dtype=float)
    D, n, k = lam.shape
    sd = np.asarray(draws["idio_sd"], dtype=float)
    rho = idio_ar(draws)
    q = [None] * D if factor_var is None else np.asarray(factor_var, dtype=float)
    sig_f = np.stack(
        [stationary_state_cov(a, n_lags, q[d])[:k, :k] for d, a in enumerate(draws["factor_ar"])]
    )
    var = sd**2 if obs_scale is None else sd**2 * np.asarray(obs_scale, dtype=float)
    return Moments(
        intercept=np.zeros((D, n)),
        loadings=lam,
        f_mean=np.zeros((D, k)),
        u_mean=np.zeros((D, n)),
        f_gain=np.zeros((D, k, 0)),
        u_gain=np.zeros((D, n, 0)),
        z_cov=np.zeros((D, 0, 0)),
        xi_cov=sig_f,
        e_var=var / (1 - rho**2),
    )
