"""Forecasts: the simulated paths against the closed-form moments, dates, the FitResult.forecast wrapper, and
forecasts that continue each draw's volatility paths."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bdfm
from bdfm.dims import CHAIN, DRAW, FACTOR, FACTOR_FROM, LAG, SERIES, TIME
from bdfm.draws import stack_draws
from bdfm.posterior.forecast import (
    Forecast,
    continue_volatility,
    forecast_dates,
    forecast_fit,
    posterior_draws,
    simulate_forward,
)
from bdfm.posterior.moments import last_observed, predictive_moments
from bdfm.spec import DFMSpec
from bdfm.statespace.simsmoother import simulation_smoother
from tests.conftest import (
    LAM,
    SD,
    dense_condition,
    dense_factor_cov,
    dense_joint_cov,
    draw_panel,
    known_fit,
    n_lags,
    one_draw,
    simulate_known,
    standardised,
    true_params,
)


def test_simulated_paths_match_the_exact_predictive():
    """Joint smoother paths continued forward: Monte Carlo of the closed form (AR(1), ragged)."""
    params = true_params(True)
    horizon, n_time, n_sims = 2, 9, 6000
    y, mask, cov = draw_panel(params, n_time, horizon, seed=3)
    draws = {k: np.repeat(v[None], n_sims, 0) for k, v in params.items()}
    factors, _ = simulation_smoother(y, mask.astype(float), draws, n_lags(params), random_seed=4)
    nowcast, y_future, f_future = simulate_forward(
        y, mask, factors, draws, horizon, np.random.default_rng(5)
    )
    # the nowcast starts after the earliest last observation (series 2 ends at t = 4)
    t0 = n_time - nowcast.shape[1]
    assert t0 == 5
    # observed entries of the nowcast are the data
    np.testing.assert_array_equal(
        nowcast[:, mask[t0:]], np.broadcast_to(y[t0:][mask[t0:]], (n_sims, mask[t0:].sum()))
    )
    mom = predictive_moments(y, mask, one_draw(params), n_lags(params), horizon)
    mean, var = mom.mean()[0], mom.cov()[0]
    sample = y_future[:, -1]
    se = np.sqrt(np.diag(var) / n_sims)
    assert np.all(np.abs(sample.mean(0) - mean) < 4.5 * se)
    sd = np.sqrt(np.diag(var))
    corr_err = np.abs(np.cov(sample.T) - var) / np.outer(sd, sd)
    assert corr_err.max() < 4.5 * np.sqrt(2 / n_sims)
    # the nowcast of the values missing at T equals dense conditioning
    target = np.zeros((n_time, 4), bool)
    target[-1] = ~mask[-1]
    m_now, v_now = dense_condition(cov[: n_time * 4, : n_time * 4], y, mask, target)
    got = nowcast[:, -1][:, ~mask[-1]]
    assert np.all(np.abs(got.mean(0) - m_now) < 4.5 * np.sqrt(np.diag(v_now) / n_sims))
    np.testing.assert_allclose(got.var(0), np.diag(v_now), rtol=0.1)
    # the factors at T + horizon: E and Var of f given the observed y, dense
    n_tot = n_time + horizon
    cov_f = dense_factor_cov(n_tot, params["factor_ar"])
    cov_fy = cov_f @ np.kron(np.eye(n_tot), LAM).T
    o = np.zeros((n_tot, 4), bool)
    o[:n_time] = mask
    o = o.ravel()
    last = slice((n_tot - 1) * 2, n_tot * 2)
    gain = np.linalg.solve(cov[np.ix_(o, o)], cov_fy[last][:, o].T).T
    m_f = gain @ y.ravel()[mask.ravel()]
    v_f = cov_f[last, last] - gain @ cov_fy[last][:, o].T
    got_f = f_future[:, -1]
    assert np.all(np.abs(got_f.mean(0) - m_f) < 4.5 * np.sqrt(np.diag(v_f) / n_sims))
    np.testing.assert_allclose(np.cov(got_f.T), v_f, atol=0.1 * np.sqrt(np.diag(v_f)).max() ** 2)


def test_predictive_intervals_cover_at_nominal_rate():
    """Rolling origins on a long simulated panel: 90% intervals of y_{t+2} | y_{1:t}."""
    params = true_params(True)
    _, data = simulate_known(n_time=400, seed=6)
    y = data.to_numpy()
    inside = []
    for t in range(100, 398, 2):
        mask = np.ones((t, 4), bool)
        mom = predictive_moments(y[:t], mask, one_draw(params), n_lags(params), 2)
        z = (y[t + 1] - mom.mean()[0]) / np.sqrt(np.diag(mom.cov()[0]))
        inside.append(np.abs(z) < 1.6448536)
    rate = np.mean(inside)
    n = np.size(inside)
    assert abs(rate - 0.9) < 3 * np.sqrt(0.09 / n) + 0.02


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (pd.bdate_range("2024-01-01", periods=10), pd.bdate_range("2024-01-15", periods=3)),
        (
            pd.date_range("2020-01-01", periods=12, freq="MS"),
            pd.date_range("2021-01-01", periods=3, freq="MS"),
        ),
        # daily data with a holiday: no inferable frequency -> business days
        (
            pd.bdate_range("2024-01-01", periods=10).delete(3),
            pd.bdate_range("2024-01-15", periods=3),
        ),
    ],
)
def test_forecast_dates(index, expected):
    out = forecast_dates(index, 3)
    pd.testing.assert_index_equal(
        out, pd.DatetimeIndex(expected, name=TIME), check_exact=True, exact=False
    )


# ---------------------------------------------------------------------------- fits
@pytest.fixture(scope="module")
def ragged_known_fit():
    spec, data = simulate_known(n_time=60, seed=8)
    data = 3.0 + 2.0 * data  # original units differ from model units
    data.iloc[-3:, 1] = np.nan
    data.iloc[-1:, 2] = np.nan
    model = bdfm.DynamicFactorModel(data, n_factors=2, factor_order=2, idiosyncratic="ar1")
    params = standardised(
        {**true_params(True), "loadings": LAM * 2, "idio_sd": SD * 2}, model.panel.scaling.scale
    )
    return known_fit(data, spec, params, n_draws=3000, seed=9), data, params


def _dense_original(data, params, target):
    """E and sd of the ``target`` entries given the observed data, in original units (dense)."""
    y = data.to_numpy(dtype=float)
    mean, scale = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
    mask = ~np.isnan(y)
    cov = dense_joint_cov(params, target.shape[0])  # ragged edges only: exact AR(1) covariance
    m, v = dense_condition(cov, np.where(mask, (y - mean) / scale, 0.0), mask, target)
    cols = np.nonzero(target)[1]
    return mean[cols] + scale[cols] * m, scale[cols] * np.sqrt(np.diag(v))


def test_fit_forecast_draws_in_original_units(ragged_known_fit):
    fit, data, params = ragged_known_fit
    fc = fit.forecast(steps=3, random_seed=1)
    assert isinstance(fc, Forecast)
    # dated by the next three business days, labelled by series
    future = pd.bdate_range(data.index[-1] + pd.offsets.BDay(1), periods=3)
    np.testing.assert_array_equal(fc.draws.indexes[TIME], future)
    assert list(fc.draws[SERIES].values) == list(data.columns)
    # Monte Carlo mean of the draws = dense conditional mean in original units
    n_draws = 3000
    target = np.zeros((len(data) + 3, 4), bool)
    target[-1] = True
    mean, sd = _dense_original(data, params, target)
    got = fc.draws["y"].isel({TIME: -1}).mean((CHAIN, DRAW)).values
    assert np.all(np.abs(got - mean) < 4.5 * sd / np.sqrt(n_draws))
    # the nowcast covers the ragged edge; observed values are kept
    now = fc.nowcast["y"]
    np.testing.assert_array_equal(now.indexes[TIME], data.index[-3:])
    np.testing.assert_allclose(now.isel({CHAIN: 0, DRAW: 0}).values[:, 0], data.iloc[-3:, 0])
    # ... and the missing values there are the dense conditional distribution
    missing = np.zeros((len(data), 4), bool)
    missing[-3:] = data.iloc[-3:].isna().to_numpy()
    mean, sd = _dense_original(data, params, missing)
    got = now.transpose(CHAIN, DRAW, TIME, SERIES).values.reshape(n_draws, 3, 4)
    got = got[:, missing[-3:]]
    assert np.all(np.abs(got.mean(0) - mean) < 4.5 * sd / np.sqrt(n_draws))
    np.testing.assert_allclose(got.std(0), sd, rtol=0.1)
    # reproducible
    again = fit.forecast(steps=3, random_seed=1)
    xr.testing.assert_equal(fc.draws, again.draws)


def _by_date(column: pd.Series, columns) -> np.ndarray:
    return column.unstack(SERIES)[list(columns)].to_numpy()


def test_forecast_summary_and_quantiles(ragged_known_fit):
    fit, data, _ = ragged_known_fit
    fc = fit.forecast(steps=2, include_factors=False, random_seed=2)
    assert "factors" not in fc.draws
    # numpy on the draws (S, time, series)
    y = fc.draws["y"].transpose(CHAIN, DRAW, TIME, SERIES).values.reshape(-1, 2, 4)
    table = fc.summary(prob=0.8)
    np.testing.assert_allclose(_by_date(table["mean"], data.columns), y.mean(0), rtol=1e-12)
    np.testing.assert_allclose(_by_date(table["median"], data.columns), np.median(y, 0))
    np.testing.assert_allclose(_by_date(table["lower"], data.columns), np.quantile(y, 0.1, 0))
    np.testing.assert_allclose(_by_date(table["upper"], data.columns), np.quantile(y, 0.9, 0))
    # with the nowcast: its dates first, then the forecast's
    both = fc.summary(nowcast=True)
    now = fc.nowcast["y"].transpose(CHAIN, DRAW, TIME, SERIES).values.reshape(-1, 3, 4)
    np.testing.assert_allclose(
        _by_date(both["upper"], data.columns),
        np.quantile(np.concatenate([now, y], axis=1), 0.95, 0),
    )
    q = fc.quantiles([0.1, 0.9])
    np.testing.assert_allclose(q.isel(quantile=0).transpose(TIME, SERIES), np.quantile(y, 0.1, 0))
    with pytest.raises(ValueError, match="prob"):
        fc.summary(prob=1.5)
    with pytest.raises(ValueError, match="steps"):
        fit.forecast(steps=0)


def test_forecast_from_a_sampled_fit(small_ar1_fit):
    """The conftest's PyMC fit (2 x 100 draws): each draw continues its own smoother path."""
    fit = small_ar1_fit
    fc = fit.forecast(steps=4, random_seed=3)
    data = fit.idata.observed_data["y"].to_pandas()
    # the nowcast keeps the observed values of the last dates (series 6 ends 3 dates early)
    now = fc.nowcast["y"].transpose(CHAIN, DRAW, TIME, SERIES).values
    last = data.to_numpy()[-3:]
    seen = ~np.isnan(last)
    assert seen.sum() == last.size - 3
    for draw in now.reshape(-1, *last.shape)[::37]:
        np.testing.assert_allclose(draw[seen], last[seen], rtol=1e-12)
    # the spread of the simulated values = the posterior mean of the predictive variance
    cov = fit.covariance(horizon=4)
    sim = fc.draws["y"].isel({TIME: -1}).values.reshape(-1, data.shape[1])
    ratio = np.var(sim, axis=0) / cov.mean((CHAIN, DRAW)).values.diagonal()
    assert np.all((ratio > 0.6) & (ratio < 1.6))


