"""The PyMC model: structure, priors wiring, and the observed term equal to the exact likelihood."""

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

import bdfm
from bdfm.dims import FACTOR, LAG, SERIES, TIME
from bdfm.inference.fitting import prepare_bayes
from bdfm.inference.posterior_mode import natural_params_fn, unconstrained_point
from bdfm.inference.pymc_model import loading_layout
from bdfm.inference.start import identified_params, point_to_free
from bdfm.simulation import random_params, simulate
from bdfm.spec import DFMSpec


def _panel(idio, n=8, T=60, k=2, seed=3, gaps=True):
    spec = DFMSpec(n_factors=k, idiosyncratic=idio)
    params = random_params(spec, n, seed)
    data, _ = simulate(spec, params, T, random_seed=seed)
    if gaps:
        data.iloc[:7, 1] = np.nan  # late start
        data.iloc[-3:, 4] = np.nan  # ragged end
        if idio == "iid":
            data.iloc[20:23, 2] = np.nan
    return data, params


def _point(model, pm_model, bspec, params):
    free = point_to_free(identified_params(params, bspec), bspec, model.spec.idiosyncratic)
    return unconstrained_point(pm_model, free)


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_observed_term_is_the_exact_likelihood(idio):
    data, params = _panel(idio)
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic=idio, standardize=False)
    bspec, _, pm_model = prepare_bayes(model, reference_loadings=params["loadings"])
    point = _point(model, pm_model, bspec, params)
    nat = natural_params_fn(pm_model)(point)
    obs = pm_model.compile_logp(vars=pm_model.observed_RVs)(point)
    assert obs == pytest.approx(model.loglike(nat), rel=1e-10)
    # the point reproduces the identified loadings (the start of every chain)
    ident = identified_params(params, bspec)
    np.testing.assert_allclose(nat["loadings"], ident["loadings"], atol=1e-9)
    np.testing.assert_allclose(nat["idio_sd"], params["idio_sd"])


def test_dims_and_coords():
    data, _params = _panel("ar1")
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1", factor_order=2)
    pm_model = model.build_model()
    assert list(pm_model.coords[SERIES]) == list(data.columns)
    assert len(pm_model.coords[TIME]) == len(data)
    assert list(pm_model.coords[FACTOR]) == ["f1", "f2"]
    assert list(pm_model.coords[LAG]) == [1, 2]
    dims = pm_model.named_vars_to_dims
    assert dims["loadings"] == (SERIES, FACTOR)
    assert dims["y"] == (TIME, SERIES)
    assert dims["idio_ar"] == (SERIES,)


def test_prior_terms_match_scipy():
    """Non-hierarchical configuration: log prior = sum of independent scipy densities."""
    data, params = _panel("iid", gaps=False)
    model = bdfm.DynamicFactorModel(data, n_factors=2, standardize=False)
    bspec, _, pm_model = prepare_bayes(
        model, reference_loadings=params["loadings"], loadings="normal"
    )
    point = _point(model, pm_model, bspec, params)
    f = pm_model.compile_logp(jacobian=False)
    obs = pm_model.compile_logp(vars=pm_model.observed_RVs)(point)
    free = natural_params_fn(pm_model, [rv.name for rv in pm_model.free_RVs])(point)
    expected = (
        stats.norm.logpdf(free["loadings_free"]).sum()
        + stats.halfnorm.logpdf(free["loadings_anchor"]).sum()
        + stats.norm.logpdf(free["factor_ar_raw"]).sum()
        + stats.halfnorm.logpdf(free["idio_sd"]).sum()
    )
    assert f(point) - obs == pytest.approx(expected, rel=1e-10)


def test_lower_triangular_layout_and_blocks():
    data, _params = _panel("iid", n=8, k=2)
    model = bdfm.DynamicFactorModel(data, n_factors=2)
    blocks = {"y1": ["f1"], "y2": [1], "y3": ["f1"]}
    bspec, _, pm_model = prepare_bayes(model, blocks=blocks, anchors=["y1", "y2"])
    assert bspec.anchors == (0, 1)
    free, positive = loading_layout(bspec, 8, 2)
    assert positive[0, 0] and positive[1, 1] and positive.sum() == 2
    assert not free[0, 1] and not free[1, 0] and not free[2, 1]
    point = pm_model.initial_point()
    lam = natural_params_fn(pm_model)(point)["loadings"]
    assert lam[0, 1] == 0 and lam[1, 0] == 0 and lam[2, 1] == 0


