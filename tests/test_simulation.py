import numpy as np
import pytest

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


# ---------------------------------------------------------------- time-varying volatility
SV_ALL = {"factor_volatility": "sv", "idio_volatility": "common_sv", "tails": "student_t"}


def _innovations(data, truth, spec):
    """Factor shocks η_t (t >= 1) and idiosyncratic innovations ε_t implied by a simulation."""
    f = truth["factors"].to_numpy()
    A = truth["factor_ar"]
    p = A.shape[0]
    eta = f[p:] - sum(f[p - 1 - lag : len(f) - 1 - lag] @ A[lag].T for lag in range(p))
    u = data.to_numpy() - f @ truth["loadings"].T
    if spec.idiosyncratic == "ar1":
        eps = np.vstack([u[:1], u[1:] - truth["idio_ar"] * u[:-1]])
    else:
        eps = u
    return eta, eps


@pytest.mark.parametrize("idio", ["iid", "ar1"])
@pytest.mark.parametrize("idio_vol", ["common_sv", "sv"])
def test_sv_shocks_are_the_constant_shocks_scaled_by_the_true_paths(idio, idio_vol):
    """Same seed: every shock is the constant model's times sqrt(variance multiplier)."""
    kw = {"factor_volatility": "sv", "idio_volatility": idio_vol, "tails": "student_t"}
    spec = DFMSpec(n_factors=2, factor_order=2, idiosyncratic=idio, **kw)
    const = DFMSpec(n_factors=2, factor_order=2, idiosyncratic=idio)
    params = random_params(spec, 5, 3)
    base = random_params(const, 5, 3)
    for n, v in base.items():  # the volatility parameters are drawn after the constant ones
        np.testing.assert_array_equal(params[n], v)
    data, truth = simulate(spec, params, 200, random_seed=7)
    data0, truth0 = simulate(const, base, 200, random_seed=7)
    eta, eps = _innovations(data, truth, spec)
    eta0, eps0 = _innovations(data0, truth0, const)
    h = truth["factor_log_var"].to_numpy()
    g = truth["idio_log_var"].to_numpy()
    lam = truth["tail_scale"].to_numpy()
    factor_var = np.exp(h) / lam[:, None]
    obs_scale = np.exp(g if g.ndim == 2 else g[:, None]) / lam[:, None]
    np.testing.assert_allclose(eta, eta0 * np.sqrt(factor_var[2:]), rtol=1e-8, atol=1e-10)
    # AR(1): the start date's error has the stationary variance times obs_scale[0]
    np.testing.assert_allclose(eps, eps0 * np.sqrt(obs_scale), rtol=1e-8, atol=1e-10)
    assert truth["factor_log_var"].index.equals(data.index)
    assert list(truth["factor_log_var"].columns) == list(truth["factors"].columns)
    assert truth["idio_log_var"].shape == ((200,) if idio_vol == "common_sv" else (200, 5))


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_sv_with_zero_sd_and_normal_tails_is_the_constant_model_bit_for_bit(idio):
    spec = DFMSpec(2, idiosyncratic=idio, factor_volatility="sv", idio_volatility="common_sv")
    const = DFMSpec(2, idiosyncratic=idio)
    params = random_params(const, 4, 1)
    zero = params | {
        "factor_sv_phi": np.full(2, 0.9),
        "factor_sv_sd": np.zeros(2),
        "idio_sv_phi": 0.9,
        "idio_sv_sd": 0.0,
    }
    data, truth = simulate(spec, zero, 60, random_seed=2)
    data0, truth0 = simulate(const, params, 60, random_seed=2)
    assert data.equals(data0) and truth["factors"].equals(truth0["factors"])
    assert (truth["factor_log_var"].to_numpy() == 0).all()
    assert (truth["idio_log_var"].to_numpy() == 0).all()


def test_log_variance_paths_have_the_stationary_ar1_law():
    spec = DFMSpec(1, idio_volatility="sv")
    n = 20
    params = random_params(spec, n, 0) | {
        "idio_sv_phi": np.full(n, 0.9),
        "idio_sv_sd": np.full(n, 0.3),
    }
    _, truth = simulate(spec, params, 2000, random_seed=4)
    g = truth["idio_log_var"].to_numpy()
    var = 0.3**2 / (1 - 0.9**2)
    assert abs(g.var(axis=0).mean() / var - 1) < 0.2
    assert abs(np.mean([np.corrcoef(x[1:], x[:-1])[0, 1] for x in g.T]) - 0.9) < 0.03
    assert abs(g.mean()) < 0.1


