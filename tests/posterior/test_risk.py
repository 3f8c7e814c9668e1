"""Risk: closed forms against scipy and dense conditioning, Euler contributions, weights."""

from __future__ import annotations

import dataclasses

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.stats import norm

import bdfm
from bdfm.dims import ALPHA, CHAIN, DRAW, IDIOSYNCRATIC, PORTFOLIO, SERIES, SERIES_TO, SOURCE
from bdfm.posterior.forecast import continue_volatility, posterior_draws
from bdfm.posterior.moments import predictive_moments, unconditional_moments
from bdfm.posterior.risk import (
    RiskResult,
    empirical_var_es,
    euler_contributions,
    gaussian_var_es,
    parse_weights,
    portfolio_sources,
    variance_shares,
)
from tests.conftest import (
    LAM,
    SD,
    dense_condition,
    dense_joint_cov,
    draw_panel,
    known_fit,
    n_lags,
    one_draw,
    simulate_known,
    standardised,
    true_params,
)

W = np.array([[0.4, 0.3, -0.2, 0.5], [1.0, 0.0, 0.0, 0.0]])


def test_gaussian_var_es_equal_scipy():
    mu, sd = np.array([0.1, -0.2]), np.array([1.5, 0.3])
    var, es = gaussian_var_es(mu, sd, (0.95, 0.99))
    for i in range(2):
        for j, a in enumerate((0.95, 0.99)):
            q = norm.ppf(1 - a, mu[i], sd[i])
            assert var[i, j] == pytest.approx(-q, rel=1e-12)
            tail = integrate.quad(lambda r, i=i: r * norm.pdf(r, mu[i], sd[i]), -np.inf, q)[0]
            assert es[i, j] == pytest.approx(-tail / (1 - a), rel=1e-8)


def test_empirical_var_es_converge_to_gaussian():
    rng = np.random.default_rng(0)
    r = 0.2 + 1.3 * rng.standard_normal((2, 400_000))
    var, es = empirical_var_es(r, [0.95, 0.99])
    gv, ge = gaussian_var_es(np.full(2, 0.2), np.full(2, 1.3), [0.95, 0.99])
    np.testing.assert_allclose(var, gv, rtol=0.01)
    np.testing.assert_allclose(es, ge, rtol=0.015)
    with pytest.raises(ValueError, match="alpha"):
        empirical_var_es(r, 1.2)