def test_forecast_without_ragged_edge_has_empty_nowcast():
    spec, data = simulate_known(n_time=30, seed=2, ar1=False)
    model = bdfm.DynamicFactorModel(data, n_factors=2, factor_order=2)
    params = standardised(true_params(False), model.panel.scaling.scale)
    fc = known_fit(data, spec, params, n_draws=5).forecast(steps=2, random_seed=0)
    assert fc.nowcast.sizes[TIME] == 0
    pd.testing.assert_frame_equal(fc.summary(nowcast=True), fc.summary())


# ---------------------------------------------------------------------------- volatility
# Fake fits of models with volatility paths: a real DynamicFactorModel on simulated data and
# a posterior of a few distinct parameter draws ("chains"), each repeated along ``draw`` so
# the simulated forecasts can be checked against closed forms draw by draw. Model units.
N_SV, T_SV = 4, 60
SV_LAM = np.array([[[1.0, 0.0], [0.6, 0.8], [-0.5, 0.4], [0.3, -0.7]]]) * np.array(
    [[[1.0]], [[0.7]]]
)  # (chain, N, k)
SV_A = np.array([np.diag([0.6, -0.3]), [[0.4, 0.2], [0.0, 0.5]]])  # (chain, k, k)
SV_SD = np.array([[0.5, 0.4, 0.6, 0.3], [0.3, 0.5, 0.4, 0.6]])
SV_RHO = np.array([[0.5, 0.7, -0.3, 0.0], [0.2, 0.6, 0.4, 0.8]])


