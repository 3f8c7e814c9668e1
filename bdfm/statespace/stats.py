r"""Per-time observation statistics that collapse N series onto the factor state.

For diagonal observation noise with variances :math:`v_{it}` and a mask
:math:`m_{it}` (1 = observed), the Gaussian observation density written as a
function of the observed part of the state :math:`z_t` (d-dimensional) is

.. math::

    \log p(y_t \mid z_t) = c_t + b_t' z_t - \tfrac12 z_t' C_t z_t,\\
    C_t = H' W_t H,\quad b_t = H' W_t y_t,\quad W_t = \mathrm{diag}(m_t / v_t),\\
    c_t = -\tfrac12\,[n_t \log 2\pi + \textstyle\sum_i m_{it}\log v_{it} + y_t' W_t y_t].

These are vectorised over time (matrix products, no recursion) and ordinary,
differentiable pytensor.

**iid errors**: ``z_t = f_t``, ``H = Λ``.

**AR(1) errors** (quasi-differencing, DESIGN.md section 2): where y_{i,t-1} is
observed, ``y_it - ρ_i y_{i,t-1} = λ_i'(f_t - ρ_i f_{t-1}) + ε_it`` with variance
σ_i²; otherwise (first observation of a series, or the first after a gap) the
observation is ``λ_i' f_t + u_it`` with the stationary variance σ_i²/(1-ρ_i²).
The state seen by the observation is ``z_t = (f_t, f_{t-1})``. This is the exact
likelihood for panels whose gaps are ragged edges (late starts, early ends). An
*interior* gap restarts the series' idiosyncratic process: the error after the
gap is drawn from its stationary distribution, independent of the error before
the gap (the correlation ρ^(g+1) across a gap of g missing points is dropped).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytensor.tensor as pt

__all__ = ["ObsStats", "ar1_masks", "obs_stats_ar1", "obs_stats_iid"]

_LOG_2PI = float(np.log(2.0 * np.pi))


class ObsStats(NamedTuple):
    """Collapsed observation statistics (pytensor variables)."""

    C: pt.TensorVariable  #: (T, d, d)
    b: pt.TensorVariable  #: (T, d)
    const: pt.TensorVariable  #: (T,) the part of log p(y_t | past) not involving the state


def _outer_rows(loadings):
    """(N, k) -> (N, k*k) with row i = vec(λ_i λ_i')."""
    k = loadings.shape[1]
    return (loadings[:, :, None] * loadings[:, None, :]).reshape((loadings.shape[0], k * k))


def obs_stats_iid(y, mask, loadings, idio_var, obs_scale=None) -> ObsStats:
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


def ar1_masks(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split observed points into quasi-differenced and (re)start observations.

    Returns ``(m_diff, m_start, y_lag_mask)`` as float arrays (T, N): ``m_diff``
    is 1 where y_t and y_{t-1} are both observed; ``m_start`` where y_t is
    observed but y_{t-1} is not (or t = 0).
    """
    mask = np.asarray(mask, dtype=bool)
    prev = np.zeros_like(mask)
    prev[1:] = mask[:-1]
    m_diff = mask & prev
    m_start = mask & ~prev
    return m_diff.astype(float), m_start.astype(float), prev.astype(float)


def obs_stats_ar1(
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
