"""The PyMC model with volatility paths and Student-t scales (DFMSpec.factor_volatility, ...).

The observed term at a point equals the dense Gaussian density with the time-varying
covariance that the point's paths imply (tests/statespace/dense_tv.py, plain numpy/scipy);
the latent paths follow their priors; impossible priors and options are refused.
"""

import numpy as np
import pandas as pd
import pytest

import bdfm
from bdfm.dims import FACTOR, SERIES, TIME
from bdfm.inference.fitting import (
    prepare_bayes,
    volatility_paths,
    volatility_start,
)
from bdfm.inference.posterior_mode import natural_params_fn, unconstrained_point
from bdfm.inference.start import identified_params, point_to_free
from bdfm.statespace.garch import factor_garch_variance, idio_garch_variance
from tests.statespace.dense_tv import tv_loglike

OPTIONS = [
    {"factor_volatility": "sv"},
    {"idio_volatility": "common_sv"},
    {"idio_volatility": "sv"},
    {"tails": "student_t"},
    {"factor_volatility": "sv", "idio_volatility": "common_sv", "tails": "student_t"},
    {"factor_volatility": "garch"},
    {"factor_volatility": "garch", "idio_volatility": "common_sv", "tails": "student_t"},
    {"idio_volatility": "garch"},
    {"factor_volatility": "garch", "idio_volatility": "garch", "tails": "student_t"},
]


def _data(T=60, N=5, seed=4):
    rng = np.random.default_rng(seed)
    f = np.cumsum(rng.standard_normal(T)) * 0.3
    y = np.outer(f, rng.uniform(0.5, 1.5, N)) + rng.standard_normal((T, N))
    y[:5, 1] = np.nan  # a late start
    idx = pd.bdate_range("2020-01-01", periods=T)
    return pd.DataFrame(y, index=idx, columns=[f"s{i}" for i in range(N)])


def _model(options, idio="iid"):
    return bdfm.DynamicFactorModel(
        _data(), n_factors=1, idiosyncratic=idio, standardize=False, **options
    )