def _sv_model(**vol) -> bdfm.DynamicFactorModel:
    spec = DFMSpec(n_factors=2, factor_order=1, idiosyncratic="ar1", **vol)
    data, _ = bdfm.simulate(spec, n_time=T_SV, n_series=N_SV, random_seed=11)
    data.iloc[-2:, 1] = np.nan  # a ragged edge: series 2 last observed at T - 3
    return bdfm.DynamicFactorModel(data, n_factors=2, factor_order=1, idiosyncratic="ar1", **vol)


def _sv_fit(model, vol: dict, n_rep: int, seed: int = 0):
    """A fake fit: 2 parameter draws (chains) x ``n_rep`` copies; ``vol`` (chain, ...) arrays."""
    rng = np.random.default_rng(seed)
    rep = {
        "loadings": ([SERIES, FACTOR], SV_LAM),
        "factor_ar": ([LAG, FACTOR, FACTOR_FROM], SV_A[:, None]),
        "idio_sd": ([SERIES], SV_SD),
        "idio_ar": ([SERIES], SV_RHO),
        "factors": ([TIME, FACTOR], rng.standard_normal((2, T_SV, 2))),
        **vol,
    }
    data = {
        name: ((CHAIN, DRAW, *dims), np.repeat(np.asarray(v, float)[:, None], n_rep, 1))
        for name, (dims, v) in rep.items()
    }
    post = xr.Dataset(data, coords={CHAIN: [0, 1], DRAW: np.arange(n_rep)})
    return SimpleNamespace(posterior=post, model=model)