@pytest.mark.parametrize(
    "options",
    [
        {"loadings": "horseshoe"},
        {"loadings": "normal", "dynamics": "diagonal"},
        {"identification": "rsp"},
        {"groups": {f"y{i + 1}": ("a" if i < 4 else "b") for i in range(8)}},
    ],
)
def test_structures_build_and_evaluate(options):
    data, params = _panel("ar1", n=8, k=2)
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1", factor_order=2)
    bspec, _, pm_model = prepare_bayes(model, reference_loadings=params["loadings"], **options)
    params = {**params, "factor_ar": np.concatenate([params["factor_ar"], 0 * params["factor_ar"]])}
    point = _point(model, pm_model, bspec, params)
    assert np.isfinite(pm_model.compile_logp()(point))
    grad = pm_model.compile_dlogp()(point)
    assert np.all(np.isfinite(grad))
    nat = natural_params_fn(pm_model)(point)
    if options.get("dynamics") == "diagonal":
        off = nat["factor_ar"] * (1 - np.eye(2))
        assert np.all(off == 0)
    if "groups" in options:
        assert "group_loading_sd" in pm_model.named_vars
    if options.get("identification") == "rsp":
        assert "loadings_anchor" not in pm_model.named_vars


def test_stationary_by_construction():
    data, _ = _panel("iid", n=6, k=2)
    model = bdfm.DynamicFactorModel(data, n_factors=2, factor_order=2)
    pm_model = model.build_model()
    draws = pm.draw(pm_model["factor_ar"], draws=200, random_seed=1)
    from bdfm.params import companion_matrix

    radius = [np.max(np.abs(np.linalg.eigvals(companion_matrix(a)))) for a in draws]
    assert max(radius) < 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"loadings": "lasso"}, "loadings must be one of"),
        ({"identification": "pca"}, "identification must be one of"),
        ({"groups": {"y1": "a"}}, "missing"),
        ({"blocks": {"nope": [0]}}, "not in the data"),
        ({"blocks": {"y1": [5]}}, "is not a factor"),
        ({"anchors": ["y1"]}, "one series per factor"),
        ({"anchors": ["y1", "zz"]}, "not in the data"),
        ({"priors": {"idio_sdd": bdfm.Prior("HalfNormal")}}, "unknown prior name"),
        ({"loadings": "horseshoe", "groups": {f"y{i + 1}": "a" for i in range(6)}}, "cannot be"),
    ],
)
def test_bad_options_are_clear_errors(options, message):
    data, _ = _panel("iid", n=6, k=2, gaps=False)
    model = bdfm.DynamicFactorModel(data, n_factors=2)
    with pytest.raises(ValueError, match=message):
        model.build_model(**options)


def test_pymc_log_likelihood_is_over_time():
    import arviz as az

    data, params = _panel("iid")
    model = bdfm.DynamicFactorModel(data, n_factors=2, standardize=False)
    bspec, _, pm_model = prepare_bayes(model, reference_loadings=params["loadings"])
    point = natural_params_fn(pm_model, [rv.name for rv in pm_model.free_RVs])(
        _point(model, pm_model, bspec, params)
    )
    idata = az.from_dict(posterior={k: v[None, None] for k, v in point.items()})
    with pm_model:
        ll = pm.compute_log_likelihood(idata, progressbar=False).log_likelihood["y"]
    assert ll.dims == ("chain", "draw", TIME)
    nat = natural_params_fn(pm_model)(_point(model, pm_model, bspec, params))
    np.testing.assert_allclose(ll.values[0, 0], model.loglike_pointwise(nat), rtol=1e-10)
    assert isinstance(ll[TIME].values[0], np.datetime64 | pd.Timestamp)
