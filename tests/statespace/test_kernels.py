"""The collapsed kernels against a textbook N-dimensional Kalman filter (numpy, no collapse)."""

import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov

from bdfm.statespace import kernels


def textbook_filter(Y, mask, Z, H_diag, Tm, RQR, P0):
    """Covariance-form Kalman filter on the full observation vector (observed rows only)."""
    T = Y.shape[0]
    m = Tm.shape[0]
    x, P = np.zeros(m), P0.copy()
    ll = np.zeros(T)
    for t in range(T):
        o = mask[t]
        if o.any():
            Zt = Z[o]
            F = Zt @ P @ Zt.T + np.diag(H_diag[o])
            v = Y[t, o] - Zt @ x
            _, logdet = np.linalg.slogdet(F)
            ll[t] = -0.5 * (o.sum() * np.log(2 * np.pi) + logdet + v @ np.linalg.solve(F, v))
            K = P @ Zt.T @ np.linalg.inv(F)
            x = x + K @ v
            P = P - K @ Zt @ P
        x = Tm @ x
        P = Tm @ P @ Tm.T + RQR
    return ll


def test_collapsed_equals_textbook_var2(rng):
    T, N, k = 25, 6, 2
    A1, A2 = 0.4 * np.eye(2) + 0.1, 0.2 * np.eye(2)
    top = np.hstack([A1, A2])
    Tm = np.vstack([top, np.eye(2, 4)])
    RQR = np.zeros((4, 4))
    RQR[:2, :2] = np.eye(2)
    P0 = solve_discrete_lyapunov(Tm, RQR)
    lam = rng.standard_normal((N, k))
    var = rng.uniform(0.3, 1.5, N)
    Y = rng.standard_normal((T, N))
    mask = rng.random((T, N)) > 0.25
    mask[7] = False
    y0 = np.where(mask, Y, 0.0)
    w = mask / var
    C = np.einsum("tn,ni,nj->tij", w, lam, lam)
    b = (w * y0) @ lam
    const = -0.5 * (
        mask.sum(1) * np.log(2 * np.pi) + (mask * np.log(var)).sum(1) + (w * y0**2).sum(1)
    )
    ours = kernels.filter_full(C, b, top, np.ones((T, k)), P0)[0] + const
    Z = np.hstack([lam, np.zeros((N, 2))])
    ref = textbook_filter(Y, mask, Z, var, Tm, RQR, P0)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


def test_smoother_reports_failure_on_singular_prediction():
    T, m = 3, 1
    x = np.zeros((T, m))
    P = np.zeros((T, m, m))  # zero predicted covariance: not positive definite
    *_, ok = kernels.smoother(x, P, x, P, np.array([[0.5]]))
    assert not ok


def test_steady_state_switch_is_exact_enough(rng):
    """Constant C_t (no missing data): the filter switches to its steady state and still
    equals the textbook filter; the smoother's moments equal a run without the switch."""
    T, N, k = 300, 6, 2
    top = np.hstack([0.6 * np.eye(k), 0.2 * np.eye(k)])
    Tm = np.vstack([top, np.eye(k, 2 * k)])
    RQR = np.zeros((2 * k, 2 * k))
    RQR[:k, :k] = np.eye(k)
    P0 = solve_discrete_lyapunov(Tm, RQR)
    lam = rng.standard_normal((N, k))
    var = rng.uniform(0.3, 1.5, N)
    Y = rng.standard_normal((T, N))
    mask = np.ones((T, N), dtype=bool)
    w = mask / var
    C = np.einsum("tn,ni,nj->tij", w, lam, lam)
    b = (w * Y) @ lam
    q = np.ones((T, k))
    ll, x_pred, P_pred, x_filt, P_filt = kernels.filter_full(C, b, top, q, P0)
    assert np.array_equal(P_pred[-1], P_pred[-2])  # the switch happened
    const = -0.5 * (N * np.log(2 * np.pi) + np.log(var).sum() + (w * Y**2).sum(1))
    ref = textbook_filter(Y, mask, np.hstack([lam, np.zeros((N, k))]), var, Tm, RQR, P0)
    np.testing.assert_allclose(ll + const, ref, rtol=1e-10)
    # smoother with the steady-state shortcut vs the same smoother on perturbed copies
    # (tiny noise on every covariance defeats the exact-equality test, so no shortcut)
    x_s, P_s, P_lag, ok = kernels.smoother(x_pred, P_pred, x_filt, P_filt, top)
    jitter = 1 + 1e-15 * np.arange(T)[:, None, None]
    x_s2, P_s2, P_lag2, ok2 = kernels.smoother(
        x_pred, P_pred * jitter, x_filt, P_filt * jitter, top
    )
    assert ok and ok2
    np.testing.assert_allclose(x_s, x_s2, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(P_s, P_s2, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(P_lag[:-1], P_lag2[:-1], rtol=1e-9, atol=1e-11)


def _total_and_grad_P0(C, b, top, q, P0):
    out = kernels.filter_full(C, b, top, q, P0)
    g = np.ones(b.shape[0])
    return out[0].sum(), kernels.loglike_grad(C, b, top, q, P0, *out, g)[4]


def _fd_P0(C, b, top, q, P0, h=1e-6):
    """Central differences of the total log-likelihood, one P0 entry at a time."""
    m = P0.shape[0]
    out = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            e = np.zeros((m, m))
            e[i, j] = h
            up = kernels.filter_full(C, b, top, q, P0 + e)[0].sum()
            dn = kernels.filter_full(C, b, top, q, P0 - e)[0].sum()
            out[i, j] = (up - dn) / (2 * h)
    return out


def _stats_first_date_missing(rng, T, N, k):
    lam = rng.standard_normal((N, k))
    var = rng.uniform(0.5, 1.5, N)
    mask = rng.random((T, N)) > 0.2
    mask[0] = False  # the first date is entirely missing
    y = np.where(mask, rng.standard_normal((T, N)), 0.0)
    w = mask / var
    C = np.einsum("tn,ni,nj->tij", w, lam, lam)
    b = (w * y) @ lam
    return C, b


@pytest.mark.parametrize(
    ("top", "P0_kind"),
    [
        ([[0.5, 0.1], [-0.2, 0.3]], "singular"),
        ([[0.5, 0.1], [-0.2, 0.3]], "stationary"),
        ([[0.5, 0.2]], "stationary"),  # AR(2): two lags in the state
        ([[0.5, 0.2]], "singular"),
    ],
)
def test_P0_gradient_with_first_date_missing(top, P0_kind, rng):
    """With no observation at t=0 the P0 gradient must not rely on factorising P0.

    A singular P0 (a known first state) gives a finite, smooth likelihood when the
    first date is missing; its gradient used to come from an unchecked Cholesky
    factor of P0 (NaN or garbage). Checked against finite differences.
    """
    top = np.array(top)
    k, m = top.shape
    T, N = 12, 5
    C, b = _stats_first_date_missing(rng, T, N, k)
    q = np.ones((T, k))
    Tm = np.vstack([top, np.eye(m - k, m)])
    RQR = np.zeros((m, m))
    RQR[:k, :k] = np.eye(k)
    P0 = solve_discrete_lyapunov(Tm, RQR)
    if P0_kind == "singular":
        P0 = np.zeros((m, m))
        P0[0, 0] = 1.0  # rank one: the other coordinates are known
    total, gP0 = _total_and_grad_P0(C, b, top, q, P0)
    assert np.isfinite(total)
    assert np.all(np.isfinite(gP0))
    np.testing.assert_allclose(gP0, _fd_P0(C, b, top, q, P0), rtol=1e-5, atol=1e-7)