@pytest.mark.parametrize("idio", ["iid", "ar1"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "+".join(o.values()))
def test_observed_term_is_the_dense_gaussian_given_the_paths(options, idio):
    model = _model(options, idio)
    bspec, _, pm_model = prepare_bayes(model, reference_loadings=np.ones((5, 1)))
    rng = np.random.default_rng(1)
    params = {
        "loadings": np.array([[0.8], [1.1], [0.6], [0.9], [1.2]]),
        "factor_ar": np.array([[[0.7]]]),
        "idio_sd": np.array([0.9, 1.1, 0.8, 1.0, 1.2]),
    }
    if idio == "ar1":
        params["idio_ar"] = np.array([0.3, -0.2, 0.1, 0.4, 0.0])
    free = point_to_free(identified_params(params, bspec), bspec, idio)
    free |= volatility_start(model.spec, model.n_time, model.n_series)
    for name, value in list(free.items()):  # non-trivial paths and scales
        if name.endswith("_sv_z"):
            free[name] = rng.standard_normal(value.shape)
        if name == "tail_scale":
            free[name] = rng.gamma(3.0, 1 / 3.0, value.shape)
    point = unconstrained_point(pm_model, free)
    names = [
        n
        for n in ("factor_log_var", "idio_log_var", "tail_scale", "loadings", "idio_sd")
        if n in pm_model.named_vars
    ]
    got = natural_params_fn(pm_model, names)(point)
    post = {n: v[None, None] for n, v in got.items() if n != "loadings" and n != "idio_sd"}
    import xarray as xr

    ds = xr.Dataset(
        {n: (("chain", "draw", *pm_model.named_vars_to_dims[n]), v) for n, v in post.items()},
        coords={"chain": [0], "draw": [0], TIME: list(pm_model.coords[TIME])},
    )
    paths = volatility_paths(ds, 1, 5)
    if model.spec.factor_volatility == "garch":
        # the graph's GARCH path is the numpy recursion on the GLS shocks of the data
        c = model._data_constants
        # start: persistence 0.95, news share 0.1, leverage share 0.2
        q, _ = factor_garch_variance(c["y"], c["mask"], got["loadings"], params["factor_ar"],
                                     got["idio_sd"], 0.076, 0.855, 0.038)  # fmt: skip
        np.testing.assert_allclose(got["factor_log_var"], np.log(q), rtol=0, atol=1e-12)
        assert np.ptp(q) > 0.1
    if model.spec.idio_volatility == "garch":
        c = model._data_constants
        r, _ = idio_garch_variance(c["y"], c["mask"], got["loadings"], got["idio_sd"],
                                   params.get("idio_ar"), 0.076, 0.855, 0.038)  # fmt: skip
        np.testing.assert_allclose(got["idio_log_var"], np.log(r), rtol=0, atol=1e-12)
        assert np.ptp(r) > 0.1
    fv = paths.get("factor_var", np.ones((1, 60, 1)))[0]
    sc = paths.get("obs_scale", np.ones((1, 60, 5)))[0]
    assert not (np.allclose(fv, 1.0) and np.allclose(sc, 1.0))
    y = model.panel.values
    expected = tv_loglike(
        y,
        got["loadings"],
        params["factor_ar"],
        got["idio_sd"],
        params.get("idio_ar"),
        factor_var=fv,
        obs_scale=sc,
    )
    obs = pm_model.compile_logp(vars=pm_model.observed_RVs)(point)
    assert obs == pytest.approx(expected, rel=1e-9)


def test_paths_have_the_named_dims():
    model = _model({"factor_volatility": "sv", "idio_volatility": "sv", "tails": "student_t"})
    pm_model = prepare_bayes(model, reference_loadings=np.ones((5, 1)))[2]
    dims = pm_model.named_vars_to_dims
    assert dims["factor_log_var"] == (TIME, FACTOR)
    assert dims["idio_log_var"] == (TIME, SERIES)
    assert dims["tail_scale"] == (TIME,)
    assert "tails_nu" in pm_model.named_vars


def test_prior_draws_of_the_paths_are_stationary_with_the_prior_variance():
    import pymc as pm

    model = _model({"factor_volatility": "sv", "tails": "student_t"})
    priors = {
        "factor_sv_phi": bdfm.Prior("Beta", alpha=90.0, beta=10.0),  # φ ≈ 0.9
        "factor_sv_sd": bdfm.Prior("Gamma", alpha=400.0, beta=2000.0),  # σ ≈ 0.2
    }
    pm_model = prepare_bayes(model, priors=priors, reference_loadings=np.ones((5, 1)))[2]
    with pm_model:
        draws = pm.sample_prior_predictive(
            draws=2000, var_names=["factor_log_var", "tails_nu"], random_seed=3
        ).prior
    h = draws["factor_log_var"].values.reshape(-1, 60)
    # stationary: the same variance σ²/(1-φ²) ≈ 0.04/0.19 ≈ 0.21 at the start and the end
    assert np.var(h[:, 0]) == pytest.approx(np.var(h[:, -1]), rel=0.15)
    assert np.var(h[:, 30]) == pytest.approx(0.2**2 / (1 - 0.9**2), rel=0.2)
    assert draws["tails_nu"].values.min() > 2.0


@pytest.mark.parametrize(
    ("priors", "match"),
    [
        ({"tails_nu": bdfm.Prior("Normal", mu=5.0, sigma=1.0)}, "positive support"),
        ({"factor_sv_sd": bdfm.Prior("HalfNormal", sigma=-1.0)}, "sigma > 0"),
        ({"factor_sv_phi": bdfm.Prior("Uniform", lower=-2.0, upper=1.0)}, r"\(-1, 1\)"),
        ({"idio_sd": bdfm.Prior("Normal", mu=1.0, sigma=1.0)}, "positive support"),
    ],
)
def test_impossible_priors_are_refused(priors, match):
    model = _model({"factor_volatility": "sv", "tails": "student_t"})
    with pytest.raises(ValueError, match=match):
        prepare_bayes(model, priors=priors, reference_loadings=np.ones((5, 1)))


@pytest.mark.parametrize(
    ("priors", "match"),
    [
        ({"factor_garch_share": bdfm.Prior("Normal", mu=0.1, sigma=0.1)}, r"fraction.*\(0, 1\)"),
        (
            {"factor_garch_persistence": bdfm.Prior("Uniform", lower=-0.5, upper=1.0)},
            r"\(0, 1\)",
        ),
        ({"factor_sv_phi": bdfm.Prior("Beta", alpha=2.0, beta=1.0)}, "unknown prior name"),
    ],
)
def test_impossible_garch_priors_are_refused(priors, match):
    model = _model({"factor_volatility": "garch"})
    with pytest.raises(ValueError, match=match):
        prepare_bayes(model, priors=priors, reference_loadings=np.ones((5, 1)))


def test_volatility_priors_are_unknown_to_a_constant_model():
    model = _model({})
    with pytest.raises(ValueError, match="unknown prior name"):
        prepare_bayes(model, priors={"tails_nu": bdfm.Prior("Gamma", alpha=2.0, beta=0.1)})


@pytest.mark.parametrize("factor_volatility", ["sv", "garch"])
def test_options_that_do_not_combine_are_refused(factor_volatility):
    model = _model({"factor_volatility": factor_volatility})
    with pytest.raises(ValueError, match="identification='rsp'"):
        prepare_bayes(model, identification="rsp")
    with pytest.raises(ValueError, match="init='map'"):
        model.fit(init="map", draws=10, tune=10, chains=1)
    with pytest.raises(ValueError, match="fit_map is for constant"):
        model.fit_map()
    with pytest.raises(ValueError, match="maximum likelihood is for constant"):
        model.fit_mle()


@pytest.mark.parametrize("gauge", ["direct", "split"])
def test_garch_models_build_under_both_gauges(gauge):
    """The split gauge's loadings have no static shape; the GARCH graphs get it."""
    model = _model({"factor_volatility": "garch", "idio_volatility": "garch", "tails": "student_t"})
    pm_model = prepare_bayes(model, gauge=gauge)[2]
    point = pm_model.initial_point()
    assert np.isfinite(pm_model.compile_logp()(point))
    assert pm_model.named_vars_to_dims["idio_log_var"] == (TIME, SERIES)
