r"""Numba kernels for the collapsed observation statistics and their reverse-mode gradients.

Forward (see :mod:`bdfm.statespace.stats` for the maths): with noise variances
``v = σ² · scale`` (T, N) and ``LL[i] = vec(λ_i λ_i')``,

- iid:  ``W = mask / v``, ``C = W @ LL``, ``b = (W y) @ Λ``,
  ``const = -½ [n log 2π + Σ mask log v + Σ W y²]``;
- AR(1): ``w1 = m_diff / v``, ``w0 = m_start / vs`` with ``vs = v / (1-ρ²)``,
  ``y* = y - ρ y_lag``, ``C = [[(w1+w0)@LL, -(w1ρ)@LL], [-(w1ρ)@LL, (w1ρ²)@LL]]``,
  ``b = [(w1 y* + w0 y) @ Λ, -(w1 y* ρ) @ Λ]``.

The matrix products go through BLAS (``@`` on contiguous 2-D arrays, in numba
and in Python alike). Backward functions take the cotangents ``(gC, gb, gc)``
and return the gradients of ``<gC, C> + <gb, b> + <gc, const>`` with respect to
the loadings, σ², ρ and the per-time scales (hand-derived; tested against
pytensor's autodiff of the reference graph and finite differences).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bdfm.statespace._nb import add_into, columns, fill, log1d, sym, transpose

__all__ = [
    "ar1_stats",
    "ar1_stats_grad",
    "iid_stats",
    "iid_stats_grad",
    "lyapunov",
    "lyapunov_grad",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


@njit(cache=True, nogil=True, error_model="numpy")
def _pairs(k):
    """Index pairs (a, c), a <= c, of the packed symmetric k x k layout."""
    n = k * (k + 1) // 2
    out = np.empty((n, 2), dtype=np.int64)
    p = 0
    for a in range(k):
        for c in range(a, k):
            out[p, 0] = a
            out[p, 1] = c
            p += 1
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _packed_outer_rows(lam, pairs):
    """(N, k) -> (N, k(k+1)/2): row i holds λ_ia λ_ic for a <= c."""
    n = lam.shape[0]
    out = np.empty((n, pairs.shape[0]))
    for i in range(n):
        for p in range(pairs.shape[0]):
            out[i, p] = lam[i, pairs[p, 0]] * lam[i, pairs[p, 1]]
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _unpack_into(Cp, pairs, C, r0, c0):
    """Write packed (T, k(k+1)/2) symmetric blocks into C[:, r0:r0+k, c0:c0+k]."""
    T = Cp.shape[0]
    for t in range(T):
        for p in range(pairs.shape[0]):
            a = pairs[p, 0]
            c = pairs[p, 1]
            v = Cp[t, p]
            C[t, r0 + a, c0 + c] = v
            C[t, r0 + c, c0 + a] = v


@njit(cache=True, nogil=True, error_model="numpy")
def _pack_cotangent(gC, pairs, r0, c0, sym_block):
    """Cotangent of a symmetric block in packed form.

    For a diagonal block (``sym_block`` False): entry (a, c) collects
    gC[a, c] + gC[c, a] (a < c) or gC[a, a]. For the off-diagonal block of a
    symmetric 2x2 block matrix whose (0,1) and (1,0) blocks are the same
    symmetric matrix (``sym_block`` True), both blocks are collected.
    """
    T = gC.shape[0]
    out = np.empty((T, pairs.shape[0]))
    for t in range(T):
        for p in range(pairs.shape[0]):
            a = pairs[p, 0]
            c = pairs[p, 1]
            v = gC[t, r0 + a, c0 + c]
            if a != c:
                v += gC[t, r0 + c, c0 + a]
            if sym_block:
                v += gC[t, c0 + c, r0 + a]
                if a != c:
                    v += gC[t, c0 + a, r0 + c]
            out[t, p] = v
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _loadings_from_packed(dLLp, lam, pairs, out):
    """Add d/dλ of sum_p dLLp[i, p] λ_ia λ_ic to ``out``."""
    n = lam.shape[0]
    for i in range(n):
        for p in range(pairs.shape[0]):
            a = pairs[p, 0]
            c = pairs[p, 1]
            g = dLLp[i, p]
            out[i, a] += g * lam[i, c]
            out[i, c] += g * lam[i, a]


@njit(cache=True, nogil=True, error_model="numpy")
def _sum_log_scale(mask, scale):
    """Per-time sum of mask * log(scale), skipping the logs when every scale is 1."""
    T, N = mask.shape
    out = np.zeros(T)
    ones = True
    for t in range(T):
        for i in range(N):
            if scale[t, i] != 1.0:
                ones = False
    if ones:
        return out
    for t in range(T):
        acc = 0.0
        for i in range(N):
            if mask[t, i] != 0.0:
                acc += mask[t, i] * np.log(scale[t, i])
        out[t] = acc
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _iid_weights(y, mask, var, scale):
    """W = mask / v, Wy = W y and the per-time constant (branch-free loops)."""
    T, N = y.shape
    W = np.empty((T, N))
    Wy = np.empty((T, N))
    const = _sum_log_scale(mask, scale)
    log_var = log1d(var)
    for t in range(T):
        acc = 0.0
        n = 0.0
        for i in range(N):
            m = mask[t, i]
            w = m / (var[i] * scale[t, i])
            W[t, i] = w
            Wy[t, i] = w * y[t, i]
            acc += m * log_var[i] + w * y[t, i] * y[t, i]
            n += m
        const[t] = -0.5 * (n * _LOG_2PI + acc + const[t])
    return W, Wy, const


@njit(cache=True, nogil=True, error_model="numpy")
def iid_stats(y, mask, lam, var, scale):
    """Statistics for iid errors: returns ``(C (T,k,k), b (T,k), const (T,))``."""
    T = y.shape[0]
    k = lam.shape[1]
    pairs = _pairs(k)
    W, Wy, const = _iid_weights(y, mask, var, scale)
    C = np.empty((T, k, k))
    _unpack_into(W @ _packed_outer_rows(lam, pairs), pairs, C, 0, 0)
    b = Wy @ lam
    return C, b, const


@njit(cache=True, nogil=True, error_model="numpy")
def iid_stats_grad(y, mask, lam, var, scale, gC, gb, gc):
    """Gradients ``(d loadings, d var, d scale)`` of the iid statistics."""
    T, N = y.shape
    k = lam.shape[1]
    pairs = _pairs(k)
    W = np.empty((T, N))
    Wy = np.empty((T, N))
    for t in range(T):
        for i in range(N):
            W[t, i] = mask[t, i] / (var[i] * scale[t, i])
            Wy[t, i] = W[t, i] * y[t, i]
    LLp = _packed_outer_rows(lam, pairs)
    Gp = _pack_cotangent(gC, pairs, 0, 0, False)
    quad = Gp @ LLp.T  # λ_i' gC_t λ_i
    lin = gb @ lam.T  # λ_i' gb_t
    dvar = np.zeros(N)
    dscale = np.zeros((T, N))
    for t in range(T):
        g = gc[t]
        for i in range(N):
            iv = 1.0 / (var[i] * scale[t, i])
            yy = y[t, i]
            dW = quad[t, i] + yy * lin[t, i] - 0.5 * g * yy * yy
            dv = -mask[t, i] * iv * (dW * iv + 0.5 * g)
            dvar[i] += dv * scale[t, i]
            dscale[t, i] = dv * var[i]
    dlam = Wy.T @ gb
    _loadings_from_packed(W.T @ Gp, lam, pairs, dlam)
    return dlam, dvar, dscale


@njit(cache=True, nogil=True, error_model="numpy")
def _ar1_weights(y, y_lag, m_diff, m_start, var, rho, scale):
    """Per-(t, i) coefficients of the AR(1) statistics and the per-time constant."""
    T, N = y.shape
    a1 = np.empty((T, N))  # w1 + w0        (C11)
    a2 = np.empty((T, N))  # -w1 ρ          (C12)
    a3 = np.empty((T, N))  # w1 ρ²          (C22)
    B1 = np.empty((T, N))  # w1 y* + w0 y   (b1)
    B2 = np.empty((T, N))  # -w1 y* ρ       (b2)
    obs = m_diff + m_start
    const = _sum_log_scale(obs, scale)
    log_var = log1d(var)
    stat = np.empty(N)
    for i in range(N):
        stat[i] = 1.0 - rho[i] * rho[i]
    log_stat = log1d(stat)  # log v_start = log v - log(1 - ρ²)
    for t in range(T):
        acc = 0.0
        n = 0.0
        for i in range(N):
            md = m_diff[t, i]
            ms = m_start[t, i]
            r = rho[i]
            iv = 1.0 / (var[i] * scale[t, i])
            w1 = md * iv
            w0 = ms * iv * stat[i]
            yy = y[t, i]
            ys = yy - r * y_lag[t, i]
            a1[t, i] = w1 + w0
            a2[t, i] = -w1 * r
            a3[t, i] = w1 * r * r
            B1[t, i] = w1 * ys + w0 * yy
            B2[t, i] = -w1 * ys * r
            acc += (md + ms) * log_var[i] - ms * log_stat[i] + w1 * ys * ys + w0 * yy * yy
            n += md + ms
        const[t] = -0.5 * (n * _LOG_2PI + acc + const[t])
    return a1, a2, a3, B1, B2, const


@njit(cache=True, nogil=True, error_model="numpy")
def ar1_stats(y, y_lag, m_diff, m_start, lam, var, rho, scale):
    """Statistics for AR(1) errors: ``(C (T,2k,2k), b (T,2k), const (T,))``."""
    T = y.shape[0]
    k = lam.shape[1]
    pairs = _pairs(k)
    a1, a2, a3, B1, B2, const = _ar1_weights(y, y_lag, m_diff, m_start, var, rho, scale)
    LLp = _packed_outer_rows(lam, pairs)
    C = np.empty((T, 2 * k, 2 * k))
    C12 = a2 @ LLp
    _unpack_into(a1 @ LLp, pairs, C, 0, 0)
    _unpack_into(C12, pairs, C, 0, k)
    _unpack_into(C12, pairs, C, k, 0)
    _unpack_into(a3 @ LLp, pairs, C, k, k)
    b1 = B1 @ lam
    b2 = B2 @ lam
    b = np.empty((T, 2 * k))
    for t in range(T):
        for j in range(k):
            b[t, j] = b1[t, j]
            b[t, k + j] = b2[t, j]
    return C, b, const


@njit(cache=True, nogil=True, error_model="numpy")
def ar1_stats_grad(y, y_lag, m_diff, m_start, lam, var, rho, scale, gC, gb, gc):
    """Gradients ``(d loadings, d var, d rho, d scale)`` of the AR(1) statistics."""
    T, N = y.shape
    k = lam.shape[1]
    pairs = _pairs(k)
    a1, a2, a3, B1, B2, _ = _ar1_weights(y, y_lag, m_diff, m_start, var, rho, scale)
    LLp = _packed_outer_rows(lam, pairs)
    LLpT = transpose(LLp)
    H11 = _pack_cotangent(gC, pairs, 0, 0, False)
    H12 = _pack_cotangent(gC, pairs, 0, k, True)
    H22 = _pack_cotangent(gC, pairs, k, k, False)
    qa = H11 @ LLpT
    qc = H12 @ LLpT
    qe = H22 @ LLpT
    gb1 = columns(gb, 0, k)
    gb2 = columns(gb, k, 2 * k)
    p1 = gb1 @ lam.T
    p2 = gb2 @ lam.T
    dvar = np.zeros(N)
    drho = np.zeros(N)
    dscale = np.zeros((T, N))
    for t in range(T):
        g = gc[t]
        for i in range(N):
            md = m_diff[t, i]
            ms = m_start[t, i]
            r = rho[i]
            one_m_r2 = 1.0 - r * r
            iv = 1.0 / (var[i] * scale[t, i])  # 1 / v
            ivs = iv * one_m_r2  # 1 / v_start
            w1 = md * iv
            yy = y[t, i]
            ys = yy - r * y_lag[t, i]
            a = qa[t, i]
            c = qc[t, i]
            e = qe[t, i]
            dw1 = a - r * c + r * r * e + ys * p1[t, i] - ys * r * p2[t, i] - 0.5 * g * ys * ys
            dw0 = a + yy * p1[t, i] - 0.5 * g * yy * yy
            dys = w1 * p1[t, i] - w1 * r * p2[t, i] - g * w1 * ys
            dr = w1 * (-c + 2.0 * r * e) - w1 * ys * p2[t, i] - dys * y_lag[t, i]
            dv = -md * iv * (dw1 * iv + 0.5 * g)
            dvs = -ms * ivs * (dw0 * ivs + 0.5 * g)
            dv += dvs / one_m_r2
            # v_start = v / (1 - ρ²): d v_start / dρ = 2ρ v_start / (1 - ρ²)
            dr += dvs * 2.0 * r / (ivs * one_m_r2)
            drho[i] += dr
            dvar[i] += dv * scale[t, i]
            dscale[t, i] = dv * var[i]
    dlam = B1.T @ gb1
    add_into(dlam, B2.T @ gb2)
    dLLp = a1.T @ H11
    add_into(dLLp, a2.T @ H12)
    add_into(dLLp, a3.T @ H22)
    _loadings_from_packed(dLLp, lam, pairs, dlam)
    return dlam, dvar, drho, dscale


@njit(cache=True, nogil=True, error_model="numpy")
def _companion(A):
    k, m = A.shape
    Tm = np.zeros((m, m))
    for i in range(k):
        for j in range(m):
            Tm[i, j] = A[i, j]
    for i in range(k, m):
        Tm[i, i - k] = 1.0
    return Tm


@njit(cache=True, nogil=True, error_model="numpy")
def _matmul(a, b):
    n, p = a.shape
    m = b.shape[1]
    out = np.zeros((n, m))
    for i in range(n):
        for r in range(p):
            air = a[i, r]
            for j in range(m):
                out[i, j] += air * b[r, j]
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _solve_stein(Tm, Q):
    """Solve ``P = Tm P Tm' + Q`` by the doubling algorithm (Smith's method).

    ``P = sum_j Tm^j Q Tm'^j``; each step doubles the number of summed terms,
    so a stationary Tm converges in a few dozen steps. A non-stationary Tm
    (the series diverges) returns a matrix of NaN.
    """
    m = Tm.shape[0]
    P = sym(Q)
    Ak = transpose(transpose(Tm))
    for _ in range(64):
        inc = _matmul(_matmul(Ak, P), transpose(Ak))
        add_into(P, inc)
        big = 0.0
        for i in range(m):
            for j in range(m):
                big = max(big, abs(P[i, j]))
        small = 0.0
        for i in range(m):
            for j in range(m):
                small = max(small, abs(inc[i, j]))
        if not np.isfinite(big) or big > 1e300:
            break
        if small <= 1e-17 * big:
            return sym(P)
        Ak = _matmul(Ak, Ak)
    fill(P, np.nan)
    return P


@njit(cache=True, nogil=True, error_model="numpy")
def lyapunov(A, q0):
    """Stationary covariance of the companion state with top rows ``A`` and innovation var ``q0``."""
    k, m = A.shape
    Q = np.zeros((m, m))
    for i in range(k):
        Q[i, i] = q0[i]
    return _solve_stein(_companion(A), Q)


@njit(cache=True, nogil=True, error_model="numpy")
def lyapunov_grad(A, q0, gP):
    """Gradients ``(dA, dq0)`` of ``<gP, P>`` where ``P = lyapunov(A, q0)``.

    The adjoint equation ``S = T' S T + sym(gP)`` gives ``dQ = S`` and
    ``dT = 2 S T P``; the top k rows of ``dT`` are ``dA``. Both equations are
    solved by doubling (plain loops: no LAPACK, so it compiles quickly).
    """
    k, m = A.shape
    Tm = _companion(A)
    P = lyapunov(A, q0)
    S = _solve_stein(transpose(Tm), sym(gP))
    dT = 2.0 * _matmul(_matmul(S, Tm), P)
    dq0 = np.empty(k)
    for i in range(k):
        dq0[i] = S[i, i]
    dA = np.empty((k, m))
    for i in range(k):
        for j in range(m):
            dA[i, j] = dT[i, j]
    return dA, dq0
