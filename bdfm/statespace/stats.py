r"""Per-time observation statistics that collapse N series onto the factor state.

For diagonal observation noise with variances :math:`v_{it}` and a mask
:math:`m_{it}` (1 = observed), the Gaussian observation density written as a
function of the observed part of the state :math:`z_t` (d-dimensional) is

.. math::

    \log p(y_t \mid z_t) = c_t + b_t' z_t - \tfrac12 z_t' C_t z_t,\\
    C_t = H' W_t H,\quad b_t = H' W_t y_t,\quad W_t = \mathrm{diag}(m_t / v_t),\\
    c_t = -\tfrac12\,[n_t \log 2\pi + \textstyle\sum_i m_{it}\log v_{it} + y_t' W_t y_t].

These are vectorised over time (BLAS matrix products, no recursion), computed
by compiled kernels with hand-written gradients (:mod:`bdfm.statespace.stats_kernels`).

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

from bdfm.statespace.stats_ops import (
    ar1_scaled_stats_op,
    ar1_stats_op,
    iid_scaled_stats_op,
    iid_stats_op,
)

__all__ = ["ObsStats", "ar1_inputs", "ar1_masks", "obs_stats_ar1", "obs_stats_iid"]


class ObsStats(NamedTuple):
    """Collapsed observation statistics (pytensor variables)."""

    C: pt.TensorVariable  #: (T, d, d)
    b: pt.TensorVariable  #: (T, d)
    const: pt.TensorVariable  #: (T,) the part of log p(y_t | past) not involving the state


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


def ar1_inputs(y: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """The AR(1) data inputs of :func:`obs_stats_ar1` / ``dfm_loglike_pointwise``.

    Parameters
    ----------
    y : (T, N) data with missing entries set to zero; mask : (T, N) bool, True where observed.

    Returns
    -------
    dict with ``y_lag`` (y shifted down one period, zero in the first row) and the
    masks ``m_diff`` and ``m_start`` of :func:`ar1_masks`, all C-contiguous floats.
    """
    m_diff, m_start, _ = ar1_masks(mask)
    y_lag = np.zeros_like(y, dtype=float)
    y_lag[1:] = y[:-1]
    return {"y_lag": y_lag, "m_diff": m_diff, "m_start": m_start}


def obs_stats_iid(y, mask, loadings, idio_var, obs_scale=None) -> ObsStats:
    """Statistics for iid idiosyncratic errors (one compiled kernel, with gradient).

    Parameters
    ----------
    y : (T, N) data with missing entries set to zero (they are masked out).
    mask : (T, N) 1.0 where observed, 0.0 where missing.
    loadings : (N, k) tensor.
    idio_var : (N,) idiosyncratic variances σ².
    obs_scale : (T, N) tensor, optional
        Per-time multiplier of the noise variance (Gaussian scale mixtures).
    """
    if obs_scale is None:
        return ObsStats(*iid_stats_op(y, mask, loadings, idio_var))
    return ObsStats(*iid_scaled_stats_op(y, mask, loadings, idio_var, obs_scale))


def obs_stats_ar1(
    y, y_lag, m_diff, m_start, loadings, idio_var, idio_ar, obs_scale=None
) -> ObsStats:
    """Statistics for AR(1) errors (state part z_t = (f_t, f_{t-1})), one compiled kernel.

    Parameters
    ----------
    y, y_lag : (T, N) data and data lagged by one period, missing entries zero.
    m_diff, m_start : (T, N) masks from :func:`ar1_masks`.
    loadings : (N, k); idio_var : (N,) innovation variances σ²; idio_ar : (N,) ρ.
    obs_scale : (T, N), optional multiplier of the innovation variance ``idio_var``;
        at a start date (m_start) it multiplies the fresh stationary variance
        ``idio_var / (1 - idio_ar²)``.
    """
    if obs_scale is None:
        return ObsStats(*ar1_stats_op(y, y_lag, m_diff, m_start, loadings, idio_var, idio_ar))
    return ObsStats(
        *ar1_scaled_stats_op(y, y_lag, m_diff, m_start, loadings, idio_var, idio_ar, obs_scale)
    )
