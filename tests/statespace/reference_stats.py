"""Reference pytensor graphs of the observation statistics (autodiff oracle for the kernels).

These are the plain vectorised pytensor expressions bdfm used before the
statistics moved into compiled kernels; pytensor differentiates them
automatically, so they check the hand-written gradients independently.
"""

import numpy as np
import pytensor.tensor as pt

from bdfm.statespace.stats import ObsStats

_LOG_2PI = float(np.log(2.0 * np.pi))


def _outer_rows(loadings):
    """(N, k) -> (N, k*k) with row i = vec(λ_i λ_i')."""
    k = loadings.shape[1]
    return (loadings[:, :, None] * loadings[:, None, :]).reshape((loadings.shape[0], k * k))


def reference_stats_iid(y, mask, loadings, idio_var, obs_scale=None) -> ObsStats:
    """Statistics for iid idiosyncratic errors.

    Parameters
    ----------
    y : (T, N) data with missing entries set to zero (they are masked out).
    mask : (T, N) 1.0 where observed, 0.0 where missing.
    loadings : (N, k) tensor.
    idio_var : (N,) idiosyncratic variances σ².
    obs_scale : (T, N) tensor, optional
        Per-time multiplier of the noise variance (Gaussian scale mixtures).
    """
    T = y.shape[0]
    k = loadings.shape[1]
    var = idio_var[None, :] if obs_scale is None else idio_var[None, :] * obs_scale
    w = mask / var
    C = pt.dot(w, _outer_rows(loadings)).reshape((T, k, k))
    wy = w * y
    b = pt.dot(wy, loadings)
    const = -0.5 * (
        mask.sum(axis=1) * _LOG_2PI + (mask * pt.log(var)).sum(axis=1) + (wy * y).sum(axis=1)
    )
    return ObsStats(C, b, const)


def reference_stats_ar1(
    y, y_lag, m_diff, m_start, loadings, idio_var, idio_ar, obs_scale=None
) -> ObsStats:
    """Statistics for AR(1) idiosyncratic errors (state part z_t = (f_t, f_{t-1})).

    Parameters
    ----------
    y, y_lag : (T, N) data and data lagged by one period, missing entries zero.
    m_diff, m_start : (T, N) masks from :func:`ar1_masks`.
    loadings : (N, k); idio_var : (N,) innovation variances σ²; idio_ar : (N,) ρ.
    obs_scale : (T, N), optional multiplier of the innovation variance.
    """
    T = y.shape[0]
    k = loadings.shape[1]
    rho = idio_ar[None, :]
    var = idio_var[None, :] if obs_scale is None else idio_var[None, :] * obs_scale
    var_start = var / (1.0 - rho**2)
    w1 = m_diff / var
    w0 = m_start / var_start
    ystar = y - rho * y_lag
    LL = _outer_rows(loadings)
    C11 = pt.dot(w1 + w0, LL).reshape((T, k, k))
    C12 = -pt.dot(w1 * rho, LL).reshape((T, k, k))
    C22 = pt.dot(w1 * rho**2, LL).reshape((T, k, k))
    C = pt.concatenate(
        [pt.concatenate([C11, C12], axis=2), pt.concatenate([C12, C22], axis=2)], axis=1
    )
    w1y = w1 * ystar
    w0y = w0 * y
    b1 = pt.dot(w1y + w0y, loadings)
    b2 = -pt.dot(w1y * rho, loadings)
    b = pt.concatenate([b1, b2], axis=1)
    const = -0.5 * (
        (m_diff + m_start).sum(axis=1) * _LOG_2PI
        + (m_diff * pt.log(var) + m_start * pt.log(var_start)).sum(axis=1)
        + (w1y * ystar + w0y * y).sum(axis=1)
    )
    return ObsStats(C, b, const)
