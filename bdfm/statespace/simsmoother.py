r"""Posterior draws of the factors: the Durbin & Koopman (2002) simulation smoother.

For one parameter draw θ, a draw of ``f_{1:T} | y, θ`` is

    f = f⁺ + E[f | y] − E[f⁺ | y⁺],

where ``(f⁺, y⁺)`` is simulated from the model at θ (same missing-value pattern).
By linearity ``E[f | y] − E[f⁺ | y⁺]`` is the smoothed mean of ``y − y⁺``. The data
``y`` and ``y − y⁺`` share their missing-value pattern, hence the collapsed
precisions and every filter covariance: one covariance pass of the filter serves
both, and :func:`bdfm.statespace.smooth_means.smooth_means` then smooths the two
sets of means together (no smoothed covariances are needed). ``E[f | y, θ]`` is
the first of them.

The filter sees the data only through the collapsed statistics
``b_t = Z_t' W_t ỹ_t`` and ``C_t = Z_t' W_t Z_t`` (:mod:`bdfm.statespace.stats`:
``ỹ_t`` the observed y_t, quasi-differenced under AR(1) errors, ``Z_t`` its design on
the state ``x_t`` = f_t, or (f_t, f_{t-1}) under AR(1) errors, ``W_t`` the inverse
variances of its independent errors). So y⁺ is never formed (random stream 2):
``b⁺_t = C_t x⁺_t + L_t z_t`` with ``L_t L_t' = C_t`` and z_t standard normal has
exactly the law of ``Z_t' W_t ỹ⁺_t`` — the errors of ``ỹ_t`` are independent over
dates — at O(T d³) instead of O(T N k) and with d instead of N normals per date.
Random stream 1 (fits saved before the stream was recorded) simulated y⁺ itself;
:func:`simulation_smoother` keeps it to rebuild those draws. Both follow the
error model the likelihood uses, including the "restart" of an AR(1) error after
an interior gap (a date whose ``ỹ_t`` is y_t with the stationary error variance).

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
from bdfm.statespace.inputs import (
    companion_matrix,
    obs_b,
    obs_stats,
    stationary_cov,
    transition_top,
)
from bdfm.statespace.smooth_means import smooth_means
from bdfm.statespace.stats import ar1_inputs

__all__ = ["STREAM", "simulation_smoother"]

#: Version of the random stream of :func:`simulation_smoother` (recorded in fits, so
#: that a saved fit's factor draws are rebuilt from the stream they were drawn with).
STREAM = 2


def _smoothed_means(C, B, top, q, P0):
    """Smoothed state means (R, T, m) for the right-hand sides ``B`` (R, T, d) that share
    the precisions ``C``: one covariance pass of the filter serves all of them.

    Also returns the filter's state part of ``log p(y_t | y_{1:t-1})`` (T,) for ``B[0]``.
    """
    ll, _, P_pred, _, P_filt = kernels.filter_full(C, B[0], top, q, P0)
    return smooth_means(C, B, top, P_pred, P_filt), ll


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
def _observations(f, lam, z, z_fresh, restart, idio_sd, scale, rho):
    """y⁺ (D, T, N) = f Λ' + u from standard normals ``z`` (and ``z_fresh`` for AR(1)).

    iid errors (``rho`` empty): u = σ √s z. AR(1) errors: u_t = ρ u_{t-1} + σ √s z_t,
    restarted from its stationary law σ √s / √(1 − ρ²) z_fresh[d, restart[t, i]] where
    ``restart`` (T, N) is not negative (the first observation, after an interior gap,
    and t = 0). ``scale`` (D, T, N) multiplies σ², empty for ones.
    """
    D, n_time, k = f.shape
    n = lam.shape[1]
    ar1 = rho.shape[0] > 0
    y = np.empty((D, n_time, n))
    u = np.zeros(n)
    for d in range(D):
        for t in range(n_time):
            for i in range(n):
                s = idio_sd[d, i]
                if scale.shape[0] > 0:
                    s = s * np.sqrt(scale[d, t, i])
                e = z[d, t, i] * s
                if ar1:
                    if restart[t, i] >= 0:
                        u[i] = z_fresh[d, restart[t, i]] * (s / np.sqrt(1.0 - rho[d, i] ** 2))
                    else:
                        u[i] = rho[d, i] * u[i] + e
                else:
                    u[i] = e
                acc = 0.0
                for j in range(k):
                    acc += f[d, t, j] * lam[d, i, j]
                y[d, t, i] = acc + u[i]
    return y


@njit(cache=True, nogil=True, error_model="numpy")
def _collapsed_b(C, f, z):
    """b⁺ (T, d) = C_t x⁺_t + L_t z_t, L_t L_t' = C_t (module docstring; stream 2).

    ``C`` (T, d, d) collapsed precisions, ``f`` (T, k) simulated factors, x_t = f_t
    (d = k) or (f_t, f_{t-1}) (d = 2k; f_{-1} enters no statistic at t = 0: every
    observed error starts there), ``z`` (T, d) standard normals. C_t is only positive
    semidefinite where fewer than d series are observed: a pivot below 1e-12 of the
    largest diagonal entry gives a zero column of L_t (exact for a singular C_t).
    """
    n_time, d, _ = C.shape
    k = f.shape[1]
    out = np.empty((n_time, d))
    L = np.zeros((d, d))
    x = np.zeros(d)
    for t in range(n_time):
        same = t > 0  # C_t = C_{t-1} (same series observed, constant variances): keep L
        tol = 0.0
        for i in range(d):
            tol = max(tol, C[t, i, i])
            x[i] = f[t, i] if i < k else (f[t - 1, i - k] if t > 0 else 0.0)
            for j in range(d):
                same = same and C[t, i, j] == C[t - 1, i, j]
        tol *= 1e-12
        if not same:
            for j in range(d):
                piv = C[t, j, j]
                for m in range(j):
                    piv -= L[j, m] * L[j, m]
                if piv > tol:
                    L[j, j] = np.sqrt(piv)
                    for i in range(j + 1, d):
                        acc = C[t, i, j]
                        for m in range(j):
                            acc -= L[i, m] * L[j, m]
                        L[i, j] = acc / L[j, j]
                else:
                    for i in range(j, d):
                        L[i, j] = 0.0
        for i in range(d):
            acc = 0.0
            for j in range(d):
                acc += C[t, i, j] * x[j]
            for j in range(i + 1):
                acc += L[i, j] * z[t, j]
            out[t, i] = acc
    return out


def _simulate_factors(rng, factor_ar, n_time, factor_var=None):
    """f⁺ (D, T, k) for a batch of D draws of the VAR coefficients (D, p, k, k).

    Draws, in this order, the first companion state of each draw (stationary law)
    and the shocks (T - 1, D, k); ``factor_var`` (D, T, k) scales them (None: ones).
    """
    D, p, k, _ = factor_ar.shape
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
    return _factor_paths(np.ascontiguousarray(comp), state, shocks, k)


def _simulate_data(rng, f, loadings, idio_sd, idio_ar, m_start, obs_scale=None):
    """y⁺ (D, T, N) given f⁺ (D, T, k): random stream 1 (see the module docstring).

    Draws the error normals (D, T, N) and, for AR(1) errors, one restart normal per
    (t, i) (D, T N), used where the error restarts (t = 0, first observation, after
    a gap). ``obs_scale`` (D, T, N) multiplies σ² (None: ones).
    """
    D, n_time, _ = f.shape
    n = loadings.shape[1]
    z = rng.standard_normal((D, n_time, n))
    ar1 = idio_ar is not None
    restart = np.full((n_time, n), -1)
    z_fresh = np.empty((0, 0))
    if ar1:
        starts = (m_start > 0) | (np.arange(n_time) == 0)[:, None]
        restart[starts] = np.flatnonzero(starts)
        z_fresh = rng.standard_normal((D, n_time * n))
    return _observations(
        f,
        np.ascontiguousarray(loadings),
        z,
        z_fresh,
        restart,
        np.ascontiguousarray(idio_sd),
        np.empty((0, 0, 0)) if obs_scale is None else np.ascontiguousarray(obs_scale),
        np.ascontiguousarray(idio_ar) if ar1 else np.empty((0, 0)),
    )


def _lagged(x):
    """x shifted down one period, zero in the first row (the ``y_lag`` of ar1_inputs)."""
    out = np.zeros_like(x)
    out[1:] = x[:-1]
    return out


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
    stream: int | None = None,
    with_loglik: bool = False,
) -> tuple[np.ndarray, ...]:
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
    stream : version of the random stream, :data:`STREAM` (the default) or 1. Both draw
        per batch the first states (D, k p) and the factor shocks (T - 1, D, k); stream 2
        then draws d normals per date (D, T, d) for the collapsed statistics b⁺ (d = k,
        or 2k under AR(1) errors); stream 1 simulated the data y⁺: normals (D, T, N)
        and, under AR(1) errors, restart normals (D, T N). Stream 1 gives the draws a
        fit saved before the stream was recorded (rebuilt by :func:`bdfm.load`).
    with_loglik : bool
        Also return the pointwise log-likelihood, from the same filter pass.

    Returns
    -------
    factors : (D, T, k) draws of f_{1:T} | y, θ_d.
    smoothed : (D, T, k) E[f_{1:T} | y, θ_d].
    loglik : (D, T), only with ``with_loglik``: ``log p(y_t | y_{1:t-1}, θ_d)`` in model
        units — given the volatility paths when ``factor_var``/``obs_scale`` are passed
        (then it scores y_t with paths smoothed with y_t: not a predictive density).

    Raises
    ------
    ValueError
        If ``factor_var`` or ``obs_scale`` does not have the shape above.
    """
    stream = STREAM if stream is None else stream
    if stream not in (1, STREAM):
        raise ValueError(f"unknown random stream version {stream!r}: expected 1 or {STREAM}")
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
    d_obs = k if rho_all is None else 2 * k
    factors = np.empty((D, n_time, k))
    smoothed = np.empty((D, n_time, k))
    loglik = np.empty((D, n_time)) if with_loglik else None
    for lo in range(0, D, batch):
        hi = min(D, lo + batch)
        fv = None if fv_all is None else fv_all[lo:hi]
        f_plus = _simulate_factors(rng, np.asarray(draws["factor_ar"][lo:hi], float), n_time, fv)
        if stream == 1:
            y_plus = _simulate_data(
                rng,
                f_plus,
                lam_all[lo:hi],
                np.asarray(draws["idio_sd"][lo:hi], dtype=float),
                None if rho_all is None else np.asarray(rho_all[lo:hi], dtype=float),
                m_start,
                None if scale_all is None else scale_all[lo:hi],
            )
        else:
            z = rng.standard_normal((hi - lo, n_time, d_obs))
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
            C, b0, const = obs_stats(y, mask, lam, sd, rho, c or None, scale)
            if stream == 1:  # b of y - y⁺, from the simulated data
                diff = np.ascontiguousarray((y - y_plus[j]) * mask)
                ar1 = {**c, "y_lag": _lagged(diff)} if c else None
                b_diff = obs_b(diff, mask, lam, sd, rho, ar1, scale)
            else:  # b of y - y⁺ straight from the collapsed law of b⁺
                b_diff = b0 - _collapsed_b(C, f_plus[j], z[j])
            means, ll = _smoothed_means(C, np.stack([b0, b_diff]), top, q_d, P0)
            factors[d] = f_plus[j] + means[1, :, :k]
            smoothed[d] = means[0, :, :k]
            if loglik is not None:
                loglik[d] = const + ll
    if loglik is not None:
        return factors, smoothed, loglik
    return factors, smoothed
