r"""Posterior draws of the factors: the Durbin & Koopman (2002) simulation smoother.

For one parameter draw θ, a draw of ``f_{1:T} | y, θ`` is

    f = f⁺ + E[f | y] − E[f⁺ | y⁺],

where ``(f⁺, y⁺)`` is simulated from the model at θ (same missing-value pattern).
By linearity ``E[f | y] − E[f⁺ | y⁺]`` is the smoothed mean of ``y − y⁺``, so one
filter and one smoother pass on the collapsed k-dimensional statistics give the
draw; a second pass on ``y`` gives the smoothed mean ``E[f | y, θ]``. The
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

from bdfm.statespace import kernels
from bdfm.statespace.inputs import companion_matrix, obs_stats, stationary_cov, transition_top
from bdfm.statespace.stats import ar1_inputs

__all__ = ["simulation_smoother"]


def _stats(y, mask, lam, sd, rho, ar1, scale):
    """Collapsed statistics ``(C, b)``; ``scale`` (T, N) multiplies σ², None for ones."""
    return obs_stats(y, mask, lam, sd, rho, ar1, scale)[:2]


def _smoothed_mean(y, y_lag, mask, c, lam, sd, rho, top, q, P0, scale=None):
    """E[f_t | y] (T, k) for data ``y`` (zeros where missing); ``y_lag`` only for AR(1)."""
    ar1 = None if rho is None else {**c, "y_lag": y_lag}
    C, b = _stats(y, mask, lam, sd, rho, ar1, scale)
    _, x_pred, P_pred, x_filt, P_filt = kernels.filter_full(C, b, top, q, P0)
    x_s = kernels.smoother(x_pred, P_pred, x_filt, P_filt, top)[0]
    return x_s[:, : lam.shape[1]]


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
    f = np.empty((D, n_time, k))
    f[:, 0] = state[:, :k]
    for t in range(1, n_time):
        state = np.einsum("dij,dj->di", comp, state)
        shock = rng.standard_normal((D, k))
        if factor_var is not None:
            shock *= np.sqrt(factor_var[:, t])
        state[:, :k] += shock
        f[:, t] = state[:, :k]
    sd = idio_sd[:, None, :]
    if obs_scale is not None:
        sd = sd * np.sqrt(obs_scale)  # (D, T, N)
    eps = rng.standard_normal((D, n_time, n)) * sd
    if idio_ar is not None:
        stat_sd = sd / np.sqrt(1.0 - idio_ar[:, None, :] ** 2)
        u = np.empty_like(eps)
        fresh = rng.standard_normal((D, n_time, n)) * stat_sd
        u[:, 0] = fresh[:, 0]
        for t in range(1, n_time):
            ar = idio_ar * u[:, t - 1] + eps[:, t]
            u[:, t] = np.where(m_start[t] > 0, fresh[:, t], ar)
        eps = u
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
            args = (mask, c, lam, sd, rho, top, q_d, P0, scale)
            mean_y = _smoothed_mean(y, c.get("y_lag"), *args)
            diff = np.ascontiguousarray((y - y_plus[j]) * mask)
            diff_lag = ar1_inputs(diff, mask > 0)["y_lag"] if rho is not None else None
            factors[d] = f_plus[j] + _smoothed_mean(diff, diff_lag, *args)
            smoothed[d] = mean_y
    return factors, smoothed
