"""DynamicFactorModel against statsmodels' DynamicFactor (independent reference)."""

import numpy as np
import pandas as pd
import pytest

import bdfm
from bdfm.simulation import random_params, simulate
from bdfm.spec import DFMSpec

sm = pytest.importorskip("statsmodels.api")


def statsmodels_loglike(data, params, k, p, ar1):
    mod = sm.tsa.DynamicFactor(data, k_factors=k, factor_order=p, error_order=1 if ar1 else 0)
    vec = np.r_[
        params["loadings"].ravel(),
        params["idio_sd"] ** 2,
        np.concatenate(list(params["factor_ar"]), axis=1).ravel(),
        params["idio_ar"] if ar1 else [],
    ]
    assert len(vec) == len(mod.param_names)
    return mod.loglike(vec)


def _panel(rng, spec, N=7, T=120):
    params = random_params(spec, N, rng)
    data, _ = simulate(spec, params, T, random_seed=rng)
    return data, params


@pytest.mark.reference
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_loglike_equals_statsmodels(k, p, idio, rng):
    spec = DFMSpec(n_factors=k, factor_order=p, idiosyncratic=idio, standardize=False)
    data, _ = _panel(rng, spec)
    if idio == "iid":
        data = data.mask(rng.random(data.shape) < 0.1)  # scattered NaNs
    else:
        data.iloc[:15, 0] = np.nan  # ragged starts and ends
        data.iloc[:4, 3] = np.nan
        data.iloc[-10:, 1] = np.nan
    params = random_params(spec, data.shape[1], rng)  # random stationary values, not the truth
    model = bdfm.DynamicFactorModel(
        data, n_factors=k, factor_order=p, idiosyncratic=idio, standardize=False
    )
    ours = model.loglike(params)
    ref = statsmodels_loglike(data, params, k, p, idio == "ar1")
    assert ours == pytest.approx(ref, rel=1e-6)
    assert abs(ours - ref) / abs(ref) < 1e-10  # in practice equal to rounding


@pytest.mark.reference
@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_loglike_equals_statsmodels_on_real_macro_data(idio, rng):
    macro = sm.datasets.macrodata.load_pandas().data
    index = pd.period_range("1959Q1", periods=len(macro), freq="Q").to_timestamp()
    levels = macro[["realgdp", "realcons", "realinv", "realgovt", "realdpi"]].set_axis(index)
    growth = 100 * np.log(levels).diff().iloc[1:]
    growth = (growth - growth.mean()) / growth.std()
    spec = DFMSpec(n_factors=2, factor_order=2, idiosyncratic=idio, standardize=False)
    params = random_params(spec, growth.shape[1], rng)
    model = bdfm.DynamicFactorModel(
        growth, 2, factor_order=2, idiosyncratic=idio, standardize=False
    )
    assert model.loglike(params) == pytest.approx(
        statsmodels_loglike(growth, params, 2, 2, idio == "ar1"), rel=1e-8
    )


def test_standardize_records_scaling_and_matches_manual(rng):
    spec = DFMSpec(n_factors=1, factor_order=1)
    data, _ = _panel(rng, spec, N=4, T=60)
    raw = data * [1, 10, 100, 0.1] + [5, -3, 0, 1]
    raw.iloc[3, 2] = np.nan
    m1 = bdfm.DynamicFactorModel(raw, 1)
    manual = (raw - raw.mean()) / raw.std(ddof=0)
    m2 = bdfm.DynamicFactorModel(manual, 1, standardize=False)
    params = random_params(spec, 4, rng)
    assert m1.loglike(params) == pytest.approx(m2.loglike(params), rel=1e-12)
    np.testing.assert_allclose(m1.panel.scaling.mean, raw.mean())
    np.testing.assert_allclose(m1.panel.scaling.to_original(m1.panel.values), raw.to_numpy())


