"""Simulation smoother draws against dense Gaussian conditioning (independent oracle)."""

import numpy as np
import pytest

from bdfm.simulation import random_params, simulate
from bdfm.spec import DFMSpec
from bdfm.statespace.assemble import n_state_lags
from bdfm.statespace.simsmoother import simulation_smoother
from tests.conftest import dense_factor_posterior, dense_loglike
from tests.statespace.dense_tv import tv_factor_posterior, tv_y_cov


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


# ---------------------------------------------------- given time-varying variance paths
def _tv_setup(idio, seed=3, T=8, N=3):
    """k = 1, VAR(1); strongly time-varying paths; data drawn from the TV joint Gaussian."""
    rng = np.random.default_rng(seed)
    params = {
        "loadings": np.array([[1.0], [0.6], [-0.8]]),
        "factor_ar": np.array([[[0.7]]]),
        "idio_sd": np.array([0.5, 0.8, 0.6]),
    }
    if idio == "ar1":
        params["idio_ar"] = np.array([0.6, -0.3, 0.8])
    factor_var = np.exp(rng.normal(0.0, 0.9, (T, 1)))
    obs_scale = np.exp(rng.normal(0.0, 0.9, (T, N)))
    mask = np.ones((T, N), bool)
    mask[:2, 0] = False  # late start
    mask[-2:, 1] = False  # early end
    if idio == "iid":
        mask[3, 2] = False
        mask[5] = False  # nothing observed at t = 5
    kw = {"factor_var": factor_var, "obs_scale": obs_scale}
    args = (params["loadings"], params["factor_ar"], params["idio_sd"], params.get("idio_ar"))
    cov = tv_y_cov(mask, *args, **kw)
    y = rng.multivariate_normal(np.zeros(T * N), cov).reshape(T, N)
    y[~mask] = np.nan
    return params, kw, y, mask, args


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_draws_given_volatility_paths_have_the_exact_conditional(idio):
    """Per-draw factor_var (D, T, k) and obs_scale (D, T, N): the smoothed means equal the
    dense conditional mean E[f | y] with the time-varying covariance (1e-8), and 4000 draws
    match its mean (4.5 standard errors) and covariance (10 % in Frobenius norm)."""
    params, kw, y, mask, args = _tv_setup(idio)
    D = 4000
    draws = {k: np.repeat(v[None], D, axis=0) for k, v in {**params, **kw}.items()}
    factors, smoothed = simulation_smoother(
        np.where(mask, y, 0.0), mask, draws, n_state_lags(1, idio), random_seed=7
    )
    mean, cov = tv_factor_posterior(y, *args, **kw)
    np.testing.assert_allclose(smoothed[0], mean, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(smoothed[-1], mean, rtol=1e-8, atol=1e-8)
    flat = factors.reshape(D, -1)
    se = np.sqrt(np.diag(cov) / D)
    assert np.max(np.abs(flat.mean(axis=0) - mean.ravel()) / se) < 4.5
    emp = np.cov(flat.T)
    assert np.linalg.norm(emp - cov) / np.linalg.norm(cov) < 0.1
    # the constant-variance posterior is measurably different (the paths matter)
    _, const_cov = tv_factor_posterior(
        y, *args, factor_var=np.ones_like(kw["factor_var"]), obs_scale=np.ones_like(kw["obs_scale"])
    )
    assert np.linalg.norm(emp - const_cov) / np.linalg.norm(const_cov) > 0.2


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_volatility_paths_are_taken_per_draw(idio):
    """Each draw d uses its own factor_var[d] and obs_scale[d] (smoothed mean, 1e-8)."""
    params, kw, y, mask, args = _tv_setup(idio)
    D = 3
    rng = np.random.default_rng(0)
    fv = np.exp(rng.normal(0.0, 0.9, (D, *kw["factor_var"].shape)))
    sc = np.exp(rng.normal(0.0, 0.9, (D, *kw["obs_scale"].shape)))
    draws = {k: np.repeat(v[None], D, axis=0) for k, v in params.items()}
    draws.update(factor_var=fv, obs_scale=sc)
    _, smoothed = simulation_smoother(
        np.where(mask, y, 0.0), mask, draws, n_state_lags(1, idio), random_seed=1, batch=2
    )
    for d in range(D):
        mean, _ = tv_factor_posterior(y, *args, factor_var=fv[d], obs_scale=sc[d])
        np.testing.assert_allclose(smoothed[d], mean, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_unit_volatility_paths_reproduce_the_constant_model_bit_for_bit(idio):
    params, kw, y, mask, _ = _tv_setup(idio)
    D = 5
    draws = {k: np.repeat(v[None], D, axis=0) for k, v in params.items()}
    y0 = np.where(mask, y, 0.0)
    base = simulation_smoother(y0, mask, draws, n_state_lags(1, idio), random_seed=2)
    ones = {
        "factor_var": np.ones((D, *kw["factor_var"].shape)),
        "obs_scale": np.ones((D, *kw["obs_scale"].shape)),
    }
    for extra in (ones, {"factor_var": None, "obs_scale": None}):
        out = simulation_smoother(y0, mask, {**draws, **extra}, n_state_lags(1, idio), 2)
        np.testing.assert_array_equal(out[0], base[0])
        np.testing.assert_array_equal(out[1], base[1])


def test_volatility_path_shapes_are_checked():
    params, kw, y, mask, _ = _tv_setup("iid")
    draws = {k: v[None] for k, v in params.items()}
    with pytest.raises(ValueError, match="factor_var"):
        simulation_smoother(y, mask, {**draws, "factor_var": kw["factor_var"]}, 1)
    with pytest.raises(ValueError, match="obs_scale"):
        simulation_smoother(y, mask, {**draws, "obs_scale": kw["obs_scale"][None, 1:]}, 1)


def _reference_batch(rng, factor_ar, loadings, idio_sd, idio_ar, m_start, n_time):
    """(f⁺, y⁺) of one draw by plain loops, drawing stream 1's normals in its order."""
    k = loadings.shape[1]
    n = loadings.shape[0]
    from bdfm.statespace.inputs import companion_matrix, stationary_cov

    comp = companion_matrix(factor_ar)
    m = comp.shape[0]
    P0 = stationary_cov(comp[:k, :])
    s = np.linalg.cholesky(P0 + 1e-12 * np.eye(m)) @ rng.standard_normal(m)
    shocks = rng.standard_normal((n_time - 1, 1, k))
    f = np.empty((n_time, k))
    f[0] = s[:k]
    for t in range(1, n_time):
        s = comp @ s
        s[:k] += shocks[t - 1, 0]
        f[t] = s[:k]
    z = rng.standard_normal((1, n_time, n))[0]
    starts = (m_start > 0) | (np.arange(n_time) == 0)[:, None]
    fresh = rng.standard_normal((1, n_time, n))[0]
    u = np.empty((n_time, n))
    for t in range(n_time):
        for i in range(n):
            if starts[t, i]:
                u[t, i] = fresh[t, i] * idio_sd[i] / np.sqrt(1 - idio_ar[i] ** 2)
            else:
                u[t, i] = idio_ar[i] * u[t - 1, i] + z[t, i] * idio_sd[i]
    return f, f @ loadings.T + u


def test_stream_1_simulates_the_data_in_the_documented_order():
    """Stream 1 (the draws of fits saved before the stream was recorded) simulates y⁺
    with a restart normal for every (t, i): checked against plain loops."""
    from bdfm.statespace.simsmoother import _simulate_data, _simulate_factors

    rng = np.random.default_rng(4)
    n_time, n, k = 30, 4, 2
    factor_ar = np.array([[[0.5, 0.1], [0.0, 0.3]]])
    lam = rng.normal(size=(n, k))
    sd, rho = rng.uniform(0.5, 1.5, n), rng.uniform(0.0, 0.8, n)
    m_start = np.zeros((n_time, n))
    m_start[[0, 0, 0, 0, 7, 12], [0, 1, 2, 3, 1, 3]] = 1.0
    gen = np.random.default_rng(9)
    f = _simulate_factors(gen, factor_ar[None], n_time)
    y = _simulate_data(gen, f, lam[None], sd[None], rho[None], m_start)
    f_ref, y_ref = _reference_batch(
        np.random.default_rng(9), factor_ar, lam, sd, rho, m_start, n_time
    )
    np.testing.assert_allclose(f[0], f_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y[0], y_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rank", [4, 2, 0])
def test_collapsed_b_is_c_x_plus_a_square_root_of_c(rank):
    """b⁺_t = C_t x_t + L_t z_t with L_t L_t' = C_t, also for a singular C_t (fewer
    series observed than state dimensions) and C_t = 0 (nothing observed)."""
    from bdfm.statespace.simsmoother import _collapsed_b

    rng = np.random.default_rng(rank)
    d, k, n_time = 4, 2, 3
    Z = rng.normal(size=(n_time, rank, d))
    C = np.einsum("tri,trj->tij", Z, Z)
    f = rng.normal(size=(n_time, k))
    x = np.concatenate([f, np.vstack([np.zeros(k), f[:-1]])], axis=1)
    no_noise = _collapsed_b(C, f, np.zeros((n_time, d)))
    np.testing.assert_allclose(no_noise, np.einsum("tij,tj->ti", C, x), atol=1e-12)
    for t in range(n_time):
        cols = [_collapsed_b(C[t : t + 1], f[t : t + 1], np.eye(d)[j][None])[0] for j in range(d)]
        L = np.array(cols).T - (C[t] @ np.concatenate([f[t], np.zeros(k)]))[:, None]
        np.testing.assert_allclose(L @ L.T, C[t], atol=1e-9)
        assert np.allclose(L, np.tril(L))


def test_unknown_stream_is_refused():
    params, _, y, mask, _ = _tv_setup("iid")
    with pytest.raises(ValueError, match="stream"):
        simulation_smoother(y, mask, {k: v[None] for k, v in params.items()}, 1, stream=3)


@pytest.mark.parametrize(("idio", "p"), [("iid", 1), ("ar1", 1), ("ar1", 2)])
def test_loglik_from_the_same_pass_is_the_exact_likelihood(idio, p):
    """The pointwise log-likelihood of the smoother's filter pass (stored by fits) sums to the
    dense joint-Gaussian density and equals the model's own pointwise likelihood."""
    import bdfm

    spec = DFMSpec(n_factors=2, factor_order=p, idiosyncratic=idio)
    params = random_params(spec, 5, 12)
    data, _ = simulate(spec, params, 25, random_seed=12)
    y = data.to_numpy().copy()
    y[:3, 0] = np.nan
    y[8:10, 1] = np.nan
    y[-2:, 2] = np.nan
    y[14] = np.nan
    mask = ~np.isnan(y)
    other = random_params(spec, 5, 13)  # two different draws
    draws = {k: np.stack([params[k], other[k]]) for k in params}
    *_, loglik = simulation_smoother(
        np.where(mask, y, 0.0), mask, draws, n_state_lags(p, idio), random_seed=1, with_loglik=True
    )
    for d, par in enumerate((params, other)):
        dense = dense_loglike(
            y, par["loadings"], par["factor_ar"], par["idio_sd"], par.get("idio_ar")
        )
        assert loglik[d].sum() == pytest.approx(dense, rel=1e-10)
    frame = data.copy()
    frame[:] = y
    model = bdfm.DynamicFactorModel(
        frame, n_factors=2, factor_order=p, idiosyncratic=idio, standardize=False
    )
    np.testing.assert_allclose(loglik[1], model.loglike_pointwise(other), rtol=1e-10)
