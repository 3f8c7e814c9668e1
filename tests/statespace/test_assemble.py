"""The full likelihood graph against the dense joint-Gaussian density (independent oracle)."""

import numpy as np
import pytensor
import pytest
from scipy.linalg import solve_discrete_lyapunov

from bdfm.simulation import random_params
from bdfm.spec import DFMSpec
from bdfm.statespace.assemble import (
    dfm_loglike_pointwise,
    n_state_lags,
    stationary_cov,
    transition_top,
)
from bdfm.statespace.stats import ar1_inputs
from tests.conftest import dense_loglike
from tests.statespace.dense_tv import tv_loglike, tv_loglike_terms


def graph_loglike(y, params, ar1):
    mask = ~np.isnan(y)
    y0 = np.where(mask, y, 0.0)
    kwargs = {}
    if ar1:
        kwargs = ar1_inputs(y0, mask)
    ll = dfm_loglike_pointwise(
        y0,
        mask.astype(float),
        params["loadings"],
        params["factor_ar"],
        params["idio_sd"],
        params.get("idio_ar"),
        **kwargs,
    )
    return ll.eval()


@pytest.mark.parametrize("k,p", [(1, 1), (2, 1), (2, 2), (3, 1)])
@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_matches_dense_gaussian_with_missing(k, p, idio, rng):
    T, N = 14, 5
    spec = DFMSpec(n_factors=k, factor_order=p, idiosyncratic=idio)
    params = random_params(spec, N, rng)
    y = rng.standard_normal((T, N)) * 2
    if idio == "iid":
        y[rng.random((T, N)) < 0.2] = np.nan  # scattered
        y[4] = np.nan  # a whole period missing
    else:
        y[:3, 0] = np.nan  # ragged start
        y[-4:, 1] = np.nan  # ragged end
        y[:1, 2] = np.nan
    ll = graph_loglike(y, params, idio == "ar1")
    ref = dense_loglike(
        y, params["loadings"], params["factor_ar"], params["idio_sd"], params.get("idio_ar")
    )
    assert ll.shape == (T,)
    np.testing.assert_allclose(ll.sum(), ref, rtol=1e-10)


def test_pointwise_terms_are_one_step_conditionals(rng):
    """ll_t = log p(y_{1:t}) - log p(y_{1:t-1}) from the dense density of prefixes."""
    T, N = 8, 4
    spec = DFMSpec(n_factors=2, factor_order=1, idiosyncratic="ar1")
    params = random_params(spec, N, rng)
    y = rng.standard_normal((T, N))
    y[:2, 3] = np.nan
    ll = graph_loglike(y, params, True)
    prefix = [0.0] + [
        dense_loglike(
            y[: t + 1],
            params["loadings"],
            params["factor_ar"],
            params["idio_sd"],
            params["idio_ar"],
        )
        for t in range(T)
    ]
    np.testing.assert_allclose(ll, np.diff(prefix), rtol=1e-9, atol=1e-10)


def test_ar1_interior_gap_restarts_the_error_process(rng):
    """Documented treatment: after an interior gap the AR(1) error restarts.

    The value equals the dense density of that model exactly, and differs from
    the true AR(1) density by a small amount that vanishes as rho^(g+1) -> 0.
    """
    T, N = 16, 4
    spec = DFMSpec(n_factors=1, factor_order=1, idiosyncratic="ar1")
    params = random_params(spec, N, rng)
    y = rng.standard_normal((T, N))
    y[6:8, 1] = np.nan  # interior gap of 2
    y[10, 2] = np.nan  # interior gap of 1
    ll = graph_loglike(y, params, True).sum()
    args = (y, params["loadings"], params["factor_ar"], params["idio_sd"], params["idio_ar"])
    np.testing.assert_allclose(ll, dense_loglike(*args, restart_after_gaps=True), rtol=1e-10)
    exact = dense_loglike(*args, restart_after_gaps=False)
    assert ll != pytest.approx(exact, rel=1e-8)
    assert abs(ll - exact) < 0.05 * abs(exact)
    # with weak idiosyncratic persistence the two agree closely
    params_small = dict(params, idio_ar=np.full(N, 0.05))
    ll_small = graph_loglike(y, params_small, True).sum()
    exact_small = dense_loglike(*args[:4], params_small["idio_ar"], restart_after_gaps=False)
    assert abs(ll_small - exact_small) < 0.1 * abs(ll - exact)


