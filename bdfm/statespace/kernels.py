r"""Numba kernels for the collapsed (k-dimensional) Kalman filter and smoother.

The observation enters only through per-time *statistics* (see
:mod:`bdfm.statespace.stats`): ``C[t]`` (d x d) and ``b[t]`` (d,), acting on the
first ``d`` coordinates of the state. With a prediction ``s_t | past ~ N(x, P)``
and ``P = L L'``, ``G = I + L' C L = K K'`` the state part of the log-likelihood is

.. math::

    \ell_t = -\tfrac12\,[\log|G| + x'Cx - 2x'b - r' P_u r],\qquad r = b - Cx,

with the information-form update ``P_u = (P^{-1} + C)^{-1} = L G^{-1} L'`` and
``x_u = x + P_u r``. Everything in the recursion is m x m where ``m`` is the
state dimension: the number of series never enters it.

The state follows a companion form: the top ``k`` rows of the transition are the
input ``A`` (k x m); the remaining rows shift the state down by ``k``. The
innovation of the top block at time ``t`` has covariance ``diag(q[t])``
(``q[0]`` is unused: the first state is drawn from ``N(0, P0)``).

The gradient uses Fisher's identity: the total log-likelihood is
``log \int exp(sum_t b_t'f_t - f_t'C_t f_t / 2) p(f) df``, so
``d/db_t = E[f_t | y]`` and ``d/dC_t = -E[f_t f_t' | y] / 2``; the transition
gradients are the expected complete-data scores under the smoothing
distribution (RTS smoother with lag-one covariances). This is the exact
gradient of the total; it is one backward pass, with no tape.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bdfm.statespace._nb import fill, sym, transpose

__all__ = ["STEADY_TOL", "filter_full", "loglike_grad", "smoother"]

#: Relative change of the predicted covariance below which the filter switches
#: to its steady state (constant C_t and Q_t): the covariance recursion stops
#: and only the mean is propagated, as in statsmodels' steady-state switch.
STEADY_TOL = 1e-13


@njit(cache=True, nogil=True, error_model="numpy")
def _chol(a, out):
    """Lower Cholesky factor of the SPD matrix ``a`` into ``out``; False if not PD."""
    n = a.shape[0]
    for j in range(n):
        s = a[j, j]
        for p in range(j):
            s -= out[j, p] * out[j, p]
        if not (s > 0.0) or not np.isfinite(s):
            return False
        dj = np.sqrt(s)
        out[j, j] = dj
        for i in range(j + 1, n):
            s = a[i, j]
            for p in range(j):
                s -= out[i, p] * out[j, p]
            out[i, j] = s / dj
        for i in range(j):
            out[i, j] = 0.0
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def _cho_solve_inplace(lo, rhs):
    """Solve ``(lo lo') X = rhs`` for X (overwrites ``rhs``, shape m x n)."""
    m, n = rhs.shape
    for c in range(n):
        for i in range(m):
            s = rhs[i, c]
            for p in range(i):
                s -= lo[i, p] * rhs[p, c]
            rhs[i, c] = s / lo[i, i]
        for i in range(m - 1, -1, -1):
            s = rhs[i, c]
            for p in range(i + 1, m):
                s -= lo[p, i] * rhs[p, c]
            rhs[i, c] = s / lo[i, i]


@njit(cache=True, nogil=True, error_model="numpy")
def _same(a, b):
    """Exact equality of two 2-D arrays."""
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            if a[i, j] != b[i, j]:
                return False
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def _same_row(q, t1, t2):
    for j in range(q.shape[1]):
        if q[t1, j] != q[t2, j]:
            return False
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def _close(a, b):
    """max |a - b| <= STEADY_TOL * max |a| (steady-state test)."""
    n, m = a.shape
    big = 0.0
    diff = 0.0
    for i in range(n):
        for j in range(m):
            big = max(big, abs(a[i, j]))
            diff = max(diff, abs(a[i, j] - b[i, j]))
    return diff <= STEADY_TOL * big


@njit(cache=True, nogil=True, error_model="numpy")
def _copy2(src, dst):
    n, m = src.shape
    for i in range(n):
        for j in range(m):
            dst[i, j] = src[i, j]


@njit(cache=True, nogil=True, error_model="numpy")
def _observed(Ct, bt):
    for i in range(bt.shape[0]):
        if Ct[i, i] != 0.0 or bt[i] != 0.0:
            return True
    return False


@njit(cache=True, nogil=True, error_model="numpy")
def _predict_mean(A, xu, x_out):
    """Companion-form prediction of the mean only."""
    k, m = A.shape
    for i in range(k):
        s = 0.0
        for j in range(m):
            s += A[i, j] * xu[j]
        x_out[i] = s
    for i in range(m - 1, k - 1, -1):
        x_out[i] = xu[i - k]


@njit(cache=True, nogil=True, error_model="numpy")
def _predict(A, q_next, xu, Pu, x_out, P_out):
    """Companion-form prediction ``x = T xu``, ``P = T Pu T' + R diag(q) R'``."""
    k, m = A.shape
    for i in range(k):
        s = 0.0
        for j in range(m):
            s += A[i, j] * xu[j]
        x_out[i] = s
    for i in range(k, m):
        x_out[i] = xu[i - k]
    # AP = A @ Pu (k x m)
    AP = np.empty((k, m))
    for i in range(k):
        for j in range(m):
            s = 0.0
            for p in range(m):
                s += A[i, p] * Pu[p, j]
            AP[i, j] = s
    for i in range(k):
        for j in range(i + 1):
            s = 0.0
            for p in range(m):
                s += AP[i, p] * A[j, p]
            if i == j:
                s += q_next[i]
            P_out[i, j] = s
            P_out[j, i] = s
    for i in range(k):
        for j in range(k, m):
            v = AP[i, j - k]
            P_out[i, j] = v
            P_out[j, i] = v
    for i in range(k, m):
        for j in range(k, i + 1):
            v = 0.5 * (Pu[i - k, j - k] + Pu[j - k, i - k])
            P_out[i, j] = v
            P_out[j, i] = v


@njit(cache=True, nogil=True, error_model="numpy")
def _update(Ct, bt, x, P, L, G, K, W, CL, xu, Pu, ld, reuse):
    """Information-form update; returns the state part of log p(y_t | past).

    ``ld[0]`` holds log|G|. With ``reuse`` the factors W, log|G| and ``Pu``
    from the previous step are kept (steady state: same C and same P).
    Returns NaN if a factorisation fails (not positive definite).
    """
    d = bt.shape[0]
    m = x.shape[0]
    observed = False
    for i in range(d):
        if Ct[i, i] != 0.0 or bt[i] != 0.0:
            observed = True
            break
    if not observed:
        for i in range(m):
            xu[i] = x[i]
            for j in range(m):
                Pu[i, j] = P[i, j]
        return 0.0
    if reuse:
        return _apply_update(Ct, bt, x, W, xu, ld[0])
    if not _chol(P, L):
        return np.nan
    # CL = C @ L[:d, :]
    for i in range(d):
        for j in range(m):
            s = 0.0
            for p in range(j, d):
                s += Ct[i, p] * L[p, j]
            CL[i, j] = s
    # G = I + L[:d,:]' CL
    for i in range(m):
        for j in range(i + 1):
            s = 0.0
            for p in range(i, d):
                s += L[p, i] * CL[p, j]
            if i == j:
                s += 1.0
            G[i, j] = s
            G[j, i] = s
    if not _chol(G, K):
        return np.nan
    logdet = 0.0
    for i in range(m):
        logdet += 2.0 * np.log(K[i, i])
    ld[0] = logdet
    # W = K^{-1} L'
    for j in range(m):
        for i in range(m):
            s = L[j, i]
            for p in range(i):
                s -= K[i, p] * W[p, j]
            W[i, j] = s / K[i, i]
    # Pu = W'W
    for i in range(m):
        for j in range(i + 1):
            s = 0.0
            for p in range(m):
                s += W[p, i] * W[p, j]
            Pu[i, j] = s
            Pu[j, i] = s
    return _apply_update(Ct, bt, x, W, xu, logdet)


@njit(cache=True, nogil=True, error_model="numpy")
def _apply_update(Ct, bt, x, W, xu, logdet):
    """Mean update and log-likelihood term given the factor W (P_u = W'W)."""
    d = bt.shape[0]
    m = x.shape[0]
    # r = b - C x ; quadratic terms
    xcx = 0.0
    xb = 0.0
    r = np.empty(d)
    for i in range(d):
        s = 0.0
        for p in range(d):
            s += Ct[i, p] * x[p]
        r[i] = bt[i] - s
        xcx += x[i] * s
        xb += x[i] * bt[i]
    # u = W[:, :d] r ; quad = u'u ; xu = x + W' u
    u = np.empty(m)
    quad = 0.0
    for i in range(m):
        s = 0.0
        for p in range(d):
            s += W[i, p] * r[p]
        u[i] = s
        quad += s * s
    for i in range(m):
        s = 0.0
        for p in range(m):
            s += W[p, i] * u[p]
        xu[i] = x[i] + s
    return -0.5 * (logdet + xcx - 2.0 * xb - quad)


@njit(cache=True, nogil=True, error_model="numpy")
def filter_full(C, b, A, q, P0):
    """Run the filter and keep predicted and filtered moments.

    Parameters
    ----------
    C : (T, d, d) array
    b : (T, d) array
    A : (k, m) array, top rows of the companion transition.
    q : (T, k) array, innovation variances (row 0 unused).
    P0 : (m, m) array, covariance of the first state.

    Returns
    -------
    ll : (T,) state part of log p(y_t | y_{1:t-1}); all -inf if a covariance
        lost positive definiteness.
    x_pred, P_pred, x_filt, P_filt : moments of s_t given y_{1:t-1} / y_{1:t}.
    """
    T, d = b.shape
    m = A.shape[1]
    ll = np.empty(T)
    x_pred = np.empty((T, m))
    P_pred = np.empty((T, m, m))
    x_filt = np.empty((T, m))
    P_filt = np.empty((T, m, m))
    L = np.zeros((m, m))
    G = np.empty((m, m))
    K = np.zeros((m, m))
    W = np.empty((m, m))
    CL = np.empty((d, m))
    x = np.zeros(m)
    P = sym(P0)
    ld = np.zeros(1)
    factored = False  # W and log|G| are valid for (C[t-1], P_pred[t-1])
    steady = False  # P equals P_pred[t-1] exactly
    for t in range(T):
        reuse = False
        if factored and _same(C[t], C[t - 1]):
            reuse = steady or _close(P, P_pred[t - 1])
        if reuse:
            _copy2(P_pred[t - 1], P)
        for i in range(m):
            x_pred[t, i] = x[i]
        _copy2(P, P_pred[t])
        v = _update(C[t], b[t], x, P, L, G, K, W, CL, x_filt[t], P_filt[t], ld, reuse)
        if not np.isfinite(v):
            fill(ll, -np.inf)
            return ll, x_pred, P_pred, x_filt, P_filt
        if reuse:
            _copy2(P_filt[t - 1], P_filt[t])
        ll[t] = v
        factored = _observed(C[t], b[t])
        steady = False
        if t + 1 < T:
            if reuse and _same_row(q, t + 1, t):
                # P_pred[t+1] = T P_filt[t] T' + Q = P_pred[t] exactly: only the mean moves
                _predict_mean(A, x_filt[t], x)
                steady = True
            else:
                _predict(A, q[t + 1], x_filt[t], P_filt[t], x, P)
    return ll, x_pred, P_pred, x_filt, P_filt


@njit(cache=True, nogil=True, error_model="numpy")
def _companion_times(A, M, out):
    """``out = T M`` for the companion transition T (top rows A)."""
    k, m = A.shape
    n = M.shape[1]
    for i in range(k):
        for j in range(n):
            s = 0.0
            for p in range(m):
                s += A[i, p] * M[p, j]
            out[i, j] = s
    for i in range(k, m):
        for j in range(n):
            out[i, j] = M[i - k, j]


@njit(cache=True, nogil=True, error_model="numpy")
def _companion_t_times(A, M, out):
    """``out = T' M`` for the companion transition T (top rows A)."""
    k, m = A.shape
    n = M.shape[1]
    for p in range(m):
        for j in range(n):
            s = M[p + k, j] if p + k < m else 0.0
            for i in range(k):
                s += A[i, p] * M[i, j]
            out[p, j] = s


@njit(cache=True, nogil=True, error_model="numpy")
def _smoother_gain(A, P_pred, P_filt, t, Lp, Jt):
    """Put ``J_t' = P_pred[t+1]⁻¹ T P_filt[t]`` in ``Jt`` unless it is the one of t + 1.

    In the steady state (the filter copied its covariances) the gain is unchanged.
    Returns 1 if it was kept, 0 if computed, -1 if ``P_pred[t+1]`` is not PD.
    """
    T = P_filt.shape[0]
    if t + 2 < T and _same(P_filt[t], P_filt[t + 1]) and _same(P_pred[t + 1], P_pred[t + 2]):
        return 1
    if not _chol(P_pred[t + 1], Lp):
        return -1
    _companion_times(A, P_filt[t], Jt)
    _cho_solve_inplace(Lp, Jt)
    return 0


@njit(cache=True, nogil=True, error_model="numpy")
def smoother(x_pred, P_pred, x_filt, P_filt, A):
    """Rauch-Tung-Striebel smoother.

    Returns
    -------
    x_s : (T, m) smoothed means; P_s : (T, m, m) smoothed covariances;
    P_lag : (T, m, m) with ``P_lag[t] = Cov(s_{t+1}, s_t | y)`` for t < T-1
        (the last row is zero); ok : bool, False if a covariance was not PD.
    """
    T, m = x_filt.shape
    x_s = np.empty((T, m))
    P_s = np.empty((T, m, m))
    P_lag = np.zeros((T, m, m))
    for i in range(m):
        x_s[T - 1, i] = x_filt[T - 1, i]
        for j in range(m):
            P_s[T - 1, i, j] = P_filt[T - 1, i, j]
    dx = np.empty(m)
    Lp = np.zeros((m, m))
    Jt = np.empty((m, m))
    D = np.empty((m, m))
    JD = np.empty((m, m))
    for t in range(T - 2, -1, -1):
        # steady state (the filter copied its covariances): J is unchanged, and
        # once the smoothed covariance has converged it is unchanged too
        same_gain = _smoother_gain(A, P_pred, P_filt, t, Lp, Jt)
        if same_gain < 0:
            return x_s, P_s, P_lag, False
        for i in range(m):
            dx[i] = x_s[t + 1, i] - x_pred[t + 1, i]
        for i in range(m):
            s = x_filt[t, i]
            for p in range(m):
                s += Jt[p, i] * dx[p]
            x_s[t, i] = s
        if same_gain == 1 and _close(P_s[t + 1], P_s[t + 2]):
            _copy2(P_s[t + 1], P_s[t])
            _copy2(P_lag[t + 1], P_lag[t])
            continue
        for i in range(m):
            for j in range(m):
                D[i, j] = P_s[t + 1, i, j] - P_pred[t + 1, i, j]
        # JD = J D
        for i in range(m):
            for j in range(m):
                s = 0.0
                for p in range(m):
                    s += Jt[p, i] * D[p, j]
                JD[i, j] = s
        for i in range(m):
            for j in range(i + 1):
                s = 0.0
                for p in range(m):
                    s += JD[i, p] * Jt[p, j]
                v = 0.5 * (P_filt[t, i, j] + P_filt[t, j, i]) + s
                P_s[t, i, j] = v
                P_s[t, j, i] = v
        # Cov(s_{t+1}, s_t) = P_s[t+1] J'
        for i in range(m):
            for j in range(m):
                s = 0.0
                for p in range(m):
                    s += P_s[t + 1, i, p] * Jt[p, j]
                P_lag[t, i, j] = s
    return x_s, P_s, P_lag, True


@njit(cache=True, nogil=True, error_model="numpy")
def _p0_score(P, P_s, x_s, g0, out):
    """``out = g0 (P^{-1} E P^{-1} - P^{-1}) / 2`` with ``E = P_s + x_s x_s'``.

    The derivative of ``log N(s; 0, P)`` averaged over ``s ~ N(x_s, P_s)`` with
    respect to P. Returns False (``out`` untouched) if P is not positive definite.
    """
    m = P.shape[0]
    L0 = np.zeros((m, m))
    if not _chol(sym(P), L0):
        return False
    Pinv = np.zeros((m, m))
    for i in range(m):
        Pinv[i, i] = 1.0
    _cho_solve_inplace(L0, Pinv)
    E0 = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            E0[i, j] = P_s[i, j] + x_s[i] * x_s[j]
    _cho_solve_inplace(L0, E0)  # P^{-1} E
    tmp = transpose(E0)  # E P^{-1} (E, P symmetric)
    _cho_solve_inplace(L0, tmp)  # P^{-1} E P^{-1}
    for i in range(m):
        for j in range(m):
            out[i, j] = 0.5 * g0 * (0.5 * (tmp[i, j] + tmp[j, i]) - Pinv[i, j])
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def loglike_grad(C, b, A, q, P0, ll, x_pred, P_pred, x_filt, P_filt, g):
    """Gradient of ``sum_t g_t * ll_t`` for a constant cotangent ``g``.

    Takes the outputs of :func:`filter_full` (so the filter is not run twice)
    and returns ``(gC, gb, gA, gq, gP0)``. Fisher's identity gives the gradient
    of the *total* log-likelihood; a non-constant ``g`` (the gradient of one
    pointwise term) is not supported and raises.
    """
    T, d = b.shape
    k, m = A.shape
    g0 = g[0]
    for t in range(T):
        if g[t] != g0:
            raise ValueError(
                "bdfm's Kalman gradient is defined for the total log-likelihood "
                "only; differentiate the sum of the pointwise terms"
            )
    gC = np.zeros((T, d, d))
    gb = np.zeros((T, d))
    gA = np.zeros((k, m))
    gq = np.zeros((T, k))
    gP0 = np.zeros((m, m))
    ok = np.isfinite(ll[0])
    if ok:
        x_s, P_s, P_lag, ok = smoother(x_pred, P_pred, x_filt, P_filt, A)
    if not ok:
        fill(gC, np.nan)
        fill(gb, np.nan)
        fill(gA, np.nan)
        fill(gq, np.nan)
        fill(gP0, np.nan)
        return gC, gb, gA, gq, gP0
    for t in range(T):
        for i in range(d):
            gb[t, i] = g0 * x_s[t, i]
            for j in range(d):
                gC[t, i, j] = -0.5 * g0 * (P_s[t, i, j] + x_s[t, i] * x_s[t, j])
    Ess = np.empty((m, m))
    F = np.empty((k, m))
    AE = np.empty((k, m))
    for t in range(T - 1):
        # E[s_t s_t'], F = E[f_{t+1} s_t'] (top k rows of E[s_{t+1} s_t'])
        for i in range(m):
            for j in range(m):
                Ess[i, j] = P_s[t, i, j] + x_s[t, i] * x_s[t, j]
        for i in range(k):
            for j in range(m):
                F[i, j] = P_lag[t, i, j] + x_s[t + 1, i] * x_s[t, j]
        for i in range(k):
            for j in range(m):
                s = 0.0
                for p in range(m):
                    s += A[i, p] * Ess[p, j]
                AE[i, j] = s
        for i in range(k):
            qi = q[t + 1, i]
            for j in range(m):
                gA[i, j] += g0 * (F[i, j] - AE[i, j]) / qi
            # D_ii = E_ff - 2 (A F')_ii + (A E A')_ii
            eff = P_s[t + 1, i, i] + x_s[t + 1, i] * x_s[t + 1, i]
            afi = 0.0
            aeai = 0.0
            for p in range(m):
                afi += A[i, p] * F[i, p]
                aeai += AE[i, p] * A[i, p]
            dii = eff - 2.0 * afi + aeai
            gq[t + 1, i] = -0.5 * g0 * (1.0 / qi - dii / (qi * qi))
    if _observed(C[0], b[0]):
        # the filter factorised P0 at t=0 (it returns -inf otherwise): the score
        # d/dP0 log N(s_0; 0, P0) = (P0^{-1} E0 P0^{-1} - P0^{-1}) / 2
        if not _p0_score(P0, P_s[0], x_s[0], g0, gP0):
            fill(gP0, np.nan)
    elif T > 1:
        # nothing observed at t=0: P0 enters only through P_pred[1] = T P0 T' + Q,
        # so d/dP0 = T' (d/dP_pred[1]) T, which needs no factor of P0 (P0 may be
        # singular, e.g. a known first state, and was never checked by the filter)
        gP1 = np.zeros((m, m))
        _p0_score(P_pred[1], P_s[1], x_s[1], g0, gP1)  # factorised by the smoother
        tmp = np.empty((m, m))
        _companion_t_times(A, gP1, tmp)  # T' gP1
        _companion_t_times(A, transpose(tmp), gP0)  # T' (T' gP1)' = T' gP1 T
    return gC, gb, gA, gq, gP0