def _moments_one_step(model, fit, chain, factor_var, obs_scale):
    """Closed-form mean and covariance of y_{T+1} (model units) given the draw's factor path.

    ``factor_var`` (k,) at T+1, ``obs_scale`` (T+1, N) over the sample and T+1: the error
    of a series last observed at τ is ρ^{T+1-τ} u_τ plus its AR(1) innovations at
    τ+1..T+1, each of variance σ² obs_scale[t].
    """
    lam, a = SV_LAM[chain], SV_A[chain]
    sd, rho = SV_SD[chain], SV_RHO[chain]
    f = fit.posterior["factors"].values[chain, 0]
    y, mask = model.panel.filled, model.panel.mask
    tau = last_observed(mask)
    cols = np.arange(N_SV)
    u_tau = y[tau, cols] - np.einsum("nk,nk->n", f[tau], lam)
    mean = lam @ a @ f[-1] + rho ** (T_SV - tau) * u_tau
    u_var = np.array(
        [
            sd[i] ** 2
            * sum(rho[i] ** (2 * (T_SV - t)) * obs_scale[t, i] for t in range(tau[i] + 1, T_SV + 1))
            for i in cols
        ]
    )
    cov = lam @ np.diag(factor_var) @ lam.T + np.diag(u_var)
    return mean, cov


@pytest.fixture(scope="module")
def deterministic_sv():
    """Factor SV and a common idiosyncratic path with σ = 0, Gaussian shocks."""
    model = _sv_model(factor_volatility="sv", idio_volatility="common_sv")
    rng = np.random.default_rng(3)
    h = 0.3 * rng.standard_normal((2, T_SV, 2))
    h[:, -1] = [[1.2, -0.8], [-0.5, 0.9]]  # h_T
    g = 0.3 * rng.standard_normal((2, T_SV))
    g[:, -3:] = [[0.2, 1.0, 1.5], [-0.6, -1.0, 0.8]]  # the ragged edge's dates
    vol = {
        "factor_sv_phi": ([FACTOR], [[0.9, 0.7], [0.95, 0.5]]),
        "factor_sv_sd": ([FACTOR], np.zeros((2, 2))),
        "idio_sv_phi": ([], [0.8, 0.6]),
        "idio_sv_sd": ([], [0.0, 0.0]),
        "factor_log_var": ([TIME, FACTOR], h),
        "idio_log_var": ([TIME], g),
    }
    return model, _sv_fit(model, vol, n_rep=5000), h, g


