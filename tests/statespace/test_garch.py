"""The factor GARCH variances: GLS shock estimates, the recursion, and its pytensor graph.

Oracles independent of :mod:`bdfm.statespace.garch`: per-date weighted least
squares by ``numpy.linalg.lstsq`` on the observed rows, the closed form of the
recursion for constant squared shocks, and finite differences of the graph.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bdfm.statespace.garch import (
    estimable_dates,
    factor_garch_variance,
    garch_log_var,
    garch_news,
    garch_variance,
    idio_garch_log_var,
    idio_garch_variance,
    residual_estimates,
    shock_estimates,
)

T, N, K, P = 40, 6, 2, 2


def _case(seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((T, N), bool)
    mask[10, :5] = False  # one series observed < k: no estimate at 10, 11, 12
    mask[20:, 0] = False  # a series that stops
    mask[25, :] = False  # nothing observed
    y = np.where(mask, rng.standard_normal((T, N)) * 1.3, 0.0)
    loadings = rng.standard_normal((N, K))
    factor_ar = 0.3 * rng.standard_normal((P, K, K))
    idio_sd = rng.uniform(0.5, 1.2, N)
    return y, mask, loadings, factor_ar, idio_sd


def test_estimable_dates_need_k_series_at_the_date_and_its_lags():
    _, mask, *_ = _case()
    ok = estimable_dates(mask, K, P)
    expected = np.ones(T, bool)
    expected[:P] = False
    expected[[10, 11, 12, 25, 26, 27]] = False
    np.testing.assert_array_equal(ok, expected)


def test_shock_estimates_are_weighted_least_squares_residuals():
    (
        y,
        mask,
        lam,
        ar,
        sd,
    ) = _case()
    fhat = np.zeros((T, K))
    for t in range(T):
        obs = mask[t]
        if obs.sum() >= K:  # GLS = OLS on rows scaled by 1/σ_i
            fhat[t] = np.linalg.lstsq(lam[obs] / sd[obs, None], y[t, obs] / sd[obs], rcond=None)[0]
    got, ok = shock_estimates(y, mask, lam, ar, sd)
    np.testing.assert_array_equal(ok, estimable_dates(mask, K, P))
    for t in range(T):
        if not ok[t]:
            np.testing.assert_array_equal(got[t], 0.0)
        else:
            eta = fhat[t] - ar[0] @ fhat[t - 1] - ar[1] @ fhat[t - 2]
            np.testing.assert_allclose(got[t], eta, rtol=1e-10)


def test_news_weighs_falls_by_alpha_plus_gamma_and_missing_dates_by_the_mean():
    eta = np.array([[2.0, -1.0], [-3.0, 0.5], [9.0, 9.0]])
    ok = np.array([True, True, False])
    news = garch_news(eta, ok, np.array([0.1, 0.2]), np.array([0.06, 0.0]))
    expected = [[0.1 * 4, 0.2 * 1], [0.16 * 9, 0.2 * 0.25], [0.13, 0.2]]
    np.testing.assert_allclose(news, expected, rtol=1e-12)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_recursion_matches_its_closed_form_for_constant_shocks(sign):
    """η ≡ ±√c: q_t = 1 + (a c - a_bar)(1 - β^t)/(1 - β), a = α (+ γ for falls), a_bar = α + γ/2."""
    alpha, beta, gamma, c = np.array([0.1, 0.04]), np.array([0.8, 0.9]), np.array([0.06, 0.1]), 2.5
    eta = np.full((30, 2), sign * np.sqrt(c))
    news = garch_news(eta, np.ones(30, bool), alpha, gamma)
    q, q_next = garch_variance(news, alpha, beta, gamma)
    t = np.arange(31)[:, None]
    a = alpha + (gamma if sign < 0 else 0.0)
    closed = 1.0 + (a * c - alpha - gamma / 2) * (1.0 - beta**t) / (1.0 - beta)
    np.testing.assert_allclose(q, closed[:30], rtol=1e-12)
    np.testing.assert_allclose(q_next, closed[30], rtol=1e-12)


@pytest.mark.parametrize(
    ("alpha", "beta", "gamma"),
    [(-0.1, 0.5, 0.0), (0.2, -0.1, 0.0), (0.3, 0.7, 0.0), (0.1, 0.8, 0.2), (0.1, 0.5, -0.05)],
)
def test_inadmissible_coefficients_are_refused(alpha, beta, gamma):
    with pytest.raises(ValueError, match="alpha \\+ gamma/2 \\+ beta < 1"):
        garch_variance(np.ones((5, 1)), [alpha], [beta], [gamma])


def _graph(y, mask, p):
    lam = pt.matrix("lam", shape=(N, K))
    ar = pt.tensor3("ar", shape=(p, K, K))
    sd, alpha, beta, gamma = (pt.vector(n) for n in ("sd", "alpha", "beta", "gamma"))
    log_q, log_next = garch_log_var(y, mask, lam, ar, sd, alpha, beta, gamma, n_lags=p)
    return [lam, ar, sd, alpha, beta, gamma], log_q, log_next


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])
@pytest.mark.parametrize("p", [1, 2])
def test_graph_equals_the_numpy_path(mode, p):
    y, mask, lam, ar, sd = _case(1)
    ar = ar[:p]
    coefs = np.array([0.12, 0.05]), np.array([0.8, 0.85]), np.array([0.0, 0.1])
    inputs, log_q, log_next = _graph(y, mask, p)
    fn = pytensor.function(inputs, [log_q, log_next], mode=mode)
    got_q, got_next = fn(lam, ar, sd, *coefs)
    q, q_next = factor_garch_variance(y, mask, lam, ar, sd, *coefs)
    assert np.ptp(q) > 0.1
    np.testing.assert_allclose(got_q, np.log(q), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_next, np.log(q_next), rtol=0, atol=1e-12)


def test_graph_gradient_matches_finite_differences():
    y, mask, lam, ar, sd = _case(2)
    inputs, log_q, log_next = _graph(y, mask, P)
    point = [lam, ar, sd, np.array([0.12, 0.05]), np.array([0.8, 0.9]), np.array([0.04, 0.1])]
    _check_gradient(inputs, log_q, log_next, point, n_entries=6)


def _check_gradient(inputs, log_q, log_next, point, n_entries):
    """Central differences of a random projection of the path against pytensor's gradient."""
    weights = np.random.default_rng(3).standard_normal((T, 1)) * np.linspace(0.5, 1.5, T)[:, None]
    objective = pt.sum(log_q * weights) + pt.sum(log_next)
    fn = pytensor.function(inputs, [objective, *pytensor.grad(objective, inputs)])
    _, *analytic = fn(*point)
    h = 1e-6
    for i, x in enumerate(point):
        for idx in list(np.ndindex(x.shape))[:n_entries]:
            up = [v.copy() for v in point]
            down = [v.copy() for v in point]
            up[i][idx] += h
            down[i][idx] -= h
            numeric = (fn(*up)[0] - fn(*down)[0]) / (2 * h)
            assert analytic[i][idx] == pytest.approx(numeric, rel=1e-5, abs=1e-7)


