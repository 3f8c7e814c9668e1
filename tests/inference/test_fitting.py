"""fit_bayes refuses bad sampling options at once, before the minutes of MLE, compiling and
sampling (``chains=0`` used to fail after 30-45 s with a traceback from the sampler)."""

import re

import numpy as np
import pytest

import bdfm
import bdfm.inference.fitting as fitting
from bdfm.spec import DFMSpec


@pytest.fixture(scope="module")
def model():
    data, _ = bdfm.simulate(DFMSpec(n_factors=1), n_time=30, n_series=3, random_seed=1)
    return bdfm.DynamicFactorModel(data, n_factors=1)


@pytest.fixture
def no_work(monkeypatch):
    """Any work (the maximum-likelihood start comes first) fails the test."""

    def fail(*args, **kwargs):
        raise AssertionError("the fit started before its options were checked")

    monkeypatch.setattr(fitting, "fit_mle", fail)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"draws": 0}, r"draws must be an integer >= 1, got 0"),
        ({"draws": -3}, r"draws must be an integer >= 1, got -3"),
        ({"draws": 100.5}, r"draws must be an integer >= 1, got 100\.5"),
        ({"draws": "100"}, r"draws must be an integer >= 1, got '100'"),
        ({"tune": -5}, r"tune must be an integer >= 0, got -5"),
        ({"tune": None}, r"tune must be an integer >= 0, got None"),
        ({"chains": 0}, r"chains must be an integer >= 1, got 0"),
        ({"chains": True}, r"chains must be an integer >= 1, got True"),
        ({"sampler": "hmc"}, r"unknown sampler 'hmc'; choose one of"),
    ],
)
def test_bad_sampling_options_are_refused_before_any_work(model, no_work, options, message):
    with pytest.raises((ValueError, TypeError), match=message):
        fitting.fit_bayes(model, **options)


def test_good_options_pass_the_check(model, no_work):
    """numpy integers and tune=0 are fine: the check lets the fit start."""
    with pytest.raises(AssertionError, match="fit started"):
        fitting.fit_bayes(model, draws=np.int64(10), tune=0, chains=np.int32(1), sampler="pymc")


@pytest.mark.slow
def test_a_volatility_fit_stores_paths_factors_and_round_trips(tmp_path):
    """Factor SV + Student-t + common idiosyncratic SV, sampled by nutpie end to end."""
    spec = DFMSpec(
        n_factors=1, factor_volatility="sv", idio_volatility="common_sv", tails="student_t"
    )
    data, truth = bdfm.simulate(spec, n_time=300, n_series=6, random_seed=5)
    model = bdfm.DynamicFactorModel(
        data, n_factors=1, factor_volatility="sv", idio_volatility="common_sv", tails="student_t"
    )
    fit = model.fit(draws=300, tune=500, chains=2, random_seed=2, progressbar=False)
    post = fit.posterior
    for name, dims in [
        ("factor_log_var", ("chain", "draw", "time", "factor")),
        ("idio_log_var", ("chain", "draw", "time")),
        ("tail_scale", ("chain", "draw", "time")),
        ("factors", ("chain", "draw", "time", "factor")),
    ]:
        assert post[name].dims == dims
    assert "log_likelihood" not in fit.idata.groups()  # no dishonest pointwise density
    h = post["factor_log_var"].mean(("chain", "draw")).values[:, 0]
    assert np.corrcoef(h, truth["factor_log_var"].to_numpy()[:, 0])[0, 1] > 0.5
    assert 2 < float(post["tails_nu"].mean()) < 60
    loaded = bdfm.load(fit.save(tmp_path / "sv.nc"))
    assert loaded.model.spec == fit.model.spec
    fc = loaded.forecast(2)  # continues each draw's volatility paths
    assert fc.draws["factor_log_var"].sizes["time"] == 2
    cov = loaded.covariance(random_seed=0)  # each draw given its continued paths
    assert np.all(np.isfinite(cov.values)) and np.linalg.eigvalsh(cov.values).min() > 0
    # the report's volatility, variance-decomposition and risk sections are all there
    text = loaded.report(weights="equal", forecast_steps=3)
    for sid in ("volatility", "variance-decomposition", "risk"):
        body = re.search(f'<section id="{sid}">(.*?)</section>', text, re.S).group(1)
        assert "Not included" not in body and "<img" in body, sid


def test_volatility_paths_of_a_constant_posterior_are_empty():
    import xarray as xr

    post = xr.Dataset({"idio_sd": (("chain", "draw", "series"), np.ones((2, 3, 4)))})
    assert fitting.volatility_paths(post, 1, 4) == {}


def _posterior(draws: dict):
    import xarray as xr

    return xr.Dataset(
        {n: (("chain", "draw", *(f"{n}_{i}" for i in range(v.ndim - 1))), v[None]) for n, v in
         draws.items()}
    )  # fmt: skip


def test_pointwise_loglik_with_volatility_filters_the_paths_out():
    """SV draws with zero vol-of-vol: the particle filter's one-step terms equal the
    constant model's exact Kalman terms (original units); real SV draws give finite terms
    that do not depend on the (smoothed) paths the posterior holds."""
    data, _ = bdfm.simulate(DFMSpec(n_factors=1), n_time=60, n_series=4, random_seed=3)
    data = 1.0 + 2.0 * data
    const = bdfm.DynamicFactorModel(data, n_factors=1)
    sv = bdfm.DynamicFactorModel(data, n_factors=1, factor_volatility="sv",
                                 idio_volatility="common_sv")  # fmt: skip
    rng = np.random.default_rng(0)
    base = {
        "loadings": rng.uniform(0.3, 1.0, (3, 4, 1)),
        "factor_ar": rng.uniform(0.1, 0.6, (3, 1, 1, 1)),
        "idio_sd": rng.uniform(0.4, 0.8, (3, 4)),
    }
    flat = base | {"factor_sv_phi": np.full((3, 1), 0.9), "factor_sv_sd": np.zeros((3, 1)),
                   "idio_sv_phi": np.full(3, 0.9), "idio_sv_sd": np.zeros(3)}  # fmt: skip
    exact = fitting.pointwise_loglik(const, _posterior(base))
    particle = fitting.pointwise_loglik(sv, _posterior(flat), n_particles=4, random_seed=1)
    np.testing.assert_allclose(particle, exact, rtol=1e-10)
    moving = flat | {"factor_sv_sd": np.full((3, 1), 0.5), "idio_sv_sd": np.full(3, 0.3)}
    one = fitting.pointwise_loglik(sv, _posterior(moving), n_particles=300, random_seed=1)
    assert one.shape == (1, 3, 60) and np.all(np.isfinite(one))
    again = fitting.pointwise_loglik(sv, _posterior(moving), n_particles=300, random_seed=1)
    np.testing.assert_array_equal(one, again)
    # the total over dates agrees with a much larger particle run within Monte Carlo error
    big = fitting.pointwise_loglik(sv, _posterior(moving), n_particles=3000, random_seed=2)
    np.testing.assert_allclose(one.sum(axis=-1), big.sum(axis=-1), atol=0.5)