def test_sv_forecast_with_zero_vol_of_vol_is_the_gaussian_forecast(deterministic_sv):
    """σ = 0: the paths decay deterministically, h_{T+s} = φ^s h_T; the draws are the
    constant machinery's with those variances, and match the closed-form Gaussian."""
    model, fit, h, g = deterministic_sv
    steps = 3
    phi_f = np.array([[0.9, 0.7], [0.95, 0.5]])
    phi_g = np.array([0.8, 0.6])
    s = np.arange(1, steps + 1)
    fv = np.exp(np.concatenate([h, h[:, -1:] * phi_f[:, None] ** s[:, None]], 1))
    os = np.exp(np.concatenate([g, g[:, -1:] * phi_g[:, None] ** s], 1))  # (chain, T+h)
    fc = forecast_fit(fit, steps=steps, random_seed=4)
    # = simulate_forward with the deterministic variances (same shock stream)
    n_rep = fit.posterior.sizes[DRAW]
    fv_d = np.repeat(fv, n_rep, 0)
    os_d = np.repeat(np.repeat(os[..., None], N_SV, 2), n_rep, 0)
    now, y_f, f_f = simulate_forward(
        model.panel.filled,
        model.panel.mask,
        stack_draws(fit.posterior["factors"]),
        posterior_draws(fit),
        steps,
        np.random.default_rng(4),
        factor_var=fv_d,
        obs_scale=os_d,
    )
    scaling = model.panel.scaling
    got = fc.draws["y"].values.reshape(-1, steps, N_SV)
    np.testing.assert_allclose(got, scaling.to_original(y_f), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        fc.nowcast["y"].values.reshape(now.shape), scaling.to_original(now), rtol=1e-12
    )
    # the future log-variances are returned, deterministic here
    np.testing.assert_allclose(
        fc.draws["factor_log_var"].values[:, 0], np.log(fv[:, T_SV:]), rtol=1e-12
    )
    assert fc.draws["idio_log_var"].dims == (CHAIN, DRAW, TIME)
    # closed form of y_{T+1} given each draw's factor path, in model units
    y1 = y_f[:, 0].reshape(2, n_rep, N_SV)
    for c in range(2):
        obs_scale = np.repeat(os[c, : T_SV + 1, None], N_SV, 1)
        mean, cov = _moments_one_step(model, fit, c, fv[c, T_SV], obs_scale)
        sample = y1[c]
        se = np.sqrt(np.diag(cov) / n_rep)
        assert np.all(np.abs(sample.mean(0) - mean) < 4.5 * se)
        sd = np.sqrt(np.diag(cov))
        assert (np.abs(np.cov(sample.T) - cov) / np.outer(sd, sd)).max() < 4.5 * np.sqrt(2 / n_rep)
        # the factor shock at T+1 has variance factor_var[T+1]
        f_last = fit.posterior["factors"].values[c, 0, -1]
        shock = f_f[c * n_rep : (c + 1) * n_rep, 0] - SV_A[c] @ f_last
        np.testing.assert_allclose(shock.var(0), fv[c, T_SV], rtol=4.5 * np.sqrt(2 / n_rep))
        # the ragged edge: series 2's nowcast at T uses the in-sample obs_scale at T-1, T
        lam, rho, sd2 = SV_LAM[c, 1], SV_RHO[c, 1], SV_SD[c, 1]
        f = fit.posterior["factors"].values[c, 0]
        u_tau = model.panel.filled[-3, 1] - lam @ f[-3]
        m_now = lam @ f[-1] + rho**2 * u_tau
        v_now = sd2**2 * (rho**2 * os[c, T_SV - 2] + os[c, T_SV - 1])
        got_now = now[c * n_rep : (c + 1) * n_rep, -1, 1]
        assert abs(got_now.mean() - m_now) < 4.5 * np.sqrt(v_now / n_rep)
        np.testing.assert_allclose(got_now.var(), v_now, rtol=4.5 * np.sqrt(2 / n_rep))


