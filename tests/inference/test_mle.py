"""Maximum likelihood: reaches at least statsmodels' optimum and recovers simulated parameters."""

import numpy as np
import pytensor.tensor as pt
import pytest

import bdfm
from bdfm.inference.mle import initial_params
from bdfm.simulation import random_params, simulate
from bdfm.spec import DFMSpec


def test_initial_params_are_admissible(rng):
    spec = DFMSpec(n_factors=2, factor_order=2, idiosyncratic="ar1")
    data, _ = simulate(spec, random_params(spec, 8, rng), 150, random_seed=rng)
    data.iloc[:10, 0] = np.nan
    model = bdfm.DynamicFactorModel(data, 2, factor_order=2, idiosyncratic="ar1")
    init = initial_params(model)
    assert np.isfinite(model.loglike(init))


@pytest.mark.slow
def test_mle_recovers_common_component(rng):
    spec = DFMSpec(n_factors=2, factor_order=1, idiosyncratic="iid", standardize=False)
    true = random_params(spec, 12, rng)
    data, truth = simulate(spec, true, 400, random_seed=rng)
    factors = truth["factors"]
    model = bdfm.DynamicFactorModel(data, 2, standardize=False)
    fit = model.fit_mle()
    assert fit.converged
    assert fit.loglike >= model.loglike(true)  # the MLE beats the truth in-sample
    est_common = model.smoothed_factors(fit.params).to_numpy() @ fit.params["loadings"].T
    true_common = factors.to_numpy() @ true["loadings"].T
    corr = [np.corrcoef(est_common[:, i], true_common[:, i])[0, 1] for i in range(12)]
    assert np.min(corr) > 0.9
    np.testing.assert_allclose(fit.params["idio_sd"], true["idio_sd"], rtol=0.2)
    assert "log-likelihood" in fit.summary()
    assert fit.common_share().between(0, 1).all()


@pytest.mark.reference
def test_mle_at_least_as_good_as_statsmodels(rng):
    sm = pytest.importorskip("statsmodels.api")
    spec = DFMSpec(n_factors=1, factor_order=1, idiosyncratic="ar1", standardize=False)
    data, _ = simulate(spec, random_params(spec, 5, rng), 200, random_seed=rng)
    ours = bdfm.DynamicFactorModel(data, 1, idiosyncratic="ar1", standardize=False).fit_mle()
    ref = sm.tsa.DynamicFactor(data, k_factors=1, factor_order=1, error_order=1).fit(
        disp=False, maxiter=500
    )
    assert ours.loglike >= ref.llf - 1e-3


def test_a_large_free_ar1_parameter_keeps_the_coefficient_inside_the_unit_interval():
    from bdfm.inference.mle import ATANH_MAX, ar1_coefficient

    free = np.array([-40.0, -ATANH_MAX, 0.3, 25.0, 1e6])
    rho = ar1_coefficient(pt.as_tensor_variable(free)).eval()
    assert np.all(np.abs(rho) < 1.0)  # np.tanh(25.0) == 1.0 exactly
    assert np.all(np.isfinite(np.log1p(-(rho**2))))
    assert rho[2] == np.tanh(0.3)
