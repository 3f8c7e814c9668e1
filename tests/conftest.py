"""Shared fixtures and independent oracles for the tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov
from scipy.stats import multivariate_normal

from bdfm.params import companion_matrix


def dense_factor_cov(T, factor_ar):
    """Cov(vec f_{1:T}) (Tk x Tk) of a stationary VAR(p) with identity innovations."""
    k = factor_ar.shape[1]
    Tm = companion_matrix(factor_ar)
    Q = np.zeros_like(Tm)
    Q[:k, :k] = np.eye(k)
    gamma0 = solve_discrete_lyapunov(Tm, Q)
    # Cov(f_s, f_t) for s >= t = top-left block of Tm^(s-t) gamma0
    cov_f = np.zeros((T * k, T * k))
    power = np.eye(Tm.shape[0])
    lag_blocks = []
    for _ in range(T):
        lag_blocks.append((power @ gamma0)[:k, :k])
        power = Tm @ power
    for s in range(T):
        for t in range(s + 1):
            block = lag_blocks[s - t]
            cov_f[s * k : (s + 1) * k, t * k : (t + 1) * k] = block
            cov_f[t * k : (t + 1) * k, s * k : (s + 1) * k] = block.T
    return cov_f


def dense_idio_cov(obs, idio_sd, idio_ar=None, restart_after_gaps=True):
    """Cov(vec u) (TN x TN, time-major) of iid or AR(1) idiosyncratic errors."""
    T, N = obs.shape
    cov = np.zeros((T * N, T * N))
    for i in range(N):
        idx = np.arange(T) * N + i
        if idio_ar is None:
            cov[idx, idx] += idio_sd[i] ** 2
            continue
        rho = idio_ar[i]
        seg = np.zeros(T, dtype=int)
        if restart_after_gaps:
            # a new segment starts at every observed point whose predecessor is missing
            starts = obs[:, i] & ~np.r_[False, obs[:-1, i]]
            seg = np.cumsum(starts)
        lags = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
        same = seg[:, None] == seg[None, :]
        cov[np.ix_(idx, idx)] += same * idio_sd[i] ** 2 * rho**lags / (1 - rho**2)
    return cov


def dense_loglike(y, loadings, factor_ar, idio_sd, idio_ar=None, restart_after_gaps=True):
    """Log-density of the observed entries of y from the full NT x NT covariance.

    Independent of bdfm's filter: builds Cov(vec y) from the VAR autocovariances
    and the idiosyncratic covariance, drops missing entries and calls scipy.
    With AR(1) errors and ``restart_after_gaps``, the idiosyncratic process of a
    series restarts (independent stationary draw) after every interior gap —
    bdfm's documented treatment; otherwise the true AR(1) covariance is used.
    """
    T = y.shape[0]
    obs = ~np.isnan(y)
    big_lam = np.kron(np.eye(T), loadings)
    cov = big_lam @ dense_factor_cov(T, factor_ar) @ big_lam.T
    cov += dense_idio_cov(obs, idio_sd, idio_ar, restart_after_gaps)
    keep = obs.ravel()
    yv = y.ravel()[keep]
    return multivariate_normal(mean=np.zeros(keep.sum()), cov=cov[np.ix_(keep, keep)]).logpdf(yv)


def dense_factor_posterior(y, loadings, factor_ar, idio_sd, idio_ar=None):
    """E[vec f | y] (T, k) and Cov(vec f | y) (Tk, Tk) by brute-force Gaussian conditioning."""
    T = y.shape[0]
    obs = ~np.isnan(y)
    cov_f = dense_factor_cov(T, factor_ar)
    H = np.kron(np.eye(T), loadings)[obs.ravel()]
    cov_y = (
        H @ cov_f @ H.T + dense_idio_cov(obs, idio_sd, idio_ar)[np.ix_(obs.ravel(), obs.ravel())]
    )
    gain = np.linalg.solve(cov_y, H @ cov_f).T
    mean = gain @ y.ravel()[obs.ravel()]
    return mean.reshape(T, -1), cov_f - gain @ H @ cov_f


@pytest.fixture
def rng():
    return np.random.default_rng(20261127)
