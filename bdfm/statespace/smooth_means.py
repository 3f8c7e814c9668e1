"""Smoothed state means for several data sets that share one set of covariances.

The simulation smoother needs ``E[s_t | y]`` for the data ``y`` and for ``y - y⁺``
(:mod:`bdfm.statespace.simsmoother`). Both have the same missing-value pattern and
parameters, so the same collapsed precisions ``C_t`` and the same filter and
smoother covariances; only the right-hand sides ``b_t`` differ. One covariance pass
(:func:`bdfm.statespace.kernels.filter_full`) then serves every right-hand side:

* filter: ``x_filt_t = x_pred_t + P_filt_t H' (b_t - C_t H x_pred_t)`` (the
  information-form update, H the first d state components), ``x_pred_{t+1} = T x_filt_t``;
* RTS smoother: ``x_s_t = x_filt_t + J_t (x_s_{t+1} - x_pred_{t+1})`` with
  ``J_t' = P_pred_{t+1}⁻¹ T P_filt_t``, computed once per date for all right-hand sides
  (and kept while the filter was in its steady state).

No smoothed covariances are formed: the factor draws do not need them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bdfm.statespace.kernels import _smoother_gain

__all__ = ["smooth_means"]


@njit(cache=True, nogil=True, error_model="numpy")
def smooth_means(C, B, A, P_pred, P_filt):
    """Smoothed means ``(R, T, m)`` of the states for right-hand sides ``B`` (R, T, d).

    Parameters
    ----------
    C : (T, d, d) collapsed precisions; A : (k, m) top rows of the companion transition.
    B : (R, T, d) collapsed right-hand sides, one set per data set.
    P_pred, P_filt : (T, m, m) predicted and filtered covariances of the filter run on
        ``C`` (:func:`bdfm.statespace.kernels.filter_full`); the first state has mean 0.

    Returns
    -------
    (R, T, m) array of ``E[s_t | data r]``; NaN everywhere if a predicted covariance is
    not positive definite.
    """
    R, T, d = B.shape
    k, m = A.shape
    xp = np.empty((R, T, m))
    xf = np.empty((R, T, m))
    v = np.empty(d)
    for r in range(R):
        x = np.zeros(m)
        for t in range(T):
            for i in range(m):
                xp[r, t, i] = x[i]
            for i in range(d):
                s = B[r, t, i]
                for j in range(d):
                    s -= C[t, i, j] * x[j]
                v[i] = s
            for i in range(m):
                s = x[i]
                for j in range(d):
                    s += P_filt[t, i, j] * v[j]
                xf[r, t, i] = s
            for i in range(k):
                s = 0.0
                for j in range(m):
                    s += A[i, j] * xf[r, t, j]
                x[i] = s
            for i in range(k, m):
                x[i] = xf[r, t, i - k]
    xs = np.empty((R, T, m))
    for r in range(R):
        for i in range(m):
            xs[r, T - 1, i] = xf[r, T - 1, i]
    Lp = np.zeros((m, m))
    Jt = np.empty((m, m))
    for t in range(T - 2, -1, -1):
        if _smoother_gain(A, P_pred, P_filt, t, Lp, Jt) < 0:
            xs[:, :, :] = np.nan
            return xs
        for r in range(R):
            for i in range(m):
                s = xf[r, t, i]
                for p in range(m):
                    s += Jt[p, i] * (xs[r, t + 1, p] - xp[r, t + 1, p])
                xs[r, t, i] = s
    return xs
