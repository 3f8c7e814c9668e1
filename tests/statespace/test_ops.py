"""Gradients of the Kalman Op against finite differences; backends agree."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bdfm.simulation import random_params
from bdfm.spec import DFMSpec
from bdfm.statespace.assemble import dfm_loglike_pointwise
from bdfm.statespace.kalman import kalman_loglike
from bdfm.statespace.stats import ar1_inputs


def _problem(rng, idio, T=30, N=6, k=2, p=2, missing=True):
    spec = DFMSpec(n_factors=k, factor_order=p, idiosyncratic=idio)
    params = random_params(spec, N, rng)
    y = rng.standard_normal((T, N))
    if missing:
        y[rng.random((T, N)) < 0.15] = np.nan
        y[:4, 0] = np.nan
    params["factor_var"] = np.exp(0.3 * rng.standard_normal((T, k)))
    params["obs_scale"] = np.exp(0.3 * rng.standard_normal((T, N)))
    return y, params


def _function(y, params, idio, mode=None):
    mask = ~np.isnan(y)
    y0 = np.where(mask, y, 0.0)
    names = ["loadings", "factor_ar", "idio_sd", "factor_var", "obs_scale"]
    if idio == "ar1":
        names.append("idio_ar")
    sym = {n: pt.tensor(n, shape=np.shape(params[n]), dtype="float64") for n in names}
    kwargs = {}
    if idio == "ar1":
        kwargs = ar1_inputs(y0, mask)
    ll = dfm_loglike_pointwise(
        y0,
        mask.astype(float),
        sym["loadings"],
        sym["factor_ar"],
        sym["idio_sd"],
        sym.get("idio_ar"),
        factor_var=sym["factor_var"],
        obs_scale=sym["obs_scale"],
        **kwargs,
    )
    total = ll.sum()
    inputs = [sym[n] for n in names]
    f = pytensor.function(inputs, [total, *pytensor.grad(total, inputs)], mode=mode)
    return names, f


@pytest.mark.parametrize("idio", ["iid", "ar1"])
@pytest.mark.parametrize("missing", [True, False])  # False: the steady-state switch is used
def test_gradient_matches_finite_differences(idio, missing, rng):
    y, params = _problem(rng, idio, T=60, missing=missing)
    if not missing:
        params["factor_var"] = np.ones_like(params["factor_var"])
        params["obs_scale"] = np.ones_like(params["obs_scale"])
    names, f = _function(y, params, idio)
    args = [params[n] for n in names]
    out = f(*args)
    eps = 1e-6
    for pos, name in enumerate(names):
        analytic = out[pos + 1]
        numeric = np.zeros_like(args[pos])
        for idx in np.ndindex(args[pos].shape):
            hi = [a.copy() for a in args]
            lo = [a.copy() for a in args]
            hi[pos][idx] += eps
            lo[pos][idx] -= eps
            numeric[idx] = (f(*hi)[0] - f(*lo)[0]) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-5, err_msg=name)
        assert np.all(np.isfinite(analytic))


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_gradient_with_first_date_entirely_missing(idio, rng):
    """P0 (the stationary covariance) enters only through t=1's prediction: the
    gradient of the VAR coefficients and of factor_var[0] still matches finite differences."""
    y, params = _problem(rng, idio, T=20, N=4, k=2, p=1)
    y[0] = np.nan
    names, f = _function(y, params, idio)
    args = [params[n] for n in names]
    out = f(*args)
    eps = 1e-6
    for name in ("factor_ar", "factor_var"):
        pos = names.index(name)
        numeric = np.zeros_like(args[pos])
        for idx in np.ndindex(args[pos].shape):
            hi = [a.copy() for a in args]
            lo = [a.copy() for a in args]
            hi[pos][idx] += eps
            lo[pos][idx] -= eps
            numeric[idx] = (f(*hi)[0] - f(*lo)[0]) / (2 * eps)
        np.testing.assert_allclose(out[pos + 1], numeric, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_numba_backend_matches_default(idio, rng):
    y, params = _problem(rng, idio, T=20, N=4, k=1, p=1)
    names, f_c = _function(y, params, idio)
    _, f_nb = _function(y, params, idio, mode="NUMBA")
    args = [params[n] for n in names]
    for a, b in zip(f_c(*args), f_nb(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gradient_of_a_single_pointwise_term_is_refused(rng):
    T, k = 10, 2
    C = np.tile(np.eye(k), (T, 1, 1))
    b = rng.standard_normal((T, k))
    Cv, bv = pt.tensor3("C"), pt.matrix("b")
    ll = kalman_loglike(Cv, bv, 0.5 * np.eye(k), np.ones((T, k)), np.eye(k) / 0.75)
    g = pytensor.grad(ll[3], bv)
    with pytest.raises(ValueError, match="total log-likelihood"):
        g.eval({Cv: C, bv: b})


def test_non_positive_definite_covariance_gives_minus_inf(rng):
    T, k = 5, 2
    C = np.tile(np.eye(k), (T, 1, 1))
    b = rng.standard_normal((T, k))
    bad_P0 = -np.eye(k)
    ll = kalman_loglike(C, b, 0.5 * np.eye(k), np.ones((T, k)), bad_P0).eval()
    assert np.all(ll == -np.inf)
