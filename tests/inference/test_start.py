import numpy as np
from scipy.linalg import solve_discrete_lyapunov

import bdfm
from bdfm.inference.posterior_mode import natural_params_fn, unconstrained_point
from bdfm.inference.pymc_model import BayesSpec
from bdfm.inference.start import identified_params, point_to_free
from bdfm.spec import DFMSpec


def _implied_cov(p):
    S = solve_discrete_lyapunov(p["factor_ar"][0], np.eye(p["loadings"].shape[1]))
    return p["loadings"] @ S @ p["loadings"].T


def test_identified_params_are_lower_triangular_and_equivalent(rng):
    params = {
        "loadings": rng.standard_normal((7, 3)),
        "factor_ar": np.array([0.3 * np.eye(3) + 0.05 * rng.standard_normal((3, 3))]),
        "idio_sd": np.ones(7),
    }
    bspec = BayesSpec(anchors=(5, 2, 0))
    out = identified_params(params, bspec)
    block = out["loadings"][[5, 2, 0]]
    assert np.allclose(np.triu(block, 1), 0) and np.all(np.diag(block) > 0)
    np.testing.assert_allclose(_implied_cov(out), _implied_cov(params), atol=1e-10)


def test_blocks_fix_signs_only(rng):
    mask = np.ones((6, 2), dtype=bool)
    mask[3:, 0] = False
    params = {"loadings": -np.abs(rng.standard_normal((6, 2))), "factor_ar": np.zeros((1, 2, 2))}
    bspec = BayesSpec(anchors=(0, 3), blocks=tuple(map(tuple, mask)))
    out = identified_params(params, bspec)
    assert out["loadings"][0, 0] > 0 and out["loadings"][3, 1] > 0
    assert np.all(out["loadings"][~mask] == 0)


def test_point_to_free_reproduces_grouped_and_horseshoe_loadings():
    spec = DFMSpec(n_factors=2)
    data, truth = bdfm.simulate(spec, n_time=50, n_series=6, random_seed=2)
    model = bdfm.DynamicFactorModel(data, n_factors=2, standardize=False)
    groups = {c: ("a" if i < 3 else "b") for i, c in enumerate(data.columns)}
    for options in ({"groups": groups}, {"loadings": "horseshoe"}):
        from bdfm.inference.fitting import prepare_bayes

        bspec, _, pm_model = prepare_bayes(model, reference_loadings=truth["loadings"], **options)
        ident = identified_params(truth, bspec)
        point = unconstrained_point(pm_model, point_to_free(ident, bspec, "iid"))
        nat = natural_params_fn(pm_model)(point)
        np.testing.assert_allclose(nat["loadings"], ident["loadings"], atol=1e-9)