def test_continued_log_variances_have_the_ar1_moments():
    """σ > 0: h_{T+s} | h_T ~ N(φ^s h_T, σ² (1-φ^{2s})/(1-φ²)), per draw; λ ~ Gamma(ν/2, ν/2)."""
    model = _sv_model(factor_volatility="sv", idio_volatility="sv", tails="student_t")
    rng = np.random.default_rng(5)
    h = 0.3 * rng.standard_normal((2, T_SV, 2))
    h[:, -1] = [[1.0, -0.5], [-1.5, 0.4]]
    g = 0.3 * rng.standard_normal((2, T_SV, N_SV))
    phi_f, sd_f = np.array([[0.9, 0.6], [0.8, 0.95]]), np.array([[0.3, 0.5], [0.2, 0.4]])
    phi_g, sd_g = np.array([[0.7, 0.9, 0.5, 0.8], [0.6, 0.95, 0.9, 0.3]]), np.full((2, N_SV), 0.4)
    nu = np.array([6.0, 15.0])
    vol = {
        "factor_sv_phi": ([FACTOR], phi_f),
        "factor_sv_sd": ([FACTOR], sd_f),
        "idio_sv_phi": ([SERIES], phi_g),
        "idio_sv_sd": ([SERIES], sd_g),
        "tails_nu": ([], nu),
        "factor_log_var": ([TIME, FACTOR], h),
        "idio_log_var": ([TIME, SERIES], g),
        "tail_scale": ([TIME], rng.gamma(3.0, 1 / 3.0, (2, T_SV))),
    }
    n_rep, steps = 8000, 3
    fit = _sv_fit(model, vol, n_rep=n_rep)
    out = continue_volatility(fit.posterior, model.spec, N_SV, steps, np.random.default_rng(6))
    lam = out["tail_scale"].reshape(2, n_rep, steps)
    for name, last, phi, sd in [
        ("factor_log_var", h[:, -1], phi_f, sd_f),
        ("idio_log_var", g[:, -1], phi_g, sd_g),
    ]:
        path = out[name].reshape(2, n_rep, steps, -1)
        for s in range(1, steps + 1):
            mean = phi**s * last
            var = sd**2 * (1 - phi ** (2 * s)) / (1 - phi**2)
            got = path[:, :, s - 1]
            assert np.all(np.abs(got.mean(1) - mean) < 4.5 * np.sqrt(var / n_rep))
            np.testing.assert_allclose(got.var(1), var, rtol=4.5 * np.sqrt(2 / n_rep))
    # fresh tail scales: mean 1, variance 2/ν, independent over the horizon
    assert np.all(np.abs(lam.mean((1, 2)) - 1.0) < 4.5 * np.sqrt(2 / nu / n_rep / steps))
    np.testing.assert_allclose(lam.var(1), np.repeat(2 / nu[:, None], steps, 1), rtol=0.15)
    assert abs(np.corrcoef(lam[0, :, 0], lam[0, :, 1])[0, 1]) < 4.5 / np.sqrt(n_rep)
    # the variances: the draws' own in-sample rows, then exp(path) / λ beyond T
    lam_in = vol["tail_scale"][1]
    fv = out["factor_var"].reshape(2, n_rep, T_SV + steps, 2)
    os = out["obs_scale"].reshape(2, n_rep, T_SV + steps, N_SV)
    np.testing.assert_allclose(fv[:, 0, :T_SV], np.exp(h) / lam_in[..., None])
    np.testing.assert_allclose(os[:, 0, :T_SV], np.exp(g) / lam_in[..., None])
    path_f = out["factor_log_var"].reshape(2, n_rep, steps, 2)
    np.testing.assert_allclose(fv[:, :, T_SV:], np.exp(path_f) / lam[..., None])
    # end to end: one chain's factor shock at T+1 has variance E[exp(h_{T+1})/λ]
    fc = forecast_fit(fit, steps=1, random_seed=7)
    assert fc.draws["idio_log_var"].dims == (CHAIN, DRAW, TIME, SERIES)
    assert fc.draws["tail_scale"].dims == (CHAIN, DRAW, TIME)
    for c in range(2):
        f_last = fit.posterior["factors"].values[c, 0, -1]
        shock = fc.draws["factors"].values[c, :, 0] - SV_A[c] @ f_last
        expected = np.exp(phi_f[c] * h[c, -1] + sd_f[c] ** 2 / 2) * nu[c] / (nu[c] - 2)
        np.testing.assert_allclose(shock.var(0), expected, rtol=0.12)


