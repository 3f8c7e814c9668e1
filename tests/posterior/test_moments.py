"""Closed-form predictive moments against dense Gaussian conditioning (plain numpy/scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bdfm.posterior.moments import (
    edge_state,
    last_observed,
    mean_variance_scale,
    predictive_moments,
    unconditional_moments,
)
from tests.conftest import (
    dense_condition,
    dense_joint_cov,
    draw_panel,
    n_lags,
    one_draw,
    ragged_mask,
    true_params,
)
from tests.statespace.dense_tv import tv_y_cov


@pytest.mark.parametrize("ar1", [False, True])
@pytest.mark.parametrize("horizon", [1, 3])
def test_predictive_moments_equal_dense_conditioning(ar1, horizon):
    params = true_params(ar1)
    y, mask, cov = draw_panel(params, 9, horizon, seed=1)
    target = np.zeros((9 + horizon, 4), bool)
    target[-1] = True
    mean, var = dense_condition(cov, y, mask, target)
    mom = predictive_moments(y, mask, one_draw(params), n_lags(params), horizon)
    np.testing.assert_allclose(mom.mean()[0], mean, atol=1e-10)
    np.testing.assert_allclose(mom.cov()[0], var, atol=1e-10)


def test_unconditional_moments_equal_stationary_covariance():
    params = true_params(True)
    cov = dense_joint_cov(params, 3)
    mom = unconditional_moments(one_draw(params), n_lags(params))
    np.testing.assert_allclose(mom.cov()[0], cov[:4, :4], atol=1e-12)
    np.testing.assert_allclose(mom.mean()[0], 0.0)


def test_moments_to_original_units():
    params = true_params(True)
    y, mask, _ = draw_panel(params, 9, 1, seed=2)
    mom = predictive_moments(y, mask, one_draw(params), n_lags(params), 2)
    mean, scale = np.array([1.0, -2.0, 0.5, 3.0]), np.array([2.0, 0.5, 1.5, 4.0])
    orig = mom.to_original(mean, scale)
    np.testing.assert_allclose(orig.mean()[0], mean + scale * mom.mean()[0])
    np.testing.assert_allclose(orig.cov()[0], np.outer(scale, scale) * mom.cov()[0])


def test_last_observed():
    mask = ragged_mask(9, 4)
    np.testing.assert_array_equal(last_observed(mask), [8, 4, 7, 8])


# ---------------------------------------------------------------------------- volatility paths
def _tv_panel(params, n_time, horizon, seed):
    """y_{1:T} from the dense Gaussian with random volatility paths over T + h dates.

    Series 1 and 2 end 2 and 1 dates early (a ragged edge), series 3 starts late (its
    AR(1) error restarts there). Returns (y filled, mask, cov, factor_var, obs_scale).
    """
    rng = np.random.default_rng(seed)
    total, (n, k) = n_time + horizon, params["loadings"].shape
    factor_var = rng.uniform(0.2, 3.0, (total, k))
    obs_scale = rng.uniform(0.2, 3.0, (total, n))
    mask = np.ones((n_time, n), bool)
    mask[-2:, 1] = mask[-1:, 2] = mask[:2, 3] = False
    restarts = np.ones((total, n), bool)  # the errors go on past the edge, unobserved
    restarts[:2, 3] = False
    cov = tv_y_cov(
        restarts,
        params["loadings"],
        params["factor_ar"],
        params["idio_sd"],
        params.get("idio_ar"),
        factor_var=factor_var,
        obs_scale=obs_scale,
    )
    y = rng.multivariate_normal(np.zeros(total * n), cov).reshape(total, n)[:n_time]
    return np.where(mask, y, 0.0), mask, cov, factor_var, obs_scale


@pytest.mark.parametrize("ar1", [False, True])
@pytest.mark.parametrize("horizon", [1, 2])
def test_predictive_moments_with_volatility_paths_equal_dense_conditioning(ar1, horizon):
    params = true_params(ar1)
    y, mask, cov, factor_var, obs_scale = _tv_panel(params, 9, horizon, seed=3)
    target = np.zeros((9 + horizon, 4), bool)
    target[-1] = True
    mean, var = dense_condition(cov, y, mask, target)
    mom = predictive_moments(
        y,
        mask,
        one_draw(params),
        n_lags(params),
        horizon,
        factor_var=factor_var[None],
        obs_scale=obs_scale[None],
    )
    np.testing.assert_allclose(mom.mean()[0], mean, atol=1e-8)
    np.testing.assert_allclose(mom.cov()[0], var, atol=1e-8)


@pytest.mark.parametrize("ar1", [False, True])
def test_volatility_paths_of_ones_give_the_constant_moments(ar1):
    params = true_params(ar1)
    y, mask, _ = draw_panel(params, 9, 2, seed=4)
    draws = {k: np.stack([v, v]) for k, v in params.items()}
    base = predictive_moments(y, mask, draws, n_lags(params), 2)
    ones = predictive_moments(
        y,
        mask,
        draws,
        n_lags(params),
        2,
        factor_var=np.ones((2, 11, 2)),
        obs_scale=np.ones((2, 11, 4)),
    )
    for a, b in zip(base, ones, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
    edge = edge_state(y, mask, params, n_lags(params))
    for a, b in zip(edge, edge_state(y, mask, params, n_lags(params), obs_scale=None), strict=True):
        np.testing.assert_array_equal(b, a)
    with pytest.raises(ValueError, match="obs_scale must have shape"):
        predictive_moments(y, mask, draws, n_lags(params), 2, obs_scale=np.ones((2, 10, 4)))


def test_unconditional_moments_with_mean_variances_equal_the_stationary_covariance():
    params = true_params(True)
    q, c = np.array([0.5, 2.0]), np.array([1.5, 0.7, 2.0, 0.3])
    cov = tv_y_cov(
        np.ones((3, 4), bool),
        params["loadings"],
        params["factor_ar"],
        params["idio_sd"],
        params["idio_ar"],
        factor_var=np.tile(q, (3, 1)),
        obs_scale=np.tile(c, (3, 1)),
    )
    mom = unconditional_moments(
        one_draw(params), n_lags(params), factor_var=q[None], obs_scale=c[None]
    )
    np.testing.assert_allclose(mom.cov()[0], cov[:4, :4], atol=1e-12)


def test_mean_variance_scale_equals_the_lognormal_and_inverse_gamma_means():
    phi, sd, nu = 0.8, 0.5, 7.0
    lognormal = stats.lognorm(s=sd / np.sqrt(1 - phi**2)).mean()
    inverse = stats.gamma(a=nu / 2, scale=2 / nu).expect(lambda x: 1 / x)
    np.testing.assert_allclose(mean_variance_scale(phi, sd), lognormal, rtol=1e-12)
    np.testing.assert_allclose(mean_variance_scale(tails_nu=nu), inverse, rtol=1e-8)
    np.testing.assert_allclose(mean_variance_scale(phi, sd, nu), lognormal * inverse, rtol=1e-8)
    assert mean_variance_scale() == 1.0
