"""Bayesian fits end to end: recovery, samplers, alignment of mirror chains, save/load."""

import logging

import arviz as az
import numpy as np
import pytest

import bdfm
from bdfm.inference.diagnostics import varying_entries
from bdfm.inference.start import identified_params
from bdfm.spec import DFMSpec


def _standardised_truth(model, truth):
    s = model.panel.scaling.scale
    out = {
        "loadings": truth["loadings"] / s[:, None],
        "factor_ar": truth["factor_ar"],
        "idio_sd": truth["idio_sd"] / s,
    }
    if "idio_ar" in truth:
        out["idio_ar"] = truth["idio_ar"]
    return out


def _coverage(post, name, true, prob=0.9):
    lo, hi = np.quantile(
        post[name].values.reshape(-1, *true.shape), [(1 - prob) / 2, (1 + prob) / 2], axis=0
    )
    inside = (true >= lo) & (true <= hi)
    keep = varying_entries(post[name])
    return inside[keep].mean()


@pytest.fixture(scope="module")
def ar1_fit():
    spec = DFMSpec(n_factors=2, idiosyncratic="ar1")
    data, truth = bdfm.simulate(spec, n_time=250, n_series=30, random_seed=7)
    data.iloc[:40, 3] = np.nan  # a late start
    data.iloc[-5:, 8] = np.nan  # a ragged end
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1")
    fit = model.fit(draws=300, tune=300, chains=2, random_seed=3, progressbar=False)
    return model, truth, fit


def test_recovery_ar1_with_ragged_edges(ar1_fit):
    model, truth, fit = ar1_fit
    post = fit.posterior
    true = identified_params(_standardised_truth(model, truth), fit.bspec)
    # common component
    common = np.einsum("cdtk,cdnk->tn", post["factors"].values, post["loadings"].values)
    common /= post.sizes["chain"] * post.sizes["draw"]
    s = model.panel.scaling.scale
    true_common = truth["factors"].to_numpy() @ (truth["loadings"] / s[:, None]).T
    # the model demeans each series: compare deviations from the series' means
    common -= common.mean(axis=0)
    true_common -= true_common.mean(axis=0)
    assert np.corrcoef(common.ravel(), true_common.ravel())[0, 1] > 0.95
    # interval coverage at roughly the nominal rate
    assert _coverage(post, "loadings", true["loadings"]) >= 0.7
    assert _coverage(post, "idio_ar", true["idio_ar"]) >= 0.7
    A = post["factor_ar"].mean(("chain", "draw")).values
    assert np.max(np.abs(A - true["factor_ar"])) < 0.2
    # the result carries everything
    idata = fit.idata
    for group in ("posterior", "log_likelihood", "sample_stats", "observed_data", "constant_data"):
        assert group in idata.groups()
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "time")
    assert post["factors"].dims == ("chain", "draw", "time", "factor")
    assert np.isnan(idata.observed_data["y"].values[:40, 3]).all()  # missing stays missing
    np.testing.assert_allclose(
        idata.observed_data["y"].values, model.panel.scaling.to_original(model.panel.values)
    )
    assert {"spec", "bayes_spec", "priors", "bdfm_version"} <= set(idata.attrs)


def test_diagnostics_and_summary(ar1_fit):
    _, _, fit = ar1_fit
    diag = fit.diagnostics()
    assert diag.divergences == 0
    assert diag.table.loc["loadings", "r_hat"] < 1.05
    summary = fit.summary()
    assert "loadings[y1, f1]" in summary.index
    assert fit.factors().shape == (250, 8)


def test_save_load_round_trip(ar1_fit, tmp_path):
    model, _, fit = ar1_fit
    path = tmp_path / "fit.nc"
    fit.save(path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fit.save(path)
    back = bdfm.load(path)
    for group in fit.idata.groups():
        a, b = fit.idata[group], back.idata[group]
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values)
    assert back.model.spec == model.spec
    assert back.bspec == fit.bspec
    assert back.priors == fit.priors
    np.testing.assert_allclose(back.model.panel.scaling.scale, model.panel.scaling.scale)
    # not a bdfm file / corrupted file: clear errors
    other = tmp_path / "other.nc"
    az.from_dict(posterior={"x": np.zeros((1, 5))}).to_netcdf(str(other))
    with pytest.raises(ValueError, match="not a bdfm fit"):
        bdfm.load(other)
    broken = tmp_path / "broken.nc"
    broken.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ValueError, match="corrupted"):
        bdfm.load(broken)


def test_mirror_chains_are_aligned_with_rsp(caplog):
    """Two chains started at mirror-image solutions: raw loadings disagree, aligned agree.

    Independent factors with distinct persistence (diagonal dynamics) leave only
    discrete symmetries (signs, labels), so each chain stays in its mirror mode.
    """
    spec = DFMSpec(n_factors=2)
    rng = np.random.default_rng(4)
    params = {
        "loadings": rng.normal(0, 1, (10, 2)),
        "factor_ar": np.array([[[0.8, 0.0], [0.0, 0.2]]]),
        "idio_sd": rng.uniform(0.5, 1.0, 10),
    }
    data, _ = bdfm.simulate(spec, params, n_time=200, random_seed=4)
    model = bdfm.DynamicFactorModel(data, n_factors=2)
    options = {"identification": "rsp", "dynamics": "diagonal"}
    start = model.fit_map(**options).point
    mirror = dict(start)
    mirror["loadings_free"] = (start["loadings_free"].reshape(10, 2) * [1.0, -1.0]).ravel()
    with caplog.at_level(logging.WARNING):
        fit = model.fit(
            draws=500,
            tune=300,
            chains=4,
            sampler="pymc",
            random_seed=2,
            progressbar=False,
            initvals=[start, mirror, start, mirror],
            **options,
        )
    raw = az.rhat(fit.posterior["loadings_free"])["loadings_free"].values
    assert np.nanmax(raw) > 1.5  # the chains really sit in mirror modes
    aligned = fit.diagnostics().table.loc["loadings", "r_hat"]
    assert aligned < 1.01


@pytest.mark.filterwarnings("ignore:Skipping:UserWarning")
@pytest.mark.parametrize("sampler", ["numpyro", "blackjax"])
def test_jax_samplers_run_the_same_likelihood(sampler):
    pytest.importorskip(sampler)
    spec = DFMSpec(n_factors=1, idiosyncratic="ar1")
    data, _ = bdfm.simulate(spec, n_time=80, n_series=4, random_seed=2)
    data.iloc[:5, 1] = np.nan
    model = bdfm.DynamicFactorModel(data, n_factors=1, idiosyncratic="ar1")
    fit = model.fit(draws=60, tune=60, chains=1, sampler=sampler, progressbar=False, random_seed=1)
    post = fit.posterior
    assert post.sizes["draw"] == 60
    assert np.isfinite(fit.idata.log_likelihood["y"].values).all()
    # the pointwise log-likelihood stored is the model's at each draw, in original units
    d = {n: post[n].values[0, -1] for n in model.param_names}
    np.testing.assert_allclose(
        fit.idata.log_likelihood["y"].values[0, -1],
        model.loglike_pointwise(d) + model.panel.log_jacobian(),
        rtol=1e-10,
    )
