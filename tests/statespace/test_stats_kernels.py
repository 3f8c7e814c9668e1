"""Hand-written kernel gradients against pytensor's autodiff of the reference graphs."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.linalg import solve_discrete_lyapunov

from bdfm.statespace import stats_kernels as sk
from bdfm.statespace.stats import ar1_masks
from tests.statespace.reference_stats import reference_stats_ar1, reference_stats_iid


def _data(rng, T=9, N=5):
    y = rng.standard_normal((T, N))
    mask = rng.random((T, N)) > 0.25
    mask[:2, 0] = False
    y0 = np.where(mask, y, 0.0)
    y_lag = np.zeros_like(y0)
    y_lag[1:] = y0[:-1]
    return y0, mask, y_lag


def _reference(kind, y0, mask, y_lag):
    lam, var, rho, scale = pt.dmatrix(), pt.dvector(), pt.dvector(), pt.dmatrix()
    if kind == "iid":
        stats = reference_stats_iid(y0, mask.astype(float), lam, var, scale)
        inputs = [lam, var, scale]
    else:
        m_diff, m_start, _ = ar1_masks(mask)
        stats = reference_stats_ar1(y0, y_lag, m_diff, m_start, lam, var, rho, scale)
        inputs = [lam, var, rho, scale]
    gC, gb, gc = pt.tensor3(), pt.dmatrix(), pt.dvector()
    obj = (gC * stats.C).sum() + (gb * stats.b).sum() + (gc * stats.const).sum()
    return pytensor.function([*inputs, gC, gb, gc], [*stats, *pytensor.grad(obj, inputs)])


@pytest.mark.parametrize("kind", ["iid", "ar1"])
@pytest.mark.parametrize("T,N", [(9, 5), (60, 300)])  # one time block; several blocks
def test_kernels_match_reference_values_and_autodiff(kind, T, N, rng):
    k = 2
    y0, mask, y_lag = _data(rng, T, N)
    lam = rng.standard_normal((N, k))
    var = rng.uniform(0.5, 2, N)
    rho = rng.uniform(-0.8, 0.8, N)
    scale = np.exp(0.3 * rng.standard_normal((T, N)))
    d = k if kind == "iid" else 2 * k
    gC = rng.standard_normal((T, d, d))  # deliberately not symmetric
    gb = rng.standard_normal((T, d))
    gc = rng.standard_normal(T)
    ref = _reference(kind, y0, mask, y_lag)
    if kind == "iid":
        out = ref(lam, var, scale, gC, gb, gc)
        val = sk.iid_stats(y0, mask.astype(float), lam, var, scale)
        grad = sk.iid_stats_grad(y0, mask.astype(float), lam, var, scale, gC, gb, gc)
    else:
        m_diff, m_start, _ = ar1_masks(mask)
        out = ref(lam, var, rho, scale, gC, gb, gc)
        val = sk.ar1_stats(y0, y_lag, m_diff, m_start, lam, var, rho, scale)
        grad = sk.ar1_stats_grad(y0, y_lag, m_diff, m_start, lam, var, rho, scale, gC, gb, gc)
    for ours, theirs in zip(val, out[:3]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(grad, out[3:]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def test_lyapunov_value_and_gradient(rng):
    k, m = 2, 4
    A = np.hstack([0.4 * np.eye(k) + 0.1 * rng.standard_normal((k, k)), 0.2 * np.eye(k)])
    q0 = rng.uniform(0.5, 1.5, k)
    P = sk.lyapunov(A, q0)
    Tm = np.vstack([A, np.eye(k, m)])
    Q = np.zeros((m, m))
    Q[:k, :k] = np.diag(q0)
    np.testing.assert_allclose(P, solve_discrete_lyapunov(Tm, Q), atol=1e-12)
    gP = rng.standard_normal((m, m))
    dA, dq = sk.lyapunov_grad(A, q0, gP)
    eps = 1e-6

    def f(A_, q_):
        return np.sum(gP * sk.lyapunov(A_, q_))

    for idx in np.ndindex(A.shape):
        E = np.zeros_like(A)
        E[idx] = eps
        assert dA[idx] == pytest.approx(
            (f(A + E, q0) - f(A - E, q0)) / (2 * eps), rel=1e-6, abs=1e-8
        )
    for i in range(k):
        e = np.zeros(k)
        e[i] = eps
        assert dq[i] == pytest.approx((f(A, q0 + e) - f(A, q0 - e)) / (2 * eps), rel=1e-6)


@pytest.mark.parametrize("kind", ["iid", "ar1"])
def test_empty_scale_means_ones(kind, rng):
    T, N, k = 12, 4, 2
    y0, mask, y_lag = _data(rng, T, N)
    lam = rng.standard_normal((N, k))
    var = rng.uniform(0.5, 2, N)
    rho = rng.uniform(-0.8, 0.8, N)
    m = mask.astype(float)
    m_diff, m_start, _ = ar1_masks(mask)
    d = k if kind == "iid" else 2 * k
    cot = (rng.standard_normal((T, d, d)), rng.standard_normal((T, d)), rng.standard_normal(T))
    if kind == "iid":
        args = (y0, m, lam, var)
        fwd, bwd = sk.iid_stats, sk.iid_stats_grad
    else:
        args = (y0, y_lag, m_diff, m_start, lam, var, rho)
        fwd, bwd = sk.ar1_stats, sk.ar1_stats_grad
    for a, b in zip(fwd(*args, np.ones((T, N))), fwd(*args, np.zeros((0, 0)))):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    full = bwd(*args, np.ones((T, N)), *cot)
    empty = bwd(*args, np.zeros((0, 0)), *cot)
    for a, b in zip(full[:-1], empty[:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert empty[-1].shape == (0, 0)


@pytest.mark.parametrize("rho0", [1.0, -1.0, np.tanh(40.0)])
def test_ar1_unit_root_coefficient_gives_minus_inf_not_nan(rho0, rng):
    """ρ = tanh(x) rounds to ±1 for a large x: log(1 - ρ²) = -inf. The start of that
    series then has an infinite (improper) variance: const is -inf there, never NaN
    (it was 0 * -inf = NaN on the rows where the series is differenced)."""
    T, N, k = 8, 3, 1
    y0, mask, y_lag = _data(rng, T, N)
    m_diff, m_start, _ = ar1_masks(mask)
    lam = rng.standard_normal((N, k))
    var = rng.uniform(0.5, 2, N)
    rho = np.array([rho0, 0.3, -0.2])
    *_, const = sk.ar1_stats_unscaled(y0, y_lag, m_diff, m_start, lam, var, rho)
    assert not np.any(np.isnan(const))
    starts = m_start[:, 0] > 0
    assert starts.any()
    assert np.all(const[starts] == -np.inf)
    assert np.all(np.isfinite(const[~starts & (m_start.sum(1) == 0)]))


def test_ar1_log_stationary_factor_is_accurate_near_one():
    """log(1 - ρ²) from (1 - |ρ|)(1 + |ρ|), exact for ρ close to one (1 - ρ*ρ is not)."""
    rho = np.array([1 - 2.0**-40, 0.5, -(1 - 2.0**-30)])
    _, log_stat = sk._ar1_logs(np.ones(3), rho)
    exact = np.log1p(-np.abs(rho)) + np.log1p(np.abs(rho))
    np.testing.assert_allclose(log_stat, exact, rtol=1e-15)
