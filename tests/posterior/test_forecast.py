"""Forecasts: closed-form predictive moments against dense Gaussian conditioning, the
simulated paths against those moments, dates, and the FitResult.forecast wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bdfm
from bdfm.dims import CHAIN, DRAW, SERIES, TIME
from bdfm.posterior.forecast import (
    Forecast,
    forecast_dates,
    last_observed,
    predictive_moments,
    simulate_forward,
    unconditional_moments,
)
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
    ragged_mask,
    simulate_known,
    standardised,
    true_params,
)


@pytest.mark.parametrize("ar1", [False, True])
@pytest.mark.parametrize("horizon", [1, 3])
def test_predictive_moments_equal_dense_conditioning(ar1, horizon):
    params = true_params(ar1)
    y, mask, cov = draw_panel(params, 9, horizon, seed=1)
    target = np.zeros((9 + horizon, 4), bool)
    target[-1] = True
    mean, var = dense_condition(cov, y, mask, target)
    mom = predictive_moments(y, mask, one_draw(params), n_lags(params), horizon)
    np.testing.assert_allclose(mom.mean()[0], mean, atol=1e-10)
    np.testing.assert_allclose(mom.cov()[0], var, atol=1e-10)


def test_unconditional_moments_equal_stationary_covariance():
    params = true_params(True)
    cov = dense_joint_cov(params, 3)
    mom = unconditional_moments(one_draw(params), n_lags(params))
    np.testing.assert_allclose(mom.cov()[0], cov[:4, :4], atol=1e-12)
    np.testing.assert_allclose(mom.mean()[0], 0.0)


def test_moments_to_original_units():
    params = true_params(True)
    y, mask, _ = draw_panel(params, 9, 1, seed=2)
    mom = predictive_moments(y, mask, one_draw(params), n_lags(params), 2)
    mean, scale = np.array([1.0, -2.0, 0.5, 3.0]), np.array([2.0, 0.5, 1.5, 4.0])
    orig = mom.to_original(mean, scale)
    np.testing.assert_allclose(orig.mean()[0], mean + scale * mom.mean()[0])
    np.testing.assert_allclose(orig.cov()[0], np.outer(scale, scale) * mom.cov()[0])


def test_last_observed():
    mask = ragged_mask(9, 4)
    np.testing.assert_array_equal(last_observed(mask), [8, 4, 7, 8])


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
