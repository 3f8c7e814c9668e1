"""The numpy filter-input builder against independent constructions (plain numpy/scipy)."""

import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov

from bdfm.statespace import inputs
from bdfm.statespace.kalman import filter_states


def hand_companion(factor_ar, n_lags):
    """Companion matrix written out entry by entry."""
    p, k, _ = factor_ar.shape
    m = k * n_lags
    F = np.zeros((m, m))
    for lag in range(p):
        for i in range(k):
            for j in range(k):
                F[i, lag * k + j] = factor_ar[lag, i, j]
    for r in range(k, m):
        F[r, r - k] = 1.0
    return F


def dense_stats(y, mask, lam, sd):
    """iid statistics from their definition: C = Λ'W Λ, b = Λ'W y, const = log N part."""
    w = mask / sd**2
    C = np.einsum("tn,ni,nj->tij", w, lam, lam)
    b = (w * y) @ lam
    const = -0.5 * (
        mask.sum(1) * np.log(2 * np.pi) + (mask * np.log(sd**2)).sum(1) + (w * y**2).sum(1)
    )
    return C, b, const


def _var(rng, p, k):
    A = 0.3 * rng.standard_normal((p, k, k)) / p
    for lag in range(p):
        A[lag] += np.diag(rng.uniform(0.1, 0.5, k)) / p
    return A


@pytest.mark.parametrize(("p", "k", "n_lags"), [(1, 1, 1), (1, 2, 2), (2, 2, 2), (3, 2, 4)])
def test_companion_top_and_stationary_cov(p, k, n_lags, rng):
    A = _var(rng, p, k)
    F = hand_companion(A, n_lags)
    if n_lags == p:
        np.testing.assert_array_equal(inputs.companion_matrix(A), F)
    np.testing.assert_array_equal(inputs.state_companion(A, n_lags), F)
    top = inputs.transition_top(A, n_lags)
    np.testing.assert_array_equal(top, F[:k])
    assert top.flags.c_contiguous
    Q = np.zeros_like(F)
    Q[:k, :k] = np.eye(k)
    ref = solve_discrete_lyapunov(F, Q)
    np.testing.assert_allclose(inputs.stationary_cov(top), ref, rtol=1e-12, atol=1e-12)
    q = rng.uniform(0.5, 2.0, (3, k))
    many = inputs.stationary_cov(top, q)
    for j in range(3):
        Q[:k, :k] = np.diag(q[j])
        np.testing.assert_allclose(many[j], solve_discrete_lyapunov(F, Q), rtol=1e-12, atol=1e-12)


def test_filter_inputs_iid_from_definitions(rng):
    T, N, k, p = 15, 5, 2, 2
    lam = rng.standard_normal((N, k))
    sd = rng.uniform(0.5, 1.5, N)
    A = _var(rng, p, k)
    mask = rng.random((T, N)) > 0.2
    y = np.where(mask, rng.standard_normal((T, N)), 0.0)
    fi = inputs.filter_inputs(y, mask, lam, A, sd, n_lags=p)
    C, b, const = dense_stats(y, mask, lam, sd)
    np.testing.assert_allclose(fi.C, C, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fi.b, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fi.const, const, rtol=1e-12, atol=1e-12)
    F = hand_companion(A, p)
    np.testing.assert_array_equal(fi.top, F[:k])
    np.testing.assert_array_equal(fi.q, np.ones((T, k)))
    Q = np.zeros_like(F)
    Q[:k, :k] = np.eye(k)
    np.testing.assert_allclose(fi.P0, solve_discrete_lyapunov(F, Q), rtol=1e-12, atol=1e-12)
    # the inputs run the filter as they are
    assert np.all(np.isfinite(filter_states(fi.C, fi.b, fi.top, fi.q, fi.P0).x_filt))


