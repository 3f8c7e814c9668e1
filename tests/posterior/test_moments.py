"""Closed-form predictive moments against dense Gaussian conditioning (plain numpy/scipy)."""

from __future__ import annotations

import numpy as np
import pytest

from bdfm.posterior.moments import last_observed, predictive_moments, unconditional_moments
from tests.conftest import (
    dense_condition,
    dense_joint_cov,
    draw_panel,
    n_lags,
    one_draw,
    ragged_mask,
    true_params,
)


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