def test_student_t_forecast_shocks_have_t_kurtosis():
    """Student-t tails only: the 1-step shocks are a Gaussian scaled by a fresh 1/√λ, so
    every series' standardised shock has variance ν/(ν-2) and kurtosis 3 + 6/(ν-4)."""
    model = _sv_model(tails="student_t")
    nu = np.array([10.0, 10.0])
    vol = {
        "tails_nu": ([], nu),
        "tail_scale": ([TIME], np.full((2, T_SV), 1.0)),
    }
    n_rep = 20000
    fit = _sv_fit(model, vol, n_rep=n_rep)
    fc = forecast_fit(fit, steps=1, random_seed=8)
    assert "factor_log_var" not in fc.draws
    y = model.panel.scaling.to_model(fc.draws["y"].values[:, :, 0])
    obs_scale = np.ones((T_SV + 1, N_SV))
    kurt = []
    for c in range(2):
        mean, cov = _moments_one_step(model, fit, c, np.ones(2), obs_scale)
        z = (y[c] - mean) / np.sqrt(np.diag(cov) * nu[c] / (nu[c] - 2))
        np.testing.assert_allclose(z.var(0), 1.0, rtol=0.06)
        kurt.append((z**4).mean(0) / (z**2).mean(0) ** 2)
    # t_10: kurtosis 4 (a Gaussian's is 3)
    assert 3.5 < np.mean(kurt) < 4.6
    assert np.all(np.array(kurt) > 3.3)


def test_default_variances_keep_the_constant_forecast_bit_for_bit():
    """Ones for factor_var and obs_scale give the constant model's draws exactly."""
    params = true_params(True)
    y, mask, _ = draw_panel(params, 9, 2, seed=3)
    mask[-2:, 1] = False
    y[~mask] = 0.0
    draws = {k: np.repeat(v[None], 50, 0) for k, v in params.items()}
    factors, _ = simulation_smoother(y, mask.astype(float), draws, n_lags(params), random_seed=4)
    base = simulate_forward(y, mask, factors, draws, 3, np.random.default_rng(5))
    ones = simulate_forward(
        y,
        mask,
        factors,
        draws,
        3,
        np.random.default_rng(5),
        factor_var=np.ones((50, 12, 2)),
        obs_scale=np.ones((50, 12, 4)),
    )
    for a, b in zip(base, ones, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="obs_scale must have shape"):
        simulate_forward(
            y, mask, factors, draws, 3, np.random.default_rng(5), obs_scale=np.ones((50, 9, 4))
        )