def test_pointwise_sums_to_total_and_gradient_is_consistent(rng):
    spec = DFMSpec(n_factors=2, factor_order=1, idiosyncratic="ar1")
    data, params = _panel(rng, spec, N=5, T=50)
    model = bdfm.DynamicFactorModel(data, 2, idiosyncratic="ar1")
    pw = model.loglike_pointwise(params)
    assert pw.shape == (50,)
    total, grad = model.loglike_and_grad(params)
    assert total == pytest.approx(pw.sum(), rel=1e-12)
    assert set(grad) == {"loadings", "factor_ar", "idio_sd", "idio_ar"}
    eps = 1e-6
    up = dict(params, idio_ar=params["idio_ar"] + eps * np.eye(5)[2])
    dn = dict(params, idio_ar=params["idio_ar"] - eps * np.eye(5)[2])
    numeric = (model.loglike(up) - model.loglike(dn)) / (2 * eps)
    assert grad["idio_ar"][2] == pytest.approx(numeric, rel=1e-5)


def test_smoothed_factors_track_the_truth(rng):
    spec = DFMSpec(n_factors=1, factor_order=1)
    params = random_params(spec, 30, rng)
    data, truth = simulate(spec, params, 200, random_seed=rng)
    factors = truth["factors"]
    model = bdfm.DynamicFactorModel(data, 1, standardize=False)
    est = model.smoothed_factors(params)
    assert list(est.index) == list(data.index)
    assert np.corrcoef(est["f1"], factors["f1"])[0, 1] > 0.95


def test_loglike_graph_is_usable_in_pymc(rng):
    import pymc as pm

    spec = DFMSpec(n_factors=1, factor_order=1)
    data, params = _panel(rng, spec, N=4, T=40)
    model = bdfm.DynamicFactorModel(data, 1, standardize=False)
    with pm.Model() as pmodel:
        lam = pm.Normal("loadings", 0, 1, shape=(4, 1))
        a = pm.Uniform("factor_ar", -0.99, 0.99, shape=(1, 1, 1))
        sd = pm.HalfNormal("idio_sd", 1, shape=4)
        pm.Potential("loglike", model.loglike_graph(lam, a, sd).sum())
    point = {
        "loadings": params["loadings"],
        "factor_ar_interval__": np.zeros((1, 1, 1)),
        "idio_sd_log__": np.log(params["idio_sd"]),
    }
    dlogp = pmodel.compile_dlogp()
    assert np.all(np.isfinite(dlogp(point)))


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_numba_backend_matches_default_for_the_model_graph(idio, rng):
    """The graph nutpie compiles (NUMBA mode) equals the default C-mode graph: value and gradient."""
    import pytensor

    spec = DFMSpec(n_factors=2, factor_order=1, idiosyncratic=idio)
    data, params = _panel(rng, spec, N=5, T=40)
    data.iloc[:5, 0] = np.nan
    model = bdfm.DynamicFactorModel(data, 2, idiosyncratic=idio)
    sym = model._symbolic_params()
    total = model._graph_from(sym).sum()
    inputs = list(sym.values())
    outs = [total, *pytensor.grad(total, inputs)]
    args = [params[n] for n in model.param_names]
    c_mode = pytensor.function(inputs, outs)(*args)
    nb_mode = pytensor.function(inputs, outs, mode="NUMBA")(*args)
    for a, b in zip(c_mode, nb_mode):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_fit_mle_is_invariant_to_extreme_data_scales(rng):
    """Data of order 1e200 or 1e-300 give the fit of the unscaled data (no overflow to
    an infinite scale with zero loadings, no LinAlgError)."""
    from bdfm.inference.mle import fit_mle

    spec = DFMSpec(n_factors=1, factor_order=1)
    data, _ = _panel(rng, spec, N=4, T=60)
    base = fit_mle(bdfm.DynamicFactorModel(data, 1))
    for factor in (1e200, 1e-300):
        res = fit_mle(bdfm.DynamicFactorModel(data * factor, 1))
        assert res.converged
        np.testing.assert_allclose(res.params["loadings"], base.params["loadings"], atol=1e-6)
        np.testing.assert_allclose(res.params["idio_sd"], base.params["idio_sd"], atol=1e-6)
