import numpy as np

from bdfm.simulation import random_params, simulate
from bdfm.spec import DFMSpec


def test_simulate_shapes_and_moments(rng):
    spec = DFMSpec(n_factors=2, factor_order=1, idiosyncratic="ar1")
    params = random_params(spec, 6, rng)
    data, truth = simulate(spec, params, 3000, random_seed=1)
    factors = truth["factors"]
    assert data.shape == (3000, 6) and factors.shape == (3000, 2)
    assert data.index.equals(factors.index)
    # lag-1 autocorrelation of each factor matches the VAR(1) implied one
    from scipy.linalg import solve_discrete_lyapunov

    A = params["factor_ar"][0]
    g0 = solve_discrete_lyapunov(A, np.eye(2))
    g1 = A @ g0
    f = factors.to_numpy()
    emp = f[1:].T @ f[:-1] / len(f)
    np.testing.assert_allclose(emp, g1, atol=0.15 * np.abs(g0).max())


def test_reproducible(rng):
    spec = DFMSpec(n_factors=1)
    params = random_params(spec, 3, 0)
    a, _ = simulate(spec, params, 50, random_seed=5)
    b, _ = simulate(spec, params, 50, random_seed=5)
    assert a.equals(b)