def test_factor_shock_log_variance_tracks_the_true_path():
    """Regressing log η_t² on h_t: slope 1, intercept E log χ²_1 = -1.27."""
    spec = DFMSpec(1, factor_volatility="sv")
    params = random_params(spec, 4, 0) | {"factor_sv_phi": [0.95], "factor_sv_sd": [0.3]}
    data, truth = simulate(spec, params, 3000, random_seed=5)
    eta, _ = _innovations(data, truth, spec)
    h = truth["factor_log_var"].to_numpy()[1:, 0]
    slope, intercept = np.polyfit(h, np.log(eta[:, 0] ** 2), 1)
    assert abs(slope - 1) < 0.2 and abs(intercept + 1.27) < 0.2


def test_student_t_shocks_have_excess_kurtosis():
    spec = DFMSpec(1, tails="student_t")
    params = random_params(spec, 5, 0) | {"tails_nu": 6.0}
    data, truth = simulate(spec, params, 3000, random_seed=6)
    _, eps = _innovations(data, truth, spec)
    z = (eps / params["idio_sd"]).ravel()
    excess = np.mean(z**4) / np.mean(z**2) ** 2 - 3  # t_6: 6 / (6 - 4) = 3
    assert 1.0 < excess < 20  # the sample kurtosis of t_6 is itself heavy-tailed
    lam = truth["tail_scale"].to_numpy()
    assert abs(lam.mean() - 1) < 0.03 and abs(lam.var() - 2 / 6) < 0.05  # Gamma(3, rate 3)
    # normalising each date by its scale gives Gaussian innovations
    w = (eps * np.sqrt(lam)[:, None] / params["idio_sd"]).ravel()
    assert abs(np.mean(w**4) / np.mean(w**2) ** 2 - 3) < 0.3


def test_volatility_simulation_is_reproducible_and_params_are_valid():
    from bdfm.params import param_shapes, validate_params

    for kw in (SV_ALL, {"idio_volatility": "sv", "idiosyncratic": "ar1"}):
        spec = DFMSpec(n_factors=2, **kw)
        params = random_params(spec, 4, 0)
        assert list(params) == list(param_shapes(spec, 4))
        validate_params(params, spec, 4)
        a, ta = simulate(spec, n_time=80, random_seed=9, n_series=4)
        b, tb = simulate(spec, n_time=80, random_seed=9, n_series=4)
        assert a.equals(b)
        for name in ("factor_log_var", "idio_log_var", "tail_scale"):
            assert (name in ta) == (name in tb)
            if name in ta:
                assert ta[name].equals(tb[name])
        c, _ = simulate(spec, n_time=80, random_seed=10, n_series=4)
        assert not a.equals(c)


def test_garch_simulation_follows_the_recursion_on_its_own_shock_estimates():
    """The simulator's online GARCH equals the batch path of the simulated data."""
    from bdfm.statespace.garch import factor_garch_variance

    spec = DFMSpec(2, factor_order=2, factor_volatility="garch", tails="student_t")
    params = random_params(spec, 6, 0)
    data, truth = simulate(spec, params, 400, random_seed=3)
    y = data.to_numpy()
    coefs = [params[f"factor_garch_{v}"] for v in ("alpha", "beta", "gamma")]
    q, _ = factor_garch_variance(y, np.ones_like(y), params["loadings"], params["factor_ar"],
                                 params["idio_sd"], *coefs)  # fmt: skip
    np.testing.assert_allclose(truth["factor_log_var"].to_numpy(), np.log(q), atol=1e-10)
    assert np.ptp(q) > 0.3
    # the factor shocks have variance q_t / λ_t
    eta, _ = _innovations(data, truth, spec)
    z = eta * np.sqrt(truth["tail_scale"].to_numpy()[2:, None] / q[2:])  # p = 2
    assert abs(z.var() - 1) < 0.1


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_idio_garch_simulation_follows_the_recursion_on_its_own_residuals(idio):
    from bdfm.statespace.garch import factor_garch_variance, idio_garch_variance

    spec = DFMSpec(2, idiosyncratic=idio, factor_volatility="garch", idio_volatility="garch")
    params = random_params(spec, 6, 1)
    data, truth = simulate(spec, params, 300, random_seed=4)
    y, mask = data.to_numpy(), np.ones((300, 6))
    coefs = [params[f"idio_garch_{v}"] for v in ("alpha", "beta", "gamma")]
    r, _ = idio_garch_variance(y, mask, params["loadings"], params["idio_sd"],
                               params.get("idio_ar"), *coefs)  # fmt: skip
    np.testing.assert_allclose(truth["idio_log_var"].to_numpy(), np.log(r), atol=1e-10)
    fcoefs = [params[f"factor_garch_{v}"] for v in ("alpha", "beta", "gamma")]
    q, _ = factor_garch_variance(y, mask, params["loadings"], params["factor_ar"],
                                 params["idio_sd"], *fcoefs)  # fmt: skip
    np.testing.assert_allclose(truth["factor_log_var"].to_numpy(), np.log(q), atol=1e-10)
    _, eps = _innovations(data, truth, spec)
    z = eps / (params["idio_sd"] * np.sqrt(r))
    assert abs(z[1:].var() - 1) < 0.1
