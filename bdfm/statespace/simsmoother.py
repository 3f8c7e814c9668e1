r"""Posterior draws of the factors: the Durbin & Koopman (2002) simulation smoother.

For one parameter draw θ, a draw of ``f_{1:T} | y, θ`` is

    f = f⁺ + E[f | y] − E[f⁺ | y⁺],

where ``(f⁺, y⁺)`` is simulated from the model at θ (same missing-value pattern).
By linearity ``E[f | y] − E[f⁺ | y⁺]`` is the smoothed mean of ``y − y⁺``. The data
``y`` and ``y − y⁺`` share their missing-value pattern, hence the collapsed
precisions and every filter covariance: one covariance pass of the filter serves
both, and :func:`bdfm.statespace.smooth_means.smooth_means` then smooths the two
sets of means together (no smoothed covariances are needed). ``E[f | y, θ]`` is
the first of them. The
simulated idiosyncratic errors follow the model the likelihood uses, including
the "restart" of an AR(1) error after an interior gap.

θ may include time-varying variances (stochastic volatility, scale mixtures), with
the semantics of :func:`bdfm.statespace.assemble.dfm_loglike_pointwise`:
``factor_var[t]`` is the variance of the factor innovation η_t entering f_t
(t ≥ 1) and ``factor_var[0]`` sets the stationary covariance of the first state;
``obs_scale[t, i]`` multiplies σ_i² at date t — the iid error's variance, or under
AR(1) errors the innovation ε_it's variance and, where the error (re)starts, its
stationary variance σ_i² obs_scale[t, i] / (1 − ρ_i²).

Simulation is vectorised over a batch of draws; the passes call the numba kernels
directly (no pytensor graph).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bdfm.statespace import kernels
from bdfm.statespace.inputs import companion_matrix, obs_stats, stationary_cov, transition_top
from bdfm.statespace.smooth_means import smooth_means
from bdfm.statespace.stats import ar1_inputs

__all__ = ["simulation_smoother"]


def _stats(y, mask, lam, sd, rho, ar1, scale):
    """Collapsed statistics ``(C, b)``; ``scale`` (T, N) multiplies σ², None for ones."""
    return obs_stats(y, mask, lam, sd, rho, ar1, scale)[:2]


def _smoothed_means(ys, y_lags, mask, c, lam, sd, rho, top, q, P0, scale=None):
    """E[f_t | y] (R, T, k) for each data set in ``ys`` (zeros where missing; same mask).

    ``y_lags`` only for AR(1). One covariance pass of the filter serves all of them.
    """
    stats = [
        _stats(y, mask, lam, sd, rho, None if rho is None else {**c, "y_lag": y_lag}, scale)
        for y, y_lag in zip(ys, y_lags, strict=True)
    ]
    C = stats[0][0]
    _, _, P_pred, _, P_filt = kernels.filter_full(C, stats[0][1], top, q, P0)
    B = np.stack([b for _, b in stats])
    return smooth_means(C, B, top, P_pred, P_filt)[:, :, : lam.shape[1]]


@njit(cache=True, nogil=True, error_model="numpy")
def _factor_paths(comp, state, shocks, k):
    """f_t (D, T, k) of the companion recursion from ``state`` (D, m), shocks (T-1, D, k)."""
    D, m = state.shape
    n_time = shocks.shape[0] + 1
    f = np.empty((D, n_time, k))
    nxt = np.empty(m)
    for d in range(D):
        s = state[d].copy()
        for i in range(k):
            f[d, 0, i] = s[i]
        for t in range(1, n_time):
            for i in range(m):
                acc = 0.0
                for j in range(m):
                    acc += comp[d, i, j] * s[j]
                nxt[i] = acc
            for i in range(k):
                nxt[i] += shocks[t - 1, d, i]
            s[:] = nxt
            for i in range(k):
                f[d, t, i] = s[i]
    return f


@njit(cache=True, nogil=True, error_model="numpy")
def _ar1_errors(eps, fresh, rho, m_start):
    """AR(1) errors u_t = ρ u_{t-1} + ε_t, restarted (fresh draw) where ``m_start`` is set."""
    D, n_time, n = eps.shape
    u = np.empty_like(eps)
    for d in range(D):
        for i in range(n):
            u[d, 0, i] = fresh[d, 0, i]
            for t in range(1, n_time):
                if m_start[t, i] > 0:
                    u[d, t, i] = fresh[d, t, i]
                else:
                    u[d, t, i] = rho[d, i] * u[d, t - 1, i] + eps[d, t, i]
    return u


def _simulate_batch(
    rng, factor_ar, loadings, idio_sd, idio_ar, m_start, n_time, factor_var=None, obs_scale=None
):
    """Simulate (f⁺, y⁺) for a batch of D parameter draws: (D, T, k), (D, T, N).

    ``factor_var`` (D, T, k) and ``obs_scale`` (D, T, N) are optional time-varying
    variances (None: ones). The random numbers drawn do not depend on them.
    """
    D, p, k, _ = factor_ar.shape
    n = loadings.shape[1]
    comp = np.stack([companion_matrix(a) for a in factor_ar])
    state = np.empty((D, k * p))
    for d in range(D):
        if factor_var is None:
            P0 = stationary_cov(comp[d, :k, :])
        else:
            P0 = stationary_cov(comp[d, :k, :], factor_var[d, 0])
        L = np.linalg.cholesky(P0 + 1e-12 * np.eye(k * p))
        state[d] = L @ rng.standard_normal(k * p)
    shocks = rng.standard_normal((n_time - 1, D, k))
    if factor_var is not None:
        shocks *= np.sqrt(np.moveaxis(factor_var[:, 1:], 1, 0))
    f = _factor_paths(np.ascontiguousarray(comp), state, shocks, k)
    sd = idio_sd[:, None, :]
    if obs_scale is not None:
        sd = sd * np.sqrt(obs_scale)  # (D, T, N)
    eps = rng.standard_normal((D, n_time, n)) * sd
    if idio_ar is not None:
        stat_sd = sd / np.sqrt(1.0 - idio_ar[:, None, :] ** 2)
        fresh = rng.standard_normal((D, n_time, n)) * stat_sd
        eps = _ar1_errors(
            np.ascontiguousarray(np.broadcast_to(eps, (D, n_time, n))),
            np.ascontiguousarray(np.broadcast_to(fresh, (D, n_time, n))),
            np.ascontiguousarray(idio_ar),
            np.ascontiguousarray(m_start, dtype=np.float64),
        )
    y = np.einsum("dtk,dnk->dtn", f, loadings) + eps
    return f, y


def _optional(draws, name, shape):
    """A time-varying variance input of the draws as a float array of ``shape``, or None."""
    value = draws.get(name)
    if value is None:
        return None
    value = np.asarray(value, dtype=float)
    if value.shape != shape:
        raise ValueError(f"draws[{name!r}] has shape {value.shape}, expected {shape}")
    return value


def simulation_smoother(
    y: np.ndarray,
    mask: np.ndarray,
    draws: dict[str, np.ndarray],
    n_state_lags: int,
    random_seed=None,
    batch: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the factors and their smoothed means, one per parameter draw.

    Parameters
    ----------
    y : (T, N) data in model units, missing entries zero; mask : (T, N) 1.0 where observed.
    draws : dict of parameter draws with a leading draw axis D: ``loadings`` (D, N, k),
        ``factor_ar`` (D, p, k, k), ``idio_sd`` (D, N) and, for AR(1) errors, ``idio_ar``
        (D, N). Optional time-varying variances (absent or None: constant, as before):

        - ``factor_var`` (D, T, k): per-date factor innovation variances;
          ``factor_var[d, t]`` is the variance of η_t in ``f_t = Σ A_l f_{t-l} + η_t``
          (t ≥ 1) and ``factor_var[d, 0]`` sets the stationary covariance of the first
          state (the default ``P0`` of :func:`bdfm.statespace.assemble.dfm_loglike_pointwise`).
        - ``obs_scale`` (D, T, N): per-date multipliers of σ_i² — the variance of an iid
          error, or of the AR(1) innovation ε_it; where an AR(1) error (re)starts (first
          observation of a series, first after an interior gap) its stationary variance
          is σ_i² obs_scale[d, t, i] / (1 − ρ_i²).

        Both are used in the filter/smoother passes and in the simulation of (f⁺, y⁺).
        Other keys are ignored.
    n_state_lags : lags of f in the state (:func:`bdfm.statespace.assemble.n_state_lags`).
    random_seed : seed or Generator for :func:`numpy.random.default_rng`.
    batch : draws simulated together.

    Returns
    -------
    factors : (D, T, k) draws of f_{1:T} | y, θ_d.
    smoothed : (D, T, k) E[f_{1:T} | y, θ_d].

    Raises
    ------
    ValueError
        If ``factor_var`` or ``obs_scale`` does not have the shape above.
    """
    rng = np.random.default_rng(random_seed)
    y = np.ascontiguousarray(y, dtype=float)
    mask = np.ascontiguousarray(mask, dtype=float)
    lam_all = np.asarray(draws["loadings"], dtype=float)
    D, n_time, k = lam_all.shape[0], y.shape[0], lam_all.shape[2]
    fv_all = _optional(draws, "factor_var", (D, n_time, k))
    scale_all = _optional(draws, "obs_scale", (D, n_time, y.shape[1]))
    rho_all = draws.get("idio_ar")
    c = ar1_inputs(y, mask > 0) if rho_all is not None else {}
    m_start = c["m_start"] if rho_all is not None else None
    q = np.ones((n_time, k))
    factors = np.empty((D, n_time, k))
    smoothed = np.empty((D, n_time, k))
    for lo in range(0, D, batch):
        hi = min(D, lo + batch)
        f_plus, y_plus = _simulate_batch(
            rng,
            np.asarray(draws["factor_ar"][lo:hi], dtype=float),
            lam_all[lo:hi],
            np.asarray(draws["idio_sd"][lo:hi], dtype=float),
            None if rho_all is None else np.asarray(rho_all[lo:hi], dtype=float),
            m_start,
            n_time,
            None if fv_all is None else fv_all[lo:hi],
            None if scale_all is None else scale_all[lo:hi],
        )
        for j, d in enumerate(range(lo, hi)):
            lam = lam_all[d]
            sd = draws["idio_sd"][d]
            rho = None if rho_all is None else rho_all[d]
            top = transition_top(draws["factor_ar"][d], n_state_lags)
            if fv_all is None:
                q_d, P0 = q, stationary_cov(top)
            else:
                q_d = np.ascontiguousarray(fv_all[d])
                P0 = stationary_cov(top, q_d[0])
            scale = None if scale_all is None else np.ascontiguousarray(scale_all[d])
            diff = np.ascontiguousarray((y - y_plus[j]) * mask)
            diff_lag = ar1_inputs(diff, mask > 0)["y_lag"] if rho is not None else None
            means = _smoothed_means(
                (y, diff), (c.get("y_lag"), diff_lag), mask, c, lam, sd, rho, top, q_d, P0, scale
            )
            factors[d] = f_plus[j] + means[1]
            smoothed[d] = means[0]
    return factors, smoothed