def test_stationary_cov_solves_lyapunov(rng):
    spec = DFMSpec(n_factors=2, factor_order=2)
    A = random_params(spec, 4, rng)["factor_ar"]
    top = transition_top(A, n_state_lags(2, "ar1"))
    P0 = stationary_cov(top, np.ones(2)).eval()
    m = P0.shape[0]
    Tm = np.vstack([top.eval(), np.eye(m - 2, m)])
    Q = np.zeros((m, m))
    Q[:2, :2] = np.eye(2)
    np.testing.assert_allclose(P0, Tm @ P0 @ Tm.T + Q, atol=1e-10)
    assert np.all(np.linalg.eigvalsh(P0) > 0)


def test_state_does_not_grow_with_series(rng):
    """The Kalman Op sees d x d statistics with d = k (iid) or 2k (AR(1)), whatever N."""
    for N in (5, 60):
        spec = DFMSpec(n_factors=2, factor_order=1, idiosyncratic="ar1")
        params = random_params(spec, N, rng)
        y = rng.standard_normal((20, N))
        mask = ~np.isnan(y)
        ll = dfm_loglike_pointwise(
            y,
            mask.astype(float),
            params["loadings"],
            params["factor_ar"],
            params["idio_sd"],
            params["idio_ar"],
            **ar1_inputs(y, mask),
        )
        fg = pytensor.graph.fg.FunctionGraph(outputs=[ll], clone=False)
        kalman_nodes = [n for n in fg.apply_nodes if type(n.op).__name__ == "KalmanLoglik"]
        assert len(kalman_nodes) == 1
        C = kalman_nodes[0].inputs[0].eval()
        assert C.shape == (20, 4, 4)


@pytest.mark.parametrize("idio", ["iid", "ar1"])
@pytest.mark.parametrize("sd", [1e-160, 1e-300, 0.0])
def test_vanishing_idiosyncratic_sd_gives_minus_inf_not_nan(idio, sd):
    """A variance whose reciprocal overflows breaks the collapsed statistics: the
    log-likelihood is -inf (the filter's failure value), never NaN."""
    from bdfm import DynamicFactorModel
    from bdfm.simulation import simulate

    spec = DFMSpec(n_factors=1, factor_order=1, idiosyncratic=idio)
    data, truth = simulate(spec, n_time=30, n_series=4, random_seed=0)
    data.iloc[3:6, 1] = np.nan
    model = DynamicFactorModel(data, 1, 1, idio)
    params = {n: np.array(truth[n], dtype=float) for n in model.param_names}
    params["idio_sd"][0] = sd
    if sd == 0.0:  # refused by the parameter check; the graph itself still gives -inf
        assert graph_loglike(model.panel.values, params, idio == "ar1").sum() == -np.inf
        return
    assert model.loglike(params) == -np.inf
    assert not np.any(np.isnan(model.loglike_pointwise(params)))


# ------------------------------------------------------- time-varying variances (SV, scale mixtures)
def _tv_case(rng, k, p, idio, T=12, N=4):
    """Parameters, strongly time-varying variance paths and data with missing values.

    AR(1): ragged edges only (late starts, early ends); iid: scattered gaps and a
    whole missing period as well.
    """
    spec = DFMSpec(n_factors=k, factor_order=p, idiosyncratic=idio)
    params = random_params(spec, N, rng)
    factor_var = np.exp(rng.normal(0.0, 0.8, (T, k)))
    obs_scale = np.exp(rng.normal(0.0, 0.8, (T, N)))
    y = rng.standard_normal((T, N)) * 2
    if idio == "iid":
        y[rng.random((T, N)) < 0.2] = np.nan
        y[5] = np.nan
    else:
        y[:3, 0] = np.nan  # late start: the first observation is at t = 3
        y[-4:, 1] = np.nan  # early end
        y[:1, 2] = np.nan
        y[-1:, 3] = np.nan
    return params, factor_var, obs_scale, y