def test_garch_variances_continue_by_their_recursion_driven_by_the_factor_shocks():
    """q_{T+1} is the fit's; then the GJR recursion on the very shocks the factors get."""
    spec = DFMSpec(2, factor_volatility="garch", tails="student_t")
    rng = np.random.default_rng(8)
    T, D, steps = 6, 5, 4
    alpha, beta = rng.uniform(0.05, 0.15, (1, D, 2)), rng.uniform(0.7, 0.8, (1, D, 2))
    gamma = rng.uniform(0.0, 0.1, (1, D, 2))
    post = xr.Dataset(
        {
            "factor_garch_alpha": ([CHAIN, DRAW, FACTOR], alpha),
            "factor_garch_beta": ([CHAIN, DRAW, FACTOR], beta),
            "factor_garch_gamma": ([CHAIN, DRAW, FACTOR], gamma),
            "factor_log_var": ([CHAIN, DRAW, TIME, FACTOR], rng.normal(0, 0.3, (1, D, T, 2))),
            "factor_log_var_next": ([CHAIN, DRAW, FACTOR], rng.normal(0, 0.3, (1, D, 2))),
            "tails_nu": ([CHAIN, DRAW], np.full((1, D), 6.0)),
            "tail_scale": ([CHAIN, DRAW, TIME], rng.gamma(3.0, 1 / 3.0, (1, D, T))),
        },
        coords={CHAIN: [0], DRAW: np.arange(D), TIME: np.arange(T), FACTOR: ["f1", "f2"]},
    )
    out = continue_volatility(post, spec, 3, steps, np.random.default_rng(2))
    h, eps, lam = out["factor_log_var"], out["factor_shock"], out["tail_scale"]
    a, b, g = alpha[0], beta[0], gamma[0]
    q = np.exp(post["factor_log_var_next"].values[0])
    for s in range(steps):
        np.testing.assert_allclose(h[:, s], np.log(q), rtol=1e-12)
        shock = np.sqrt(q / lam[:, s, None]) * eps[:, s]
        q = (1 - a - g / 2 - b) + np.where(shock < 0, a + g, a) * shock**2 + b * q
    np.testing.assert_allclose(out["factor_var"][:, T:], np.exp(h) / lam[..., None])
    # simulate_forward uses exactly those shocks: with A = 0, f_{T+s} = sqrt(var) ε
    params = {"loadings": np.ones((3, 2)), "factor_ar": np.zeros((1, 2, 2)), "idio_sd": np.ones(3)}
    draws = {k: np.repeat(v[None], D, 0) for k, v in params.items()}
    y, mask = np.zeros((T, 3)), np.ones((T, 3), bool)
    _, _, f = simulate_forward(
        y, mask, np.zeros((D, T, 2)), draws, steps, np.random.default_rng(1),
        factor_var=out["factor_var"], factor_shock=eps,
    )  # fmt: skip
    np.testing.assert_allclose(f, np.sqrt(out["factor_var"][:, T:]) * eps, rtol=1e-12)


def test_idio_garch_multipliers_continue_with_the_innovations_the_series_get():
    spec = DFMSpec(1, idio_volatility="garch")
    rng = np.random.default_rng(9)
    T, D, N, steps = 5, 4, 3, 3
    coefs = {v: rng.uniform(lo, hi, (1, D, N)) for v, lo, hi in
             (("alpha", 0.05, 0.1), ("beta", 0.7, 0.8), ("gamma", 0.0, 0.1))}  # fmt: skip
    post = xr.Dataset(
        {f"idio_garch_{v}": ([CHAIN, DRAW, SERIES], x) for v, x in coefs.items()}
        | {
            "idio_log_var": ([CHAIN, DRAW, TIME, SERIES], rng.normal(0, 0.3, (1, D, T, N))),
            "idio_log_var_next": ([CHAIN, DRAW, SERIES], rng.normal(0, 0.3, (1, D, N))),
        },
        coords={CHAIN: [0], DRAW: np.arange(D), TIME: np.arange(T), SERIES: ["a", "b", "c"]},
    )
    out = continue_volatility(post, spec, N, steps, np.random.default_rng(3))
    g, z = out["idio_log_var"], out["idio_shock"]
    a, b, c = (coefs[v][0] for v in ("alpha", "beta", "gamma"))
    r = np.exp(post["idio_log_var_next"].values[0])
    for s in range(steps):
        np.testing.assert_allclose(g[:, s], np.log(r), rtol=1e-12)
        e = np.sqrt(r) * z[:, s]
        r = (1 - a - c / 2 - b) + np.where(e < 0, a + c, a) * e**2 + b * r
    np.testing.assert_allclose(out["obs_scale"][:, T:], np.exp(g))
    assert "factor_var" not in out
    # simulate_forward: iid errors, zero factors and loadings -> y = σ sqrt(r) z
    params = {"loadings": np.zeros((N, 1)), "factor_ar": np.zeros((1, 1, 1)), "idio_sd": np.ones(N)}
    draws = {k: np.repeat(v[None], D, 0) for k, v in params.items()}
    _, y_f, _ = simulate_forward(
        np.zeros((T, N)), np.ones((T, N), bool), np.zeros((D, T, 1)), draws, steps,
        np.random.default_rng(1), obs_scale=out["obs_scale"], idio_shock=z,
    )  # fmt: skip
    np.testing.assert_allclose(y_f, np.exp(g / 2) * z, rtol=1e-12)
