"""The full likelihood graph against the dense joint-Gaussian density (independent oracle)."""

import numpy as np
import pytensor
import pytest

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