def test_euler_contributions_sum_to_volatility_and_are_euler():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4, 4))
    cov = a @ np.swapaxes(a, 1, 2)
    b = rng.standard_normal((3, 4))
    vol, contrib = euler_contributions(b, cov)
    np.testing.assert_allclose(vol, np.sqrt(np.einsum("di,dij,dj->d", b, cov, b)))
    np.testing.assert_allclose(contrib.sum(-1), vol)
    # contribution_j = b_j d vol / d b_j (finite differences)
    eps = 1e-6
    for j in range(4):
        bump = b.copy()
        bump[:, j] += eps
        grad = (euler_contributions(bump, cov)[0] - vol) / eps
        np.testing.assert_allclose(contrib[:, j], b[:, j] * grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("ar1", [False, True])
def test_portfolio_sources_equal_dense_conditional_variance(ar1):
    params = true_params(ar1)
    y, mask, cov = draw_panel(params, 9, 2, seed=4)
    target = np.zeros((11, 4), bool)
    target[-1] = True
    mean, var = dense_condition(cov, y, mask, target)
    mom = predictive_moments(y, mask, one_draw(params), n_lags(params), 2)
    pmean, exposures, scov = portfolio_sources(mom, W)
    vol, contrib = euler_contributions(exposures, scov)
    np.testing.assert_allclose(pmean[0], W @ mean, atol=1e-10)
    np.testing.assert_allclose(vol[0] ** 2, np.einsum("pi,ij,pj->p", W, var, W), atol=1e-10)
    np.testing.assert_allclose(contrib.sum(-1), vol)
    if ar1:  # the conditional f/u covariance is not zero with AR(1) errors and a ragged edge
        assert np.abs(scov[0, :, :2, 2]).max() > 1e-3


def test_variance_shares_closed_form_diagonal_var():
    a = np.array([0.6, -0.3])
    draws = {
        "loadings": LAM[None],
        "factor_ar": np.diag(a)[None, None],
        "idio_sd": SD[None],
        "idio_ar": np.array([[0.5, 0.0, 0.2, -0.4]]),
    }
    shares = variance_shares(draws, 2)[0]
    parts = np.column_stack(
        [
            LAM[:, 0] ** 2 / (1 - a[0] ** 2),
            LAM[:, 1] ** 2 / (1 - a[1] ** 2),
            SD**2 / (1 - draws["idio_ar"][0] ** 2),
        ]
    )
    np.testing.assert_allclose(shares, parts / parts.sum(1, keepdims=True))
    # with correlated factors the shares still add up to the unconditional variance
    full = true_params(True)
    shares = variance_shares(one_draw(full), n_lags(full))[0]
    np.testing.assert_allclose(shares.sum(1), 1.0)
    total = unconditional_moments(one_draw(full), n_lags(full)).cov()[0].diagonal()
    idio = SD**2 / (1 - full["idio_ar"] ** 2)
    np.testing.assert_allclose(shares[:, -1], idio / total)


def test_variance_shares_with_mean_variances():
    a, q, c = np.array([0.6, -0.3]), np.array([2.0, 0.5]), np.array([1.5, 0.7, 2.0, 0.3])
    rho = np.array([0.5, 0.0, 0.2, -0.4])
    draws = {
        "loadings": LAM[None],
        "factor_ar": np.diag(a)[None, None],
        "idio_sd": SD[None],
        "idio_ar": rho[None],
    }
    shares = variance_shares(draws, 2, factor_var=q[None], obs_scale=c[None])[0]
    parts = np.column_stack([LAM**2 * q / (1 - a**2), SD**2 * c / (1 - rho**2)])
    np.testing.assert_allclose(shares, parts / parts.sum(1, keepdims=True))


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (pd.Series([0.5, 0.5, 0.0], index=["y1", "y2", "y3"]), r"missing series \['y4'\]"),
        (pd.Series(0.25, index=["y1", "y2", "y3", "y4", "zz"]), r"unknown series \['zz'\]"),
        (pd.Series([0.5, np.nan, 0.0, 0.5], index=["y1", "y2", "y3", "y4"]), "finite"),
        (np.ones(3), "do not fit 4 series"),
        (pd.DataFrame(np.ones((4, 2)), index=["y1", "y2", "y3", "y4"]), "weights.T"),
    ],
)
def test_weights_errors(weights, match):
    with pytest.raises(ValueError, match=match):
        parse_weights(weights, ["y1", "y2", "y3", "y4"])


def test_parse_weights_forms():
    series = ["y1", "y2", "y3", "y4"]
    one = parse_weights(pd.Series([1, 2, 3, 4], index=series[::-1], name="p"), series)
    assert list(one.index) == ["p"] and list(one.columns) == series
    np.testing.assert_array_equal(one.to_numpy()[0], [4, 3, 2, 1])
    two = parse_weights(pd.DataFrame(W, index=["a", "b"], columns=series), series)
    assert two.index.name == PORTFOLIO and two.shape == (2, 4)
    assert list(parse_weights(W, series).index) == ["portfolio1", "portfolio2"]
    assert list(parse_weights({"y1": 1, "y2": 0, "y3": 0, "y4": 0}, series).index) == ["portfolio"]


# ---------------------------------------------------------------------------- fits
@pytest.fixture(scope="module")
def fit_and_truth():
    spec, data = simulate_known(n_time=40, seed=11)
    data = 1.0 + 3.0 * data
    data.iloc[-4:, 1] = np.nan
    model = bdfm.DynamicFactorModel(data, n_factors=2, factor_order=2, idiosyncratic="ar1")
    scale = model.panel.scaling.scale
    params = standardised({**true_params(True), "loadings": 3 * LAM, "idio_sd": 3 * SD}, scale)
    return known_fit(data, spec, params, n_draws=4000, seed=12), data


