"""Simulation smoother draws against dense Gaussian conditioning (independent oracle)."""

import numpy as np
import pytest

from bdfm.simulation import random_params, simulate
from bdfm.spec import DFMSpec
from bdfm.statespace.assemble import n_state_lags
from bdfm.statespace.simsmoother import simulation_smoother
from tests.conftest import dense_factor_posterior


@pytest.mark.parametrize(("idio", "p"), [("iid", 1), ("ar1", 1), ("iid", 2)])
def test_draws_have_the_exact_conditional_distribution(idio, p):
    spec = DFMSpec(n_factors=2, factor_order=p, idiosyncratic=idio)
    params = random_params(spec, 4, 11)
    data, _ = simulate(spec, params, 20, random_seed=11)
    y = data.to_numpy().copy()
    y[:3, 0] = np.nan  # late start
    y[8:10, 1] = np.nan  # interior gap (AR(1): restart)
    y[-2:, 2] = np.nan  # ragged end
    y[12] = np.nan  # nothing observed at t = 12
    mask = ~np.isnan(y)
    D = 4000
    draws = {k: np.repeat(v[None], D, axis=0) for k, v in params.items()}
    factors, smoothed = simulation_smoother(
        np.where(mask, y, 0.0), mask, draws, n_state_lags(p, idio), random_seed=5
    )
    mean, cov = dense_factor_posterior(
        y, params["loadings"], params["factor_ar"], params["idio_sd"], params.get("idio_ar")
    )
    # the smoothed mean of every draw is the exact conditional mean
    np.testing.assert_allclose(smoothed[0], mean, atol=1e-9)
    np.testing.assert_allclose(smoothed[-1], mean, atol=1e-9)
    # the draws: mean within 4.5 standard errors, full (Tk x Tk) covariance within 10 %
    flat = factors.reshape(D, -1)
    se = np.sqrt(np.diag(cov) / D)
    assert np.max(np.abs(flat.mean(axis=0) - mean.ravel()) / se) < 4.5
    emp = np.cov(flat.T)
    assert np.linalg.norm(emp - cov) / np.linalg.norm(cov) < 0.1
    # and it is a different draw each time
    assert np.std(factors[:, 5, 0]) > 0.1 * np.sqrt(cov[10, 10])
