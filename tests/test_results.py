"""Bayesian fits end to end: the stored log-likelihood against a dense Gaussian oracle in
original units (every sampler), the summaries against numpy on the draws, save/load, mirror
chains; parameter recovery (slow)."""

import logging

import arviz as az
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import bdfm
from bdfm.inference.diagnostics import varying_entries
from bdfm.inference.start import identified_params
from bdfm.spec import DFMSpec
from tests.conftest import dense_factor_cov, dense_idio_cov, dense_original_terms

PARAMS = ("loadings", "factor_ar", "idio_sd", "idio_ar")


def _ragged_ar1_data(n_time, n_series, seed):
    """AR(1) one-factor data in original units far from the model's (ragged edges only)."""
    spec = DFMSpec(n_factors=1, idiosyncratic="ar1")
    data, _ = bdfm.simulate(spec, n_time=n_time, n_series=n_series, random_seed=seed)
    data = data * np.linspace(0.5, 3.0, n_series) + np.arange(n_series) - 1.0
    data.iloc[:5, 1] = np.nan  # a late start
    data.iloc[-2:, -1] = np.nan  # a ragged end
    return data


def _check_loglik_against_dense(fit, data, draws):
    """Stored one-step terms = dense joint-Gaussian conditionals of the data as given.

    The oracle standardises the data itself (mean and divisor-n sd of the observed
    values) and evaluates the observed entries in original units, so it checks the
    Kalman filter, the Jacobian of the scaling and the bookkeeping of the stored array.
    """
    y = data.to_numpy(dtype=float)
    mean, scale = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
    post = fit.posterior
    stored = fit.idata.log_likelihood["y"].values
    for c, d in draws:
        params = {n: post[n].values[c, d] for n in PARAMS if n in post}
        expected = dense_original_terms(y, params, mean, scale)
        np.testing.assert_allclose(stored[c, d], expected, rtol=1e-8, atol=1e-8)
    # the sum over time is the joint density of all observed values (scipy, last draw)
    obs = ~np.isnan(y)
    terms = dense_original_terms(y, params, mean, scale)
    big = np.kron(np.eye(len(y)), params["loadings"])
    model_cov = big @ dense_factor_cov(len(y), params["factor_ar"]) @ big.T
    model_cov += dense_idio_cov(obs, params["idio_sd"], params.get("idio_ar"))
    s = np.tile(scale, len(y))
    keep = obs.ravel()
    joint = multivariate_normal(
        np.tile(mean, len(y))[keep], (model_cov * np.outer(s, s))[np.ix_(keep, keep)]
    ).logpdf(y.ravel()[keep])
    assert stored[c, d].sum() == pytest.approx(joint, rel=1e-9)
    assert terms.sum() == pytest.approx(joint, rel=1e-9)


# ---------------------------------------------------------------------------- tiny fits
@pytest.fixture(scope="module")
def tiny_data():
    return _ragged_ar1_data(n_time=60, n_series=4, seed=5)


@pytest.fixture(scope="module")
def tiny_fit(tiny_data):
    """The default run's nutpie fit: 60 dates of 4 series, 2 chains of 50 draws."""
    pytest.importorskip("nutpie")
    model = bdfm.DynamicFactorModel(tiny_data, n_factors=1, idiosyncratic="ar1")
    return model.fit(
        draws=50, tune=100, chains=2, sampler="nutpie", random_seed=3, progressbar=False
    )


def test_stored_loglik_is_the_dense_gaussian_density_in_original_units(tiny_fit, tiny_data):
    _check_loglik_against_dense(tiny_fit, tiny_data, [(0, 0), (1, 49)])


def test_stored_loglik_of_the_shared_pymc_fit(small_ar1_fit):
    """The same oracle for the conftest's PyMC fit (2 factors, 8 series, ragged edges)."""
    data = small_ar1_fit.idata.observed_data["y"].to_pandas()
    _check_loglik_against_dense(small_ar1_fit, data, [(0, 0), (1, 99)])