def test_covariance_in_original_units(fit_and_truth):
    fit, data = fit_and_truth
    # data = 1 + 3 * (model with true params): covariances are 9 x the true ones
    uncond = fit.covariance(conditional=False)
    assert uncond.dims == (CHAIN, DRAW, SERIES, SERIES_TO)
    truth = 9 * unconditional_moments(one_draw(true_params(True)), 2).cov()[0]
    np.testing.assert_allclose(uncond.values[0, 0], truth, rtol=1e-10)
    cond = fit.covariance(horizon=2)
    # the model demeans by the sample means: condition the data centred on them
    centre = fit.model.panel.scaling.mean
    y = data.to_numpy() - centre
    mask = np.isfinite(y)
    target = np.zeros((42, 4), bool)
    target[-1] = True
    big = dense_joint_cov(true_params(True), 42)
    mean, var = dense_condition(big, np.where(mask, y / 3, 0.0), mask, target)
    np.testing.assert_allclose(cond.values[0, 0], 9 * var, rtol=1e-8)
    # Monte Carlo of the forecast draws (4000 draws at the same parameters)
    fc = fit.forecast(steps=2, random_seed=3)
    sim = fc.draws["y"].isel(time=-1).values.reshape(-1, 4)
    se = np.sqrt(9 * var.diagonal() / 4000)
    assert np.all(np.abs(sim.mean(0) - (centre + 3 * mean)) < 4.5 * se)
    sd = np.sqrt(9 * var.diagonal())
    assert (np.abs(np.cov(sim.T) - 9 * var) / np.outer(sd, sd)).max() < 4.5 * np.sqrt(2 / 4000)


def test_risk_gaussian_closed_form(fit_and_truth):
    fit, _ = fit_and_truth
    weights = pd.DataFrame(W, index=["long_short", "single"], columns=fit.model.panel.columns)
    risk = fit.risk(weights, alpha=(0.95, 0.99), horizon=2)
    assert isinstance(risk, RiskResult)
    d = risk.draws
    assert d["var"].dims == (CHAIN, DRAW, PORTFOLIO, ALPHA)
    assert d["contribution"].dims == (CHAIN, DRAW, PORTFOLIO, SOURCE)
    assert list(d[SOURCE].values) == ["f1", "f2", IDIOSYNCRATIC]
    cov = fit.covariance(horizon=2).values[0, 0]
    vol = np.sqrt(np.einsum("pi,ij,pj->p", W, cov, W))
    np.testing.assert_allclose(d["volatility"].values[0, 0], vol, rtol=1e-10)
    np.testing.assert_allclose(d["contribution"].sum(SOURCE).values, d["volatility"].values)
    mu = d["mean"].values[0, 0]
    for j, a in enumerate((0.95, 0.99)):
        np.testing.assert_allclose(
            d["var"].values[0, 0, :, j], -norm.ppf(1 - a, mu, vol), rtol=1e-10
        )
        es = -mu + vol * norm.pdf(norm.ppf(a)) / (1 - a)
        np.testing.assert_allclose(d["es"].values[0, 0, :, j], es, rtol=1e-10)
    table = risk.summary()
    assert list(table.columns) == [
        PORTFOLIO,
        "measure",
        ALPHA,
        SOURCE,
        "mean",
        "median",
        "lower",
        "upper",
    ]
    assert len(table) == 2 * (2 + 2 * 2 + 3)


def test_risk_simulation_agrees_with_gaussian(fit_and_truth):
    fit, _ = fit_and_truth
    w = pd.Series(W[0], index=fit.model.panel.columns)
    gauss = fit.risk(w, alpha=0.95, conditional=False).draws
    sim = fit.risk(
        w, alpha=0.95, method="simulation", n_sims=2000, conditional=False, random_seed=1
    ).draws
    # pooled over the draws (all at the same parameters): a tight Monte Carlo check
    for name in ("volatility", "var", "es"):
        np.testing.assert_allclose(sim[name].mean().item(), gauss[name].mean().item(), rtol=0.01)
    np.testing.assert_allclose(sim["contribution"].sum(SOURCE).values, sim["volatility"].values)
    np.testing.assert_allclose(
        sim["contribution"].mean((CHAIN, DRAW)).values,
        gauss["contribution"].mean((CHAIN, DRAW)).values,
        atol=0.02 * gauss["volatility"].mean().item(),
    )
    with pytest.raises(ValueError, match="method"):
        fit.risk(w, method="historical")


def test_variance_decomposition_of_a_fit(fit_and_truth):
    fit, _ = fit_and_truth
    shares = fit.variance_decomposition()
    assert shares.dims == (CHAIN, DRAW, SERIES, SOURCE)
    np.testing.assert_allclose(shares.sum(SOURCE).values, 1.0)
    expected = variance_shares(one_draw(true_params(True)), 2)[0]
    np.testing.assert_allclose(shares.values[0, 0], expected, rtol=1e-10)


