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


# ---------------------------------------------------------------- time-varying volatility
def _sv_panel(T=60, N=5, seed=0, **kw):
    spec = DFMSpec(n_factors=1, idiosyncratic="ar1", standardize=False, **kw)
    params = random_params(spec, N, seed)
    data, _ = simulate(spec, params, T, random_seed=seed)
    model = bdfm.DynamicFactorModel(
        data, 1, idiosyncratic="ar1", standardize=False, **{k: getattr(spec, k) for k in kw}
    )
    return model, params


def test_volatility_model_loglike_is_the_particle_filter_estimate():
    from bdfm.statespace.particle import particle_loglike

    kw = {"factor_volatility": "sv", "idio_volatility": "common_sv", "tails": "student_t"}
    model, params = _sv_panel(**kw)
    assert model.spec.factor_volatility == "sv" and not model.spec.constant_gaussian
    assert model.param_names[-5:] == [
        "factor_sv_phi",
        "factor_sv_sd",
        "idio_sv_phi",
        "idio_sv_sd",
        "tails_nu",
    ]
    direct = particle_loglike(
        model.panel.values,
        model.panel.mask,
        params["loadings"],
        params["factor_ar"],
        params["idio_sd"],
        params["idio_ar"],
        factor_sv=(params["factor_sv_phi"], params["factor_sv_sd"]),
        idio_sv=(params["idio_sv_phi"], params["idio_sv_sd"]),
        nu=params["tails_nu"],
        n_particles=64,
        random_seed=3,
    )
    pointwise = model.loglike_pointwise(params, n_particles=64, random_seed=3)
    np.testing.assert_array_equal(pointwise, direct.loglike)
    assert model.loglike(params, n_particles=64, random_seed=3) == pytest.approx(direct.total)
    res = model.loglike_particle(params, n_particles=64, random_seed=3)
    np.testing.assert_array_equal(res.se, direct.se)
    assert res.total_se > 0 and res.n_particles == 64
    with pytest.raises(ValueError, match="'tails_nu'"):
        model.loglike(params | {"tails_nu": 1.5})


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_volatility_model_with_zero_sd_gives_the_exact_likelihood(idio):
    spec = DFMSpec(n_factors=2, idiosyncratic=idio)
    params = random_params(spec, 5, 1)
    data, _ = simulate(spec, params, 60, random_seed=1)
    data.iloc[3, 1] = data.iloc[10:14, 2] = np.nan  # a gap and a ragged start
    exact = bdfm.DynamicFactorModel(data, 2, idiosyncratic=idio)
    sv = bdfm.DynamicFactorModel(
        data, 2, idiosyncratic=idio, factor_volatility="sv", idio_volatility="common_sv"
    )
    zero = params | {
        "factor_sv_phi": np.full(2, 0.9),
        "factor_sv_sd": np.zeros(2),
        "idio_sv_phi": 0.5,
        "idio_sv_sd": 0.0,
    }
    res = sv.loglike_particle(zero, n_particles=8, random_seed=0)
    np.testing.assert_allclose(res.loglike, exact.loglike_pointwise(params), rtol=1e-9)
    assert res.total_se == 0.0


def test_volatility_model_needs_fifty_dates():
    from bdfm.model import MIN_DATES_VOLATILITY, min_dates

    spec = DFMSpec(2)
    assert min_dates(spec)[0] < MIN_DATES_VOLATILITY == 50
    for kw in (
        {"factor_volatility": "sv"},
        {"idio_volatility": "sv"},
        {"tails": "student_t"},
        {"factor_volatility": "garch"},
        {"idio_volatility": "garch"},
    ):
        need, why = min_dates(DFMSpec(2, **kw))
        assert need == 50 and "volatility" in why
    data, _ = simulate(spec, random_params(spec, 4, 0), 49, random_seed=0)
    bdfm.DynamicFactorModel(data, 2)  # a constant model is fine with 49 dates
    with pytest.raises(ValueError, match=r"need at least 50 .*latent volatility paths"):
        bdfm.DynamicFactorModel(data, 2, tails="student_t")
    with pytest.raises(ValueError, match=r"need at least 50 .*GARCH memories"):
        bdfm.DynamicFactorModel(data, 2, factor_volatility="garch")
    with pytest.raises(ValueError, match="factor_volatility must be one of"):
        bdfm.DynamicFactorModel(data, 2, factor_volatility="egarch")


def test_volatility_model_refuses_kalman_filtering_and_per_series_sv_likelihood():
    model, params = _sv_panel(factor_volatility="sv")
    for method in (model.filter, model.smooth, model.smoothed_factors):
        with pytest.raises(ValueError, match=r"volatility paths.*loglike_particle"):
            method(params)
    with pytest.raises(ValueError, match="loglike_graph"):
        model.loglike_and_grad(params)
    assert "factor_volatility='sv'" in repr(model)
    model, params = _sv_panel(idio_volatility="sv")
    assert model.param_shapes()["idio_sv_phi"] == (5,)
    with pytest.raises(ValueError, match=r"per-series .*obs_scale"):
        model.loglike(params)