@pytest.mark.filterwarnings("ignore:Skipping:UserWarning")
@pytest.mark.parametrize("sampler", ["numpyro", "blackjax"])
def test_jax_samplers_store_the_dense_gaussian_loglik(sampler):
    pytest.importorskip(sampler)
    data = _ragged_ar1_data(n_time=50, n_series=4, seed=2)
    model = bdfm.DynamicFactorModel(data, n_factors=1, idiosyncratic="ar1")
    fit = model.fit(draws=40, tune=60, chains=1, sampler=sampler, progressbar=False, random_seed=1)
    # the chain moved: the draws are not all the starting point
    assert np.ptp(fit.posterior["loadings"].values[0, :, 0, 0]) > 0
    _check_loglik_against_dense(fit, data, [(0, 0), (0, 39)])


def test_the_fit_keeps_the_data_and_its_description(tiny_fit, tiny_data):
    idata = tiny_fit.idata
    for group in ("posterior", "log_likelihood", "sample_stats", "observed_data", "constant_data"):
        assert group in idata.groups()
    # the data exactly as given, missing stays missing
    np.testing.assert_array_equal(idata.observed_data["y"].values, tiny_data.to_numpy())
    assert {"spec", "bayes_spec", "priors", "bdfm_version"} <= set(idata.attrs)


def test_summaries_are_the_draws_summarised(tiny_fit):
    post = tiny_fit.posterior
    f = post["factors"].values.reshape(-1, *post["factors"].shape[2:])  # (draws, T, k)
    table = tiny_fit.factors(hdi_prob=0.8)
    np.testing.assert_allclose(table["mean"].to_numpy(), f.mean(0), rtol=1e-12)
    np.testing.assert_allclose(table["sd"].to_numpy(), f.std(0), rtol=1e-10)
    np.testing.assert_allclose(table["q0.1"].to_numpy(), np.quantile(f, 0.1, axis=0))
    np.testing.assert_allclose(table["q0.9"].to_numpy(), np.quantile(f, 0.9, axis=0))
    assert (table.index == tiny_fit.model.panel.index).all()
    lam = post["loadings"].values.reshape(-1, 4, 1)
    np.testing.assert_allclose(tiny_fit.loadings().to_numpy(), lam.mean(0), rtol=1e-12)
    summary = tiny_fit.summary(round_to="none")
    assert summary.loc["loadings[y2, f1]", "mean"] == pytest.approx(lam[:, 1, 0].mean())
    assert summary.loc["idio_ar[y3]", "sd"] == pytest.approx(
        post["idio_ar"].values[..., 2].std(ddof=1)
    )
    diag = tiny_fit.diagnostics()
    assert diag.divergences == int(tiny_fit.idata.sample_stats["diverging"].sum())


def test_save_load_round_trip(tiny_fit, tmp_path):
    fit = tiny_fit
    path = tmp_path / "fit.nc"
    fit.save(path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fit.save(path)
    back = bdfm.load(path)
    for group in fit.idata.groups():
        a, b = fit.idata[group], back.idata[group]
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values)
    assert back.model.spec == fit.model.spec
    assert back.bspec == fit.bspec
    assert back.priors == fit.priors
    np.testing.assert_array_equal(back.model.panel.scaling.scale, fit.model.panel.scaling.scale)
    # not a bdfm file / corrupted file: clear errors
    other = tmp_path / "other.nc"
    az.from_dict(posterior={"x": np.zeros((1, 5))}).to_netcdf(str(other))
    with pytest.raises(ValueError, match="not a bdfm fit"):
        bdfm.load(other)
    broken = tmp_path / "broken.nc"
    broken.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ValueError, match="corrupted"):
        bdfm.load(broken)


# ---------------------------------------------------------------------------- slow
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


@pytest.mark.slow
def test_recovery_ar1_with_ragged_edges():
    spec = DFMSpec(n_factors=2, idiosyncratic="ar1")
    data, truth = bdfm.simulate(spec, n_time=250, n_series=30, random_seed=7)
    data.iloc[:40, 3] = np.nan  # a late start
    data.iloc[-5:, 8] = np.nan  # a ragged end
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1")
    fit = model.fit(draws=300, tune=300, chains=2, random_seed=3, progressbar=False)
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
    # converged
    diag = fit.diagnostics()
    assert diag.divergences == 0
    assert diag.table.loc["loadings", "r_hat"] < 1.05


@pytest.mark.slow
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