def tv_graph_loglike(y, params, factor_var, obs_scale, P0=None):
    mask = ~np.isnan(y)
    y0 = np.where(mask, y, 0.0)
    kwargs = ar1_inputs(y0, mask) if "idio_ar" in params else {}
    ll = dfm_loglike_pointwise(
        y0,
        mask.astype(float),
        params["loadings"],
        params["factor_ar"],
        params["idio_sd"],
        params.get("idio_ar"),
        factor_var=factor_var,
        obs_scale=obs_scale,
        P0=P0,
        **kwargs,
    )
    return ll.eval()


def _oracle_args(params, factor_var, obs_scale):
    args = (params["loadings"], params["factor_ar"], params["idio_sd"], params.get("idio_ar"))
    return args, {"factor_var": factor_var, "obs_scale": obs_scale}


@pytest.mark.parametrize("k,p", [(1, 1), (2, 1), (1, 2), (2, 2)])
@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_time_varying_variances_match_dense_gaussian(k, p, idio, rng):
    """ll_t with factor_var (T, k) and obs_scale (T, N) equals the one-step terms of the
    dense joint Gaussian built from the state-space definition (tests/statespace/dense_tv.py):
    Var(η_t) = factor_var[t] for t >= 1, s_0 stationary under factor_var[0], noise
    variance σ_i² obs_scale[t, i] (AR(1): of the innovation ε_it, and the start
    variance σ_i² obs_scale[t0, i] / (1 - ρ_i²) at a series' first observation t0)."""
    params, factor_var, obs_scale, y = _tv_case(rng, k, p, idio)
    ll = tv_graph_loglike(y, params, factor_var, obs_scale)
    args, kw = _oracle_args(params, factor_var, obs_scale)
    np.testing.assert_allclose(ll, tv_loglike_terms(y, *args, **kw), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(ll.sum(), tv_loglike(y, *args, **kw), rtol=1e-10)


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_time_varying_variances_timing_is_pinned(idio, rng):
    """The oracle is sensitive to the timing: paths shifted by one date give another value,
    and the constant-variance oracle (tests/conftest.py) agrees with the TV one at ones."""
    params, factor_var, obs_scale, y = _tv_case(rng, 2, 1, idio)
    ll = tv_graph_loglike(y, params, factor_var, obs_scale).sum()
    args, kw = _oracle_args(params, factor_var, obs_scale)
    for shifted in (
        {**kw, "factor_var": np.roll(factor_var, 1, axis=0)},
        {**kw, "obs_scale": np.roll(obs_scale, 1, axis=0)},
    ):
        assert abs(tv_loglike(y, *args, **shifted) - ll) > 1e-3
    ones = {"factor_var": np.ones_like(factor_var), "obs_scale": np.ones_like(obs_scale)}
    np.testing.assert_allclose(tv_loglike(y, *args, **ones), dense_loglike(y, *args), rtol=1e-12)
    np.testing.assert_allclose(
        tv_graph_loglike(y, params, **ones), graph_loglike(y, params, idio == "ar1"), rtol=1e-12
    )


def test_factor_var_row_zero_only_sets_the_stationary_start(rng):
    """factor_var[0] enters only through the default P0 (stationary covariance at factor_var[0]):
    with an explicit P0 it has no effect; without, P0 = stationary_cov(top, factor_var[0])."""
    params, factor_var, obs_scale, y = _tv_case(rng, 2, 2, "iid")
    other = factor_var.copy()
    other[0] *= 3.0
    top = transition_top(params["factor_ar"], n_state_lags(2, "iid"))
    P0 = stationary_cov(top, factor_var[0]).eval()
    ll = tv_graph_loglike(y, params, factor_var, obs_scale)
    np.testing.assert_allclose(tv_graph_loglike(y, params, factor_var, obs_scale, P0), ll)
    np.testing.assert_allclose(tv_graph_loglike(y, params, other, obs_scale, P0), ll)
    assert not np.allclose(tv_graph_loglike(y, params, other, obs_scale), ll)


def statsmodels_tv_terms(y, params, factor_var, obs_scale):
    """log p(y_t | y_{1:t-1}) from statsmodels' Kalman filter with time-varying matrices.

    statsmodels' convention is α_{t+1} = T_t α_t + R η_t, η_t ~ N(0, Q_t), so the
    variance of the innovation *entering* date t + 1 sits in ``state_cov[..., t]``.
    AR(1): the N idiosyncratic errors are states (no observation noise); a series'
    error restarts (transition 0, stationary variance at that date's scale) at its
    first observation.
    """
    from statsmodels.tsa.statespace.kalman_filter import KalmanFilter

    lam, A, sd = params["loadings"], params["factor_ar"], params["idio_sd"]
    rho = params.get("idio_ar")
    T, N = y.shape
    p, k, _ = A.shape
    mf = k * p
    Tf = np.zeros((mf, mf))
    Tf[:k] = np.concatenate(list(A), axis=1)
    Tf[k:, :-k] = np.eye(mf - k)
    Rf = np.eye(mf, k)
    Pf = solve_discrete_lyapunov(Tf, Rf @ np.diag(factor_var[0]) @ Rf.T)
    v = sd**2 * obs_scale  # (T, N)
    if rho is None:
        kf = KalmanFilter(k_endog=N, k_states=mf, k_posdef=k)
        kf.bind(np.asarray(y, dtype=float))
        kf["design"] = np.hstack([lam, np.zeros((N, mf - k))])
        kf["obs_cov"] = np.stack([np.diag(v[t]) for t in range(T)], axis=-1)
        kf["transition"] = Tf
        kf["selection"] = Rf
        q = np.vstack([factor_var[1:], factor_var[-1:]])  # last one unused
        kf["state_cov"] = np.stack([np.diag(row) for row in q], axis=-1)
        kf.initialize_known(np.zeros(mf), Pf)
        return kf.filter().llf_obs
    obs = ~np.isnan(y)
    m = mf + N
    kf = KalmanFilter(k_endog=N, k_states=m, k_posdef=k + N)
    kf.bind(np.asarray(y, dtype=float))
    kf["design"] = np.hstack([lam, np.zeros((N, mf - k)), np.eye(N)])
    kf["obs_cov"] = np.zeros((N, N))
    sel = np.zeros((m, k + N))
    sel[:k, :k] = np.eye(k)
    sel[mf:, k:] = np.eye(N)
    kf["selection"] = sel
    trans = np.zeros((m, m, T))
    cov = np.zeros((k + N, k + N, T))
    for t in range(T - 1):  # α_t -> α_{t+1}
        start = obs[t + 1] & ~obs[t]
        trans[:mf, :mf, t] = Tf
        trans[mf:, mf:, t] = np.diag(np.where(start, 0.0, rho))
        cov[:k, :k, t] = np.diag(factor_var[t + 1])
        cov[k:, k:, t] = np.diag(np.where(start, v[t + 1] / (1 - rho**2), v[t + 1]))
    trans[..., T - 1] = trans[..., T - 2]
    cov[..., T - 1] = cov[..., T - 2]
    kf["transition"] = trans
    kf["state_cov"] = cov
    P0 = np.zeros((m, m))
    P0[:mf, :mf] = Pf
    P0[mf:, mf:] = np.diag(v[0] / (1 - rho**2))
    kf.initialize_known(np.zeros(m), P0)
    return kf.filter().llf_obs


@pytest.mark.reference
@pytest.mark.parametrize("k,p", [(1, 1), (2, 1), (2, 2)])
@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_time_varying_variances_match_statsmodels(k, p, idio, rng):
    pytest.importorskip("statsmodels")
    params, factor_var, obs_scale, y = _tv_case(rng, k, p, idio)
    ll = tv_graph_loglike(y, params, factor_var, obs_scale)
    ref = statsmodels_tv_terms(y, params, factor_var, obs_scale)
    np.testing.assert_allclose(ll, ref, rtol=1e-8, atol=1e-8)
