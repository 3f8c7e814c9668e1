r"""Dense joint-Gaussian oracles of the factor model with time-varying variances.

Independent of bdfm's code: everything is built with numpy/scipy from the model's
definition,

.. math::

    y_t = \Lambda f_t + u_t,\qquad
    s_t = \mathbf{T} s_{t-1} + R\,\eta_t,\quad \eta_t \sim N(0, \mathrm{diag}(q_t))\ (t \ge 1),

with the companion state ``s_t = (f_t, ..., f_{t-p+1})``, ``q = factor_var`` (T, k)
and ``s_0 ~ N(0, P_0)``, ``P_0`` the stationary covariance of the VAR with
innovation variances ``q_0`` (so row 0 of ``factor_var`` only sets the initial
covariance). The idiosyncratic errors have per-date variance multipliers
``obs_scale`` (T, N):

- iid: ``u_it ~ N(0, σ_i² s_it)``;
- AR(1): ``u_it = ρ_i u_{i,t-1} + ε_it``, ``ε_it ~ N(0, σ_i² s_it)``; at the first
  observation of a series, and at the first observation after an interior gap,
  the process (re)starts from ``u_it ~ N(0, σ_i² s_it / (1 - ρ_i²))`` independent
  of its past (bdfm's documented treatment, :mod:`bdfm.statespace.stats`).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_discrete_lyapunov, solve_triangular
from scipy.stats import multivariate_normal

__all__ = [
    "tv_factor_cov",
    "tv_factor_posterior",
    "tv_idio_cov",
    "tv_loglike",
    "tv_loglike_terms",
    "tv_y_cov",
]


def _companion(factor_ar):
    p, k, _ = factor_ar.shape
    m = k * p
    Tm = np.zeros((m, m))
    for lag in range(p):
        Tm[:k, lag * k : (lag + 1) * k] = factor_ar[lag]
    Tm[k:, :-k] = np.eye(m - k)
    return Tm


def tv_factor_cov(factor_ar, factor_var):
    """Cov(vec f_{1:T}) (Tk, Tk), time-major, of the VAR with innovation variances ``factor_var``.

    ``η_t`` (the innovation of ``f_t``) has variance ``factor_var[t]`` for t >= 1;
    ``factor_var[0]`` only enters through the stationary covariance of ``s_0``.
    """
    factor_ar = np.asarray(factor_ar, dtype=float)
    q = np.asarray(factor_var, dtype=float)
    T, k = q.shape
    Tm = _companion(factor_ar)
    m = Tm.shape[0]

    def shock(t):
        Q = np.zeros((m, m))
        Q[:k, :k] = np.diag(q[t])
        return Q

    var = [solve_discrete_lyapunov(Tm, shock(0))]
    for t in range(1, T):
        var.append(Tm @ var[-1] @ Tm.T + shock(t))
    cov = np.zeros((T * k, T * k))
    for u in range(T):
        block = var[u]  # Cov(s_t, s_u) = Tm^(t-u) Var(s_u) for t >= u
        for t in range(u, T):
            cov[t * k : (t + 1) * k, u * k : (u + 1) * k] = block[:k, :k]
            cov[u * k : (u + 1) * k, t * k : (t + 1) * k] = block[:k, :k].T
            block = Tm @ block
    return cov


def tv_idio_cov(obs, idio_sd, obs_scale, idio_ar=None):
    """Cov(vec u_{1:T}) (TN, TN), time-major, of iid or AR(1) errors with per-date scales."""
    obs = np.asarray(obs, dtype=bool)
    T, N = obs.shape
    var = np.asarray(idio_sd, dtype=float) ** 2 * np.asarray(obs_scale, dtype=float)  # (T, N)
    cov = np.zeros((T * N, T * N))
    for i in range(N):
        idx = np.arange(T) * N + i
        if idio_ar is None:
            cov[idx, idx] = var[:, i]
            continue
        rho = float(idio_ar[i])
        v = np.empty(T)  # Var(u_it)
        seg = np.empty(T, dtype=int)
        for t in range(T):
            start = t == 0 or (obs[t, i] and not obs[t - 1, i])
            seg[t] = 0 if t == 0 else seg[t - 1] + int(start)
            v[t] = var[t, i] / (1 - rho**2) if start else rho**2 * v[t - 1] + var[t, i]
        for t in range(T):
            for u in range(t + 1):
                if seg[t] == seg[u]:
                    c = rho ** (t - u) * v[u]
                    cov[idx[t], idx[u]] = cov[idx[u], idx[t]] = c
    return cov


def tv_y_cov(obs, loadings, factor_ar, idio_sd, idio_ar=None, *, factor_var, obs_scale):
    """Cov(vec y_{1:T}) (TN, TN), time-major, of the model with time-varying variances."""
    T = np.shape(obs)[0]
    big = np.kron(np.eye(T), loadings)
    cov = big @ tv_factor_cov(factor_ar, factor_var) @ big.T
    return cov + tv_idio_cov(obs, idio_sd, obs_scale, idio_ar)


def tv_loglike_terms(y, *args, **kwargs):
    """One-step log densities log p(y_t | y_{1:t-1}) (T,) of the observed entries of ``y``.

    ``y`` (T, N) has NaN where missing; ``args``/``kwargs`` as in :func:`tv_y_cov`. The
    Cholesky factor of the observed entries' covariance (time-major order) gives each
    entry's density given all earlier entries; they are summed per date.
    """
    T, N = y.shape
    obs = ~np.isnan(y)
    keep = obs.ravel()
    cov = tv_y_cov(obs, *args, **kwargs)[np.ix_(keep, keep)]
    chol = np.linalg.cholesky(cov)
    z = solve_triangular(chol, y.ravel()[keep], lower=True)
    per_entry = -0.5 * z**2 - np.log(np.diag(chol)) - 0.5 * np.log(2 * np.pi)
    rows = np.repeat(np.arange(T), N)[keep]
    return np.bincount(rows, weights=per_entry, minlength=T)


def tv_loglike(y, *args, **kwargs):
    """Total log-density of the observed entries of ``y`` (scipy's multivariate normal)."""
    obs = ~np.isnan(y)
    keep = obs.ravel()
    cov = tv_y_cov(obs, *args, **kwargs)[np.ix_(keep, keep)]
    return multivariate_normal(mean=np.zeros(keep.sum()), cov=cov).logpdf(y.ravel()[keep])


def tv_factor_posterior(y, loadings, factor_ar, idio_sd, idio_ar=None, *, factor_var, obs_scale):
    """E[f | y] (T, k) and Cov(vec f | y) (Tk, Tk) by brute-force Gaussian conditioning."""
    T = y.shape[0]
    obs = ~np.isnan(y)
    keep = obs.ravel()
    cov_f = tv_factor_cov(factor_ar, factor_var)
    H = np.kron(np.eye(T), loadings)[keep]
    cov_y = H @ cov_f @ H.T + tv_idio_cov(obs, idio_sd, obs_scale, idio_ar)[np.ix_(keep, keep)]
    gain = np.linalg.solve(cov_y, H @ cov_f).T
    mean = gain @ y.ravel()[keep]
    return mean.reshape(T, -1), cov_f - gain @ H @ cov_f