# ---------------------------------------------------------------------------- volatility fits
@pytest.fixture(scope="module")
def sv_fit():
    """A small PyMC fit with factor SV and Student-t shocks; one series ends 2 dates early."""
    options = {"n_factors": 1, "factor_volatility": "sv", "tails": "student_t"}
    data, _ = bdfm.simulate(bdfm.DFMSpec(**options), n_time=80, n_series=4, random_seed=3)
    data.iloc[-2:, 1] = np.nan
    model = bdfm.DynamicFactorModel(data, **options)
    return model.fit(draws=50, tune=50, chains=1, sampler="pymc", progressbar=False, random_seed=1)


def test_covariance_and_risk_of_a_volatility_fit(sv_fit):
    fit = sv_fit
    cov = fit.covariance(horizon=2, random_seed=5)
    assert cov.dims == (CHAIN, DRAW, SERIES, SERIES_TO) and cov.shape == (1, 50, 4, 4)
    assert np.all(np.isfinite(cov.values)) and np.linalg.eigvalsh(cov.values).min() > 0
    np.testing.assert_array_equal(fit.covariance(horizon=2, random_seed=5).values, cov.values)
    # each draw: Gaussian given its parameters and its volatility path continued to T+2,
    # drawn from the stream fit.forecast uses for the same seed
    panel, spec = fit.model.panel, fit.model.spec
    vol = continue_volatility(fit.posterior, spec, 4, 2, np.random.default_rng(5).spawn(1)[0])
    mom = predictive_moments(
        panel.filled,
        panel.mask,
        posterior_draws(fit),
        spec.n_state_lags,
        2,
        factor_var=vol["factor_var"],
        obs_scale=vol["obs_scale"],
    )
    expected = mom.to_original(panel.scaling.mean, panel.scaling.scale).cov()
    np.testing.assert_allclose(cov.values[0], expected, rtol=1e-12)
    forecast = fit.forecast(steps=2, random_seed=5).draws["tail_scale"].values[0]
    np.testing.assert_array_equal(forecast, vol["tail_scale"])
    risk = fit.risk(np.ones(4), alpha=(0.95, 0.99), random_seed=5).draws
    for name in ("volatility", "var", "es"):
        assert np.all(np.isfinite(risk[name].values))
    assert np.all(risk["es"].values > risk["var"].values)
    with pytest.raises(ValueError, match="scale mixture"):
        fit.risk(np.ones(4), conditional=False)


def test_a_higher_final_volatility_raises_the_covariance(sv_fit):
    """Given the same seed, a higher log-variance at T raises every draw's Var(y_{T+1})."""
    post = sv_fit.posterior.copy(deep=True)
    post["factor_log_var"][:, :, -1] += 2.0
    loud = dataclasses.replace(sv_fit, idata=az.InferenceData(posterior=post))
    base = sv_fit.covariance(random_seed=2).values
    diff = loud.covariance(random_seed=2).values - base
    assert np.linalg.eigvalsh(diff).min() > -1e-10
    assert np.all(np.trace(diff, axis1=-2, axis2=-1) > 0)


def test_unconditional_moments_of_a_volatility_fit(sv_fit):
    fit = sv_fit
    post = fit.posterior
    nu = post["tails_nu"].values[0]
    phi, sd = post["factor_sv_phi"].values[0, :, 0], post["factor_sv_sd"].values[0, :, 0]
    q = np.exp(sd**2 / (2 * (1 - phi**2))) * nu / (nu - 2)
    draws = posterior_draws(fit)
    scale = fit.model.panel.scaling.scale
    expected = unconditional_moments(
        draws,
        fit.model.spec.n_state_lags,
        factor_var=q[:, None],
        obs_scale=np.tile((nu / (nu - 2))[:, None], (1, 4)),
    ).cov() * np.outer(scale, scale)
    np.testing.assert_allclose(fit.covariance(conditional=False).values[0], expected, rtol=1e-12)
    shares = fit.variance_decomposition()
    np.testing.assert_allclose(shares.sum(SOURCE).values, 1.0)
    idio = draws["idio_sd"] ** 2 * nu[:, None] / (nu[:, None] - 2) * scale**2
    np.testing.assert_allclose(
        shares.isel(source=-1).values[0], idio / np.diagonal(expected, axis1=1, axis2=2)
    )