def test_filter_inputs_ar1_quasi_differences(rng):
    """AR(1) errors with no gaps: C, b are those of y_t - ρ y_{t-1} on (f_t, f_{t-1})."""
    T, N, k = 10, 4, 1
    lam = rng.standard_normal((N, k))
    sd = rng.uniform(0.5, 1.5, N)
    rho = rng.uniform(-0.5, 0.8, N)
    y = rng.standard_normal((T, N))
    mask = np.ones((T, N), dtype=bool)
    fi = inputs.filter_inputs(y, mask, lam, np.array([[[0.5]]]), sd, rho, n_lags=2)
    assert fi.C.shape == (T, 2 * k, 2 * k) and fi.top.shape == (k, 2 * k)
    # t = 0: stationary start, variance sd² / (1 - ρ²), loads on f_0 only
    w0 = (1 - rho**2) / sd**2
    np.testing.assert_allclose(fi.C[0, :k, :k], (lam.T * w0) @ lam, rtol=1e-12)
    np.testing.assert_allclose(fi.C[0, k:, :], 0.0, atol=1e-15)
    # t >= 1: y_t - ρ y_{t-1} = λ' f_t - ρ λ' f_{t-1} + ε_t
    Z = np.hstack([lam, -rho[:, None] * lam])  # (N, 2k)
    w = 1 / sd**2
    for t in range(1, T):
        ys = y[t] - rho * y[t - 1]
        np.testing.assert_allclose(fi.C[t], (Z.T * w) @ Z, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(fi.b[t], Z.T @ (w * ys), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ar1", [False, True])
def test_filter_inputs_with_volatility_paths_give_the_graph_loglik(ar1, rng):
    """With factor_var / obs_scale the numpy inputs reproduce the likelihood graph."""
    from bdfm.statespace.assemble import dfm_loglike_pointwise
    from bdfm.statespace.stats import ar1_inputs

    T, N, k = 30, 5, 2
    lam = rng.standard_normal((N, k))
    A = _var(rng, 1, k)
    sd = rng.uniform(0.5, 1.0, N)
    rho = rng.uniform(-0.5, 0.5, N) if ar1 else None
    y = rng.standard_normal((T, N))
    mask = np.ones((T, N))
    mask[:3, 0] = 0  # a late start
    y = y * mask
    fv = np.exp(0.4 * rng.standard_normal((T, k)))
    sc = np.exp(0.4 * rng.standard_normal((T, N)))
    n_lags = 2 if ar1 else 1
    extra = {}
    if ar1:
        extra = {
            key: val.astype(float)
            for key, val in ar1_inputs(y, mask.astype(bool)).items()
            if key in ("y_lag", "m_diff", "m_start")
        }
    graph = dfm_loglike_pointwise(
        y, mask, lam, A, sd, rho, factor_var=fv, obs_scale=sc, **extra
    ).eval()
    fi = inputs.filter_inputs(y, mask, lam, A, sd, rho, n_lags=n_lags, factor_var=fv, obs_scale=sc)
    ll = fi.const + filter_states(fi.C, fi.b, fi.top, fi.q, fi.P0).loglike_state
    np.testing.assert_allclose(ll, graph, rtol=1e-10, atol=1e-10)
    plain = inputs.filter_inputs(y, mask, lam, A, sd, rho, n_lags=n_lags)
    assert not np.allclose(plain.C, fi.C)  # the paths were used


@pytest.mark.parametrize("ar1", [False, True])
@pytest.mark.parametrize("scaled", [False, True])
def test_obs_b_is_the_b_of_obs_stats(ar1, scaled, rng):
    """``obs_b`` (b alone, for a second data set with the same mask) = obs_stats' b."""
    T, N, k = 37, 6, 3
    lam = rng.standard_normal((N, k))
    sd = rng.uniform(0.5, 1.5, N)
    rho = rng.uniform(-0.5, 0.8, N) if ar1 else None
    mask = rng.random((T, N)) > 0.2
    y = np.where(mask, rng.standard_normal((T, N)), 0.0)
    scale = rng.uniform(0.5, 2.0, (T, N)) if scaled else None
    _, b, _ = inputs.obs_stats(y, mask, lam, sd, rho, None, scale)
    np.testing.assert_allclose(
        inputs.obs_b(y, mask, lam, sd, rho, None, scale), b, rtol=1e-13, atol=1e-14
    )
