r"""Posterior draws of the factors: the Durbin & Koopman (2002) simulation smoother.

For one parameter draw θ, a draw of ``f_{1:T} | y, θ`` is

    f = f⁺ + E[f | y] − E[f⁺ | y⁺],

where ``(f⁺, y⁺)`` is simulated from the model at θ (same missing-value pattern).
By linearity ``E[f | y] − E[f⁺ | y⁺]`` is the smoothed mean of ``y − y⁺``, so one
filter and one smoother pass on the collapsed k-dimensional statistics give the
draw; a second pass on ``y`` gives the smoothed mean ``E[f | y, θ]``. The
simulated idiosyncratic errors follow the model the likelihood uses, including
the "restart" of an AR(1) error after an interior gap.

Simulation is vectorised over a batch of draws; the passes call the numba kernels
directly (no pytensor graph).
"""

from __future__ import annotations

import numpy as np

from bdfm.statespace import kernels
from bdfm.statespace.inputs import companion_matrix, obs_stats, stationary_cov, transition_top
from bdfm.statespace.stats import ar1_inputs

__all__ = ["simulation_smoother"]


def _smoothed_mean(y, y_lag, mask, c, lam, sd, rho, top, q, P0):
    """E[f_t | y] (T, k) for data ``y`` (zeros where missing); ``y_lag`` only for AR(1)."""
    ar1 = None if rho is None else {**c, "y_lag": y_lag}
    C, b, _ = obs_stats(y, mask, lam, sd, rho, ar1)
    _, x_pred, P_pred, x_filt, P_filt = kernels.filter_full(C, b, top, q, P0)
    x_s = kernels.smoother(x_pred, P_pred, x_filt, P_filt, top)[0]
    return x_s[:, : lam.shape[1]]


def _simulate_batch(rng, factor_ar, loadings, idio_sd, idio_ar, m_start, n_time):
    """Simulate (f⁺, y⁺) for a batch of D parameter draws: (D, T, k), (D, T, N)."""
    D, p, k, _ = factor_ar.shape
    n = loadings.shape[1]
    comp = np.stack([companion_matrix(a) for a in factor_ar])
    state = np.empty((D, k * p))
    for d in range(D):
        P0 = stationary_cov(comp[d, :k, :])
        L = np.linalg.cholesky(P0 + 1e-12 * np.eye(k * p))
        state[d] = L @ rng.standard_normal(k * p)
    f = np.empty((D, n_time, k))
    f[:, 0] = state[:, :k]
    for t in range(1, n_time):
        state = np.einsum("dij,dj->di", comp, state)
        state[:, :k] += rng.standard_normal((D, k))
        f[:, t] = state[:, :k]
    eps = rng.standard_normal((D, n_time, n)) * idio_sd[:, None, :]
    if idio_ar is not None:
        stat_sd = idio_sd / np.sqrt(1.0 - idio_ar**2)
        u = np.empty_like(eps)
        fresh = rng.standard_normal((D, n_time, n)) * stat_sd[:, None, :]
        u[:, 0] = fresh[:, 0]
        for t in range(1, n_time):
            ar = idio_ar * u[:, t - 1] + eps[:, t]
            u[:, t] = np.where(m_start[t] > 0, fresh[:, t], ar)
        eps = u
    y = np.einsum("dtk,dnk->dtn", f, loadings) + eps
    return f, y


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
        ``factor_ar`` (D, p, k, k), ``idio_sd`` (D, N) and, for AR(1) errors, ``idio_ar``.
    n_state_lags : lags of f in the state (:func:`bdfm.statespace.assemble.n_state_lags`).

    Returns
    -------
    factors : (D, T, k) draws of f_{1:T} | y, θ_d.
    smoothed : (D, T, k) E[f_{1:T} | y, θ_d].
    """
    rng = np.random.default_rng(random_seed)
    y = np.ascontiguousarray(y, dtype=float)
    mask = np.ascontiguousarray(mask, dtype=float)
    lam_all = np.asarray(draws["loadings"], dtype=float)
    D, n_time, k = lam_all.shape[0], y.shape[0], lam_all.shape[2]
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
        )
        for j, d in enumerate(range(lo, hi)):
            lam = lam_all[d]
            sd = draws["idio_sd"][d]
            rho = None if rho_all is None else rho_all[d]
            top = transition_top(draws["factor_ar"][d], n_state_lags)
            P0 = stationary_cov(top)
            args = (mask, c, lam, sd, rho, top, q, P0)
            mean_y = _smoothed_mean(y, c.get("y_lag"), *args)
            diff = np.ascontiguousarray((y - y_plus[j]) * mask)
            diff_lag = ar1_inputs(diff, mask > 0)["y_lag"] if rho is not None else None
            factors[d] = f_plus[j] + _smoothed_mean(diff, diff_lag, *args)
            smoothed[d] = mean_y
    return factors, smoothed
