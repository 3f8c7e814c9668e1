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

from bdfm.statespace._nb import add_into, fill, log1d, sym, transpose

__all__ = [
    "ar1_b",
    "ar1_stats",
    "ar1_stats_grad",
    "iid_b",
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
def _block_rows(n_series):
    """Rows per time block: temporaries of ~64 KB stay in cache (no page faults)."""
    return max(8, min(256, 8192 // max(n_series, 1)))


@njit(cache=True, nogil=True, error_model="numpy")
def _unpack_into(Cp, pairs, C, t0, r0, c0):
    """Write packed symmetric blocks Cp (nb, k(k+1)/2) into C[t0:t0+nb, r0:r0+k, c0:c0+k]."""
    for r in range(Cp.shape[0]):
        for p in range(pairs.shape[0]):
            a = pairs[p, 0]
            c = pairs[p, 1]
            v = Cp[r, p]
            C[t0 + r, r0 + a, c0 + c] = v
            C[t0 + r, r0 + c, c0 + a] = v


@njit(cache=True, nogil=True, error_model="numpy")
def _pack_cotangent(gC, pairs, t0, nb, r0, c0, sym_block):
    """Cotangent of a symmetric block in packed form, rows t0..t0+nb.

    For a diagonal block (``sym_block`` False): entry (a, c) collects
    gC[a, c] + gC[c, a] (a < c) or gC[a, a]. For the off-diagonal block of a
    symmetric 2x2 block matrix whose (0,1) and (1,0) blocks are the same
    symmetric matrix (``sym_block`` True), both blocks are collected.
    """
    out = np.empty((nb, pairs.shape[0]))
    for r in range(nb):
        t = t0 + r
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
            out[r, p] = v
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _rows(a, t0, nb, c0, nc):
    """Contiguous copy of a[t0:t0+nb, c0:c0+nc]."""
    out = np.empty((nb, nc))
    for r in range(nb):
        for j in range(nc):
            out[r, j] = a[t0 + r, c0 + j]
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
def _scale_at(scale, t, i):
    """Noise-variance multiplier; an empty ``scale`` (shape (0, 0)) means all ones."""
    if scale.shape[0] == 0:
        return 1.0
    return scale[t, i]


@njit(cache=True, nogil=True, error_model="numpy")
def _iid_block(y, mask, var, log_var, scale, t0, nb, W, Wy, const):
    """W = mask / v and W y for rows t0..t0+nb (into W, Wy); the constant into const."""
    N = y.shape[1]
    for r in range(nb):
        t = t0 + r
        acc = 0.0
        n = 0.0
        for i in range(N):
            m = mask[t, i]
            s = _scale_at(scale, t, i)
            w = m / (var[i] * s)
            W[r, i] = w
            Wy[r, i] = w * y[t, i]
            acc += m * log_var[i] + w * y[t, i] * y[t, i]
            if s != 1.0 and m != 0.0:
                acc += m * np.log(s)
            n += m
        if const.shape[0] > 0:
            const[t] = -0.5 * (n * _LOG_2PI + acc)


@njit(cache=True, nogil=True, error_model="numpy")
def iid_stats(y, mask, lam, var, scale):
    """Statistics for iid errors: returns ``(C (T,k,k), b (T,k), const (T,))``.

    ``scale`` is (T, N) or empty (0, 0) for all ones.
    """
    T, N = y.shape
    k = lam.shape[1]
    pairs = _pairs(k)
    LLp = _packed_outer_rows(lam, pairs)
    log_var = log1d(var)
    C = np.empty((T, k, k))
    b = np.empty((T, k))
    const = np.empty(T)
    B = _block_rows(N)
    for t0 in range(0, T, B):
        nb = min(B, T - t0)
        W = np.empty((nb, N))
        Wy = np.empty((nb, N))
        _iid_block(y, mask, var, log_var, scale, t0, nb, W, Wy, const)
        _unpack_into(W @ LLp, pairs, C, t0, 0, 0)
        bb = Wy @ lam
        for r in range(nb):
            for j in range(k):
                b[t0 + r, j] = bb[r, j]
    return C, b, const


@njit(cache=True, nogil=True, error_model="numpy")
def iid_stats_grad(y, mask, lam, var, scale, gC, gb, gc):
    """Gradients ``(d loadings, d var, d scale)`` of the iid statistics.

    ``d scale`` is empty (0, 0) when ``scale`` is.
    """
    T, N = y.shape
    k = lam.shape[1]
    pairs = _pairs(k)
    LLp = _packed_outer_rows(lam, pairs)
    LLpT = transpose(LLp)
    lamT = transpose(lam)
    log_var = log1d(var)
    has_scale = scale.shape[0] > 0
    dvar = np.zeros(N)
    dscale = np.zeros((T, N)) if has_scale else np.zeros((0, 0))
    dlam = np.zeros((N, k))
    dLLp = np.zeros((N, pairs.shape[0]))
    no_const = np.empty(0)
    B = _block_rows(N)
    for t0 in range(0, T, B):
        nb = min(B, T - t0)
        W = np.empty((nb, N))
        Wy = np.empty((nb, N))
        _iid_block(y, mask, var, log_var, scale, t0, nb, W, Wy, no_const)
        Gp = _pack_cotangent(gC, pairs, t0, nb, 0, 0, False)
        gbb = _rows(gb, t0, nb, 0, k)
        quad = Gp @ LLpT  # λ_i' gC_t λ_i
        lin = gbb @ lamT  # λ_i' gb_t
        for r in range(nb):
            t = t0 + r
            g = gc[t]
            for i in range(N):
                s = _scale_at(scale, t, i)
                iv = 1.0 / (var[i] * s)
                yy = y[t, i]
                dW = quad[r, i] + yy * lin[r, i] - 0.5 * g * yy * yy
                dv = -mask[t, i] * iv * (dW * iv + 0.5 * g)
                dvar[i] += dv * s
                if has_scale:
                    dscale[t, i] = dv * var[i]
        add_into(dlam, Wy.T @ gbb)
        add_into(dLLp, W.T @ Gp)
    _loadings_from_packed(dLLp, lam, pairs, dlam)
    return dlam, dvar, dscale


@njit(cache=True, nogil=True, error_model="numpy")
def _ar1_logs(var, rho):
    """log σ² and log(1 - ρ²) per series.

    ``log(1 - ρ²) = log1p(-|ρ|) + log1p(|ρ|)``: ``1 - |ρ|`` is exact, so this keeps
    full precision as |ρ| -> 1 (``1 - ρ*ρ`` loses it), and it is -inf at |ρ| = 1.
    """
    n = var.shape[0]
    log_stat = np.empty(n)
    for i in range(n):
        a = abs(rho[i])
        log_stat[i] = np.log1p(-a) + np.log1p(a)
    return log1d(var), log_stat


@njit(cache=True, nogil=True, error_model="numpy")
def _ar1_block(
    y, y_lag, m_diff, m_start, var, rho, scale, log_var, log_stat, t0, nb, a1, a2, a3, B1, B2, const
):
    """AR(1) coefficients for rows t0..t0+nb: a1 = w1+w0, a2 = -w1ρ, a3 = w1ρ², B1, B2."""
    N = y.shape[1]
    for r in range(nb):
        t = t0 + r
        acc = 0.0
        n = 0.0
        for i in range(N):
            md = m_diff[t, i]
            ms = m_start[t, i]
            rr = rho[i]
            s = _scale_at(scale, t, i)
            stat = 1.0 - rr * rr
            iv = 1.0 / (var[i] * s)
            w1 = md * iv
            w0 = ms * iv * stat
            yy = y[t, i]
            ys = yy - rr * y_lag[t, i]
            a1[r, i] = w1 + w0
            a2[r, i] = -w1 * rr
            a3[r, i] = w1 * rr * rr
            B1[r, i] = w1 * ys + w0 * yy
            B2[r, i] = -w1 * ys * rr
            if const.shape[0] > 0 and (md != 0.0 or ms != 0.0):
                # log v = log σ² + log s ; log v_start = log v - log(1 - ρ²)
                log_v = log_var[i] if s == 1.0 else log_var[i] + np.log(s)
                acc += (md + ms) * log_v + w1 * ys * ys + w0 * yy * yy
                if ms != 0.0:  # |ρ| = 1: an infinite start variance, not 0 * -inf = NaN
                    acc -= ms * log_stat[i]
            n += md + ms
        if const.shape[0] > 0:
            const[t] = -0.5 * (n * _LOG_2PI + acc)


@njit(cache=True, nogil=True, error_model="numpy")
def _ar1_coefficients(y, y_lag, m_diff, m_start, var, rho, scale, log_var, log_stat, t0, nb, const):
    """Allocate and fill the five (nb, N) coefficient blocks of :func:`_ar1_block`."""
    N = y.shape[1]
    a1 = np.empty((nb, N))
    a2 = np.empty((nb, N))
    a3 = np.empty((nb, N))
    B1 = np.empty((nb, N))
    B2 = np.empty((nb, N))
    _ar1_block(
        y,
        y_lag,
        m_diff,
        m_start,
        var,
        rho,
        scale,
        log_var,
        log_stat,
        t0,
        nb,
        a1,
        a2,
        a3,
        B1,
        B2,
        const,
    )
    return a1, a2, a3, B1, B2


@njit(cache=True, nogil=True, error_model="numpy")
def ar1_stats(y, y_lag, m_diff, m_start, lam, var, rho, scale):
    """Statistics for AR(1) errors: ``(C (T,2k,2k), b (T,2k), const (T,))``."""
    T, N = y.shape
    k = lam.shape[1]
    pairs = _pairs(k)
    LLp = _packed_outer_rows(lam, pairs)
    C = np.empty((T, 2 * k, 2 * k))
    b = np.empty((T, 2 * k))
    const = np.empty(T)
    log_var, log_stat = _ar1_logs(var, rho)
    B = _block_rows(N)
    for t0 in range(0, T, B):
        nb = min(B, T - t0)
        a1, a2, a3, B1, B2 = _ar1_coefficients(
            y, y_lag, m_diff, m_start, var, rho, scale, log_var, log_stat, t0, nb, const
        )
        C12 = a2 @ LLp
        _unpack_into(a1 @ LLp, pairs, C, t0, 0, 0)
        _unpack_into(C12, pairs, C, t0, 0, k)
        _unpack_into(C12, pairs, C, t0, k, 0)
        _unpack_into(a3 @ LLp, pairs, C, t0, k, k)
        b1 = B1 @ lam
        b2 = B2 @ lam
        for r in range(nb):
            for j in range(k):
                b[t0 + r, j] = b1[r, j]
                b[t0 + r, k + j] = b2[r, j]
    return C, b, const


@njit(cache=True, nogil=True, error_model="numpy")
def ar1_stats_grad(y, y_lag, m_diff, m_start, lam, var, rho, scale, gC, gb, gc):
    """Gradients ``(d loadings, d var, d rho, d scale)`` of the AR(1) statistics."""
    T, N = y.shape
    k = lam.shape[1]
    pairs = _pairs(k)
    LLp = _packed_outer_rows(lam, pairs)
    LLpT = transpose(LLp)
    lamT = transpose(lam)
    has_scale = scale.shape[0] > 0
    log_var, log_stat = _ar1_logs(var, rho)
    dvar = np.zeros(N)
    drho = np.zeros(N)
    dscale = np.zeros((T, N)) if has_scale else np.zeros((0, 0))
    dlam = np.zeros((N, k))
    dLLp = np.zeros((N, pairs.shape[0]))
    no_const = np.empty(0)
    B = _block_rows(N)
    for t0 in range(0, T, B):
        nb = min(B, T - t0)
        a1, a2, a3, B1, B2 = _ar1_coefficients(
            y, y_lag, m_diff, m_start, var, rho, scale, log_var, log_stat, t0, nb, no_const
        )
        H11 = _pack_cotangent(gC, pairs, t0, nb, 0, 0, False)
        H12 = _pack_cotangent(gC, pairs, t0, nb, 0, k, True)
        H22 = _pack_cotangent(gC, pairs, t0, nb, k, k, False)
        qa = H11 @ LLpT
        qc = H12 @ LLpT
        qe = H22 @ LLpT
        gb1 = _rows(gb, t0, nb, 0, k)
        gb2 = _rows(gb, t0, nb, k, k)
        p1 = gb1 @ lamT
        p2 = gb2 @ lamT
        for r in range(nb):
            t = t0 + r
            g = gc[t]
            for i in range(N):
                md = m_diff[t, i]
                ms = m_start[t, i]
                rr = rho[i]
                one_m_r2 = 1.0 - rr * rr
                s = _scale_at(scale, t, i)
                iv = 1.0 / (var[i] * s)  # 1 / v
                ivs = iv * one_m_r2  # 1 / v_start
                w1 = md * iv
                yy = y[t, i]
                ys = yy - rr * y_lag[t, i]
                a = qa[r, i]
                c = qc[r, i]
                e = qe[r, i]
                dw1 = (
                    a
                    - rr * c
                    + rr * rr * e
                    + ys * p1[r, i]
                    - ys * rr * p2[r, i]
                    - 0.5 * g * ys * ys
                )
                dw0 = a + yy * p1[r, i] - 0.5 * g * yy * yy
                dys = w1 * p1[r, i] - w1 * rr * p2[r, i] - g * w1 * ys
                dr = w1 * (-c + 2.0 * rr * e) - w1 * ys * p2[r, i] - dys * y_lag[t, i]
                dv = -md * iv * (dw1 * iv + 0.5 * g)
                dvs = -ms * ivs * (dw0 * ivs + 0.5 * g)
                dv += dvs / one_m_r2
                # v_start = v / (1 - ρ²): d v_start / dρ = 2ρ v_start / (1 - ρ²)
                dr += dvs * 2.0 * rr / (ivs * one_m_r2)
                drho[i] += dr
                dvar[i] += dv * s
                if has_scale:
                    dscale[t, i] = dv * var[i]
        add_into(dlam, B1.T @ gb1)
        add_into(dlam, B2.T @ gb2)
        add_into(dLLp, a1.T @ H11)
        add_into(dLLp, a2.T @ H12)
        add_into(dLLp, a3.T @ H22)
    _loadings_from_packed(dLLp, lam, pairs, dlam)
    return dlam, dvar, drho, dscale


@njit(cache=True, nogil=True, error_model="numpy")
def iid_b(y, mask, lam, var, scale):
    """Only ``b (T, k)`` of :func:`iid_stats` (no precision terms: O(T N k))."""
    T, N = y.shape
    b = np.empty((T, lam.shape[1]))
    B = _block_rows(N)
    log_var = np.zeros(N)  # unused: no constant is computed
    for t0 in range(0, T, B):
        nb = min(B, T - t0)
        W = np.empty((nb, N))
        Wy = np.empty((nb, N))
        _iid_block(y, mask, var, log_var, scale, t0, nb, W, Wy, np.empty(0))
        b[t0 : t0 + nb] = Wy @ lam
    return b


@njit(cache=True, nogil=True, error_model="numpy")
def ar1_b(y, y_lag, m_diff, m_start, lam, var, rho, scale):
    """Only ``b (T, 2k)`` of :func:`ar1_stats` (no precision terms: O(T N k))."""
    T, N = y.shape
    k = lam.shape[1]
    b = np.empty((T, 2 * k))
    B = _block_rows(N)
    no_logs = np.zeros(N)  # unused: no constant is computed
    for t0 in range(0, T, B):
        nb = min(B, T - t0)
        _, _, _, B1, B2 = _ar1_coefficients(
            y, y_lag, m_diff, m_start, var, rho, scale, no_logs, no_logs, t0, nb, np.empty(0)
        )
        b[t0 : t0 + nb, :k] = B1 @ lam
        b[t0 : t0 + nb, k:] = B2 @ lam
    return b


@njit(cache=True, nogil=True, error_model="numpy")
def iid_stats_unscaled(y, mask, lam, var):
    """:func:`iid_stats` with every noise-variance multiplier equal to one."""
    return iid_stats(y, mask, lam, var, np.zeros((0, 0)))


@njit(cache=True, nogil=True, error_model="numpy")
def iid_stats_unscaled_grad(y, mask, lam, var, gC, gb, gc):
    """Gradients ``(d loadings, d var)`` of :func:`iid_stats_unscaled`."""
    dlam, dvar, _ = iid_stats_grad(y, mask, lam, var, np.zeros((0, 0)), gC, gb, gc)
    return dlam, dvar


@njit(cache=True, nogil=True, error_model="numpy")
def ar1_stats_unscaled(y, y_lag, m_diff, m_start, lam, var, rho):
    """:func:`ar1_stats` with every noise-variance multiplier equal to one."""
    return ar1_stats(y, y_lag, m_diff, m_start, lam, var, rho, np.zeros((0, 0)))


@njit(cache=True, nogil=True, error_model="numpy")
def ar1_stats_unscaled_grad(y, y_lag, m_diff, m_start, lam, var, rho, gC, gb, gc):
    """Gradients ``(d loadings, d var, d rho)`` of :func:`ar1_stats_unscaled`."""
    dlam, dvar, drho, _ = ar1_stats_grad(
        y, y_lag, m_diff, m_start, lam, var, rho, np.zeros((0, 0)), gC, gb, gc
    )
    return dlam, dvar, drho


@njit(cache=True, nogil=True, error_model="numpy")
def _companion(A):
    """(k, m) top rows -> (m, m) companion transition.

    A jitted copy of :func:`bdfm.statespace.inputs.companion_matrix`: the Lyapunov
    kernels below run in nopython mode and cannot call the numpy builder.
    """
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
