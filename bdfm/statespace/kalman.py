"""Public entry points of the collapsed Kalman filter.

- :func:`kalman_loglike` — the pytensor graph (differentiable, every backend).
- :func:`filter_states` / :func:`smooth_states` — numpy results with the
  predicted, filtered and smoothed state moments, for smoothers and forecasts.

All take the collapsed statistics ``C`` (T, d, d) and ``b`` (T, d), the top rows
``A`` (k, m) of the companion transition, the innovation variances ``q`` (T, k)
and the initial state covariance ``P0`` (m, m); see
:mod:`bdfm.statespace.kernels` for the maths.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bdfm.statespace import kernels
from bdfm.statespace.ops import kalman_loglik_op

__all__ = ["FilterResult", "SmootherResult", "filter_states", "kalman_loglike", "smooth_states"]


class FilterResult(NamedTuple):
    """Moments of the state s_t given y_{1:t-1} (pred) and y_{1:t} (filt)."""

    loglike_state: np.ndarray  #: (T,) state part of log p(y_t | y_{1:t-1})
    x_pred: np.ndarray  #: (T, m)
    P_pred: np.ndarray  #: (T, m, m)
    x_filt: np.ndarray  #: (T, m)
    P_filt: np.ndarray  #: (T, m, m)


class SmootherResult(NamedTuple):
    """Moments of the state s_t given all data."""

    x_smooth: np.ndarray  #: (T, m)
    P_smooth: np.ndarray  #: (T, m, m)
    P_lag: np.ndarray  #: (T, m, m), Cov(s_{t+1}, s_t | y); last row zero


def kalman_loglike(C, b, A, q, P0):
    """State part of log p(y_t | y_{1:t-1}) as a (T,) pytensor tensor (with gradient)."""
    return kalman_loglik_op(C, b, A, q, P0)[0]


def _arrays(*xs):
    return [np.ascontiguousarray(x, dtype=np.float64) for x in xs]


def filter_states(C, b, A, q, P0) -> FilterResult:
    """Run the filter on numpy inputs and keep every moment."""
    return FilterResult(*kernels.filter_full(*_arrays(C, b, A, q, P0)))


def smooth_states(filtered: FilterResult, A) -> SmootherResult:
    """RTS smoother on the output of :func:`filter_states`.

    Raises
    ------
    FloatingPointError
        If a predicted covariance is not positive definite.
    """
    x_s, P_s, P_lag, ok = kernels.smoother(
        filtered.x_pred, filtered.P_pred, filtered.x_filt, filtered.P_filt, *_arrays(A)
    )
    if not ok:
        raise FloatingPointError(
            "smoother failed: a predicted state covariance is not positive definite"
        )
    return SmootherResult(x_s, P_s, P_lag)