# ------------------------------------------------------------------- idiosyncratic GARCH
@pytest.mark.parametrize("ar1", [False, True])
def test_residual_estimates_are_the_gls_residuals(ar1):
    y, mask, lam, _, sd = _case(4)
    rho = np.linspace(-0.5, 0.6, N) if ar1 else None
    resid = np.zeros((T, N))
    ok = np.zeros((T, N), bool)
    for t in range(T):
        obs = mask[t]
        if obs.sum() >= K:
            f = np.linalg.lstsq(lam[obs] / sd[obs, None], y[t, obs] / sd[obs], rcond=None)[0]
            resid[t, obs] = y[t, obs] - lam[obs] @ f
            ok[t, obs] = True
    if ar1:
        resid[1:] = resid[1:] - rho * resid[:-1]
        ok[1:] &= ok[:-1]
        ok[0] = False
    got, got_ok = residual_estimates(y, mask, lam, sd, rho)
    np.testing.assert_array_equal(got_ok, ok)
    np.testing.assert_allclose(got, np.where(ok, resid / sd, 0.0), rtol=1e-9, atol=1e-12)
    assert ok.sum() > 0.8 * mask.sum() - N


def _idio_graph(y, mask, ar1):
    lam = pt.matrix("lam", shape=(N, K))
    sd, alpha, beta, gamma = (pt.vector(n) for n in ("sd", "alpha", "beta", "gamma"))
    rho = pt.vector("rho") if ar1 else None
    log_r, log_next = idio_garch_log_var(y, mask, lam, sd, rho, alpha, beta, gamma)
    inputs = [lam, sd, *([rho] if ar1 else []), alpha, beta, gamma]
    return inputs, log_r, log_next


def _idio_point(ar1, seed=5):
    y, mask, lam, _, sd = _case(seed)
    rng = np.random.default_rng(seed)
    coefs = [rng.uniform(0.02, 0.1, N), rng.uniform(0.7, 0.85, N), rng.uniform(0.0, 0.1, N)]
    rho = [np.linspace(-0.5, 0.6, N)] if ar1 else []
    return y, mask, [lam, sd, *rho, *coefs]


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])
@pytest.mark.parametrize("ar1", [False, True])
def test_idio_graph_equals_the_numpy_path(mode, ar1):
    y, mask, point = _idio_point(ar1)
    inputs, log_r, log_next = _idio_graph(y, mask, ar1)
    got_r, got_next = pytensor.function(inputs, [log_r, log_next], mode=mode)(*point)
    lam, sd = point[:2]
    rho = point[2] if ar1 else None
    r, r_next = idio_garch_variance(y, mask, lam, sd, rho, *point[-3:])
    assert np.ptp(r) > 0.1
    np.testing.assert_allclose(got_r, np.log(r), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_next, np.log(r_next), rtol=0, atol=1e-12)


def test_idio_graph_gradient_matches_finite_differences():
    y, mask, point = _idio_point(True, seed=6)
    inputs, log_r, log_next = _idio_graph(y, mask, True)
    _check_gradient(inputs, log_r, log_next, point, n_entries=4)
