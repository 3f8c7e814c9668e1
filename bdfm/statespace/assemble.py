"""Assemble the state-space pieces of a dynamic factor model as pytensor graphs.

The state is the companion vector ``s_t = (f_t, f_{t-1}, ..., f_{t-r+1})`` with
``r = max(p, 1)`` for iid errors and ``r = max(p, 2)`` for AR(1) errors (whose
quasi-differenced observation sees ``f_{t-1}``). Only the top ``k`` rows of the
transition are free: ``[A_1, ..., A_p, 0]``.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from bdfm.statespace import blas_link
from bdfm.statespace.kalman import kalman_loglike
from bdfm.statespace.stats import obs_stats_ar1, obs_stats_iid
from bdfm.statespace.stats_ops import lyapunov_op

# pytensor links SciPy's OpenBLAS when it finds no system BLAS (no warning, full speed)
blas_link.install()

__all__ = [
    "dfm_loglike_pointwise",
    "n_state_lags",
    "stationary_cov",
    "transition_top",
]


def n_state_lags(factor_order: int, idiosyncratic: str) -> int:
    """Number of factor lags held in the state vector."""
    return max(factor_order, 2 if idiosyncratic == "ar1" else 1)


def transition_top(factor_ar, n_lags: int):
    """(p, k, k) VAR coefficients -> (k, k * n_lags) top rows of the companion matrix.

    The symbolic counterpart of :func:`bdfm.statespace.inputs.transition_top`.
    """
    factor_ar = pt.as_tensor_variable(factor_ar)
    p, k = factor_ar.type.shape[0], factor_ar.shape[1]
    top = pt.concatenate([factor_ar[i] for i in range(p)], axis=1) if p > 1 else factor_ar[0]
    if n_lags > p:
        top = pt.concatenate([top, pt.zeros((k, k * (n_lags - p)))], axis=1)
    return top


def stationary_cov(top, q0):
    """Stationary covariance of the companion state (discrete Lyapunov equation).

    Parameters
    ----------
    top : (k, m) transition top rows.
    q0 : (k,) innovation variances.

    Solved by a compiled kernel with an adjoint-equation gradient
    (:func:`bdfm.statespace.stats_kernels.lyapunov_grad`); the symbolic
    counterpart of :func:`bdfm.statespace.inputs.stationary_cov`.
    """
    return lyapunov_op(top, q0)


def dfm_loglike_pointwise(
    y,
    mask,
    loadings,
    factor_ar,
    idio_sd,
    idio_ar=None,
    *,
    factor_var=None,
    obs_scale=None,
    y_lag=None,
    m_diff=None,
    m_start=None,
    P0=None,
):
    r"""Pointwise log p(y_t | y_{1:t-1}) of the dynamic factor model (pytensor graph).

    Parameters
    ----------
    y : (T, N) data, missing entries set to 0; mask : (T, N) 1.0 where observed.
    loadings : (N, k); factor_ar : (p, k, k) with ``factor_ar[l] = A_{l+1}``.
    idio_sd : (N,) idiosyncratic innovation standard deviations.
    idio_ar : (N,) AR(1) coefficients of the idiosyncratic errors, or None for iid.
    factor_var : (T, k), optional
        Per-time factor innovation variances (e.g. ``exp(h_t)`` for stochastic
        volatility); default identity. ``factor_var[t]`` (t >= 1) is the variance of
        the shock that enters ``f_t``; row 0 only sets the default ``P0``, the
        stationary covariance under ``factor_var[0]`` (with an explicit ``P0`` it
        has no effect). statsmodels' ``state_cov[..., t - 1]`` is ``factor_var[t]``.
    obs_scale : (T, N), optional
        Per-time multipliers of the idiosyncratic variances (scale mixtures): iid
        errors have variance ``idio_sd² obs_scale[t]``; AR(1) errors an innovation
        variance ``idio_sd² obs_scale[t]``, and at a start date (a series' first
        observation, or the first after an interior gap) a fresh stationary draw of
        variance ``idio_sd² obs_scale[t] / (1 - idio_ar²)``. Both are pinned by the
        dense-Gaussian and statsmodels oracles in ``tests/statespace/test_assemble.py``.
    y_lag, m_diff, m_start : (T, N) AR(1) inputs from
        :func:`bdfm.statespace.stats.ar1_masks` (required when ``idio_ar`` is given).
    P0 : (m, m), optional
        Covariance of the first state; default the stationary covariance.

    Returns
    -------
    (T,) tensor; its sum is the exact log-likelihood and is differentiable. All
    terms are -inf when the filter fails (a covariance that is not positive
    definite, or non-finite statistics from a vanishing idiosyncratic variance).
    """
    factor_ar = pt.as_tensor_variable(factor_ar)
    p = factor_ar.type.shape[0]
    if p is None:
        raise ValueError("factor_ar must have a static lag dimension (shape=(p, k, k))")
    n_lags = n_state_lags(p, "iid" if idio_ar is None else "ar1")
    top = transition_top(factor_ar, n_lags)
    k = factor_ar.type.shape[1]
    T = y.shape[0]
    if factor_var is None:
        # a constant when the sizes are known (no graph nodes to compile)
        factor_var = np.ones((T, k)) if isinstance(T, int) and k is not None else pt.ones((T, k))
    if P0 is None:
        P0 = stationary_cov(top, factor_var[0])
    idio_var = idio_sd**2
    if idio_ar is None:
        stats = obs_stats_iid(y, mask, loadings, idio_var, obs_scale)
    else:
        stats = obs_stats_ar1(y, y_lag, m_diff, m_start, loadings, idio_var, idio_ar, obs_scale)
    ll_state = kalman_loglike(stats.C, stats.b, top, factor_var, P0)
    # The filter returns -inf everywhere when a covariance is not positive definite,
    # which is also how non-finite statistics show up (e.g. an idiosyncratic
    # variance whose reciprocal overflows): keep -inf rather than -inf + inf = NaN.
    return pt.switch(pt.eq(ll_state, -np.inf), -np.inf, stats.const + ll_state)
