"""Forecasts: closed-form predictive moments against dense Gaussian conditioning, the
simulated paths against those moments, dates, and the FitResult.forecast wrapper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bdfm
from bdfm.dims import CHAIN, DRAW, FACTOR, SERIES, TIME
from bdfm.posterior.forecast import (
    Forecast,
    forecast_dates,
    last_observed,
    predictive_moments,
    simulate_forward,
    unconditional_moments,
)
from bdfm.spec import DFMSpec
from bdfm.statespace.simsmoother import simulation_smoother
from tests.conftest import (
    LAM,
    SD,
    dense_condition,
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
    assert nowcast.shape == (n_sims, 4, 4) and f_future.shape == (n_sims, horizon, 2)
    # observed entries of the nowcast are the data
    t0 = n_time - nowcast.shape[1]
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


def test_fit_forecast_draws_in_original_units(ragged_known_fit):
    fit, data, params = ragged_known_fit
    fc = fit.forecast(steps=3, random_seed=1)
    assert isinstance(fc, Forecast)
    assert fc.draws["y"].dims == (CHAIN, DRAW, TIME, SERIES)
    assert fc.draws["factors"].dims == (CHAIN, DRAW, TIME, FACTOR)
    pd.testing.assert_index_equal(
        fc.draws.indexes[TIME], forecast_dates(data.index, 3), exact=False
    )
    assert list(fc.draws[SERIES].values) == list(data.columns)
    # Monte Carlo mean of the draws = closed-form conditional mean in original units
    panel = fit.model.panel
    mom = predictive_moments(panel.filled, panel.mask, one_draw(params), 2, 3)
    mean = panel.scaling.to_original(mom.mean()[0])
    sd = panel.scaling.scale * np.sqrt(np.diag(mom.cov()[0]))
    got = fc.draws["y"].isel({TIME: -1}).mean((CHAIN, DRAW)).values
    assert np.all(np.abs(got - mean) < 4.5 * sd / np.sqrt(3000))
    # the nowcast covers the ragged edge; observed values are kept
    now = fc.nowcast["y"]
    assert now.sizes[TIME] == 3
    np.testing.assert_allclose(now.isel({CHAIN: 0, DRAW: 0}).values[:, 0], data.iloc[-3:, 0])
    assert now.isel({TIME: -1}).std((CHAIN, DRAW)).values[2] > 0
    # reproducible
    again = fit.forecast(steps=3, random_seed=1)
    xr.testing.assert_equal(fc.draws, again.draws)


def test_forecast_summary_and_quantiles(ragged_known_fit):
    fit, _, _ = ragged_known_fit
    fc = fit.forecast(steps=2, include_factors=False, random_seed=2)
    assert "factors" not in fc.draws
    table = fc.summary(prob=0.8)
    assert list(table.columns) == ["mean", "median", "lower", "upper"]
    assert table.index.names == [TIME, SERIES] and len(table) == 2 * 4
    assert (table["lower"] < table["median"]).all() and (table["median"] < table["upper"]).all()
    assert len(fc.summary(nowcast=True)) == (2 + 3) * 4
    q = fc.quantiles([0.1, 0.9])
    np.testing.assert_allclose(
        q.isel(quantile=0).values, table["lower"].to_xarray().transpose(TIME, SERIES).values
    )
    with pytest.raises(ValueError, match="prob"):
        fc.summary(prob=1.5)
    with pytest.raises(ValueError, match="steps"):
        fit.forecast(steps=0)


@pytest.fixture(scope="module")
def sampled_fit():
    spec = DFMSpec(n_factors=1, idiosyncratic="iid")
    data, _ = bdfm.simulate(spec, n_time=80, n_series=5, random_seed=3)
    data.iloc[-2:, 4] = np.nan
    model = bdfm.DynamicFactorModel(data, n_factors=1)
    return model.fit(draws=60, tune=60, chains=2, sampler="pymc", random_seed=1, progressbar=False)


def test_forecast_from_a_sampled_fit(sampled_fit):
    fc = sampled_fit.forecast(steps=4, random_seed=3)
    assert fc.draws["y"].shape == (2, 60, 4, 5)
    assert fc.nowcast.sizes[TIME] == 2
    assert np.isfinite(fc.draws["y"].values).all()
    cov = sampled_fit.covariance(horizon=4)
    sim = fc.draws["y"].isel({TIME: -1}).values.reshape(-1, 5)
    ratio = np.var(sim, axis=0) / cov.mean((CHAIN, DRAW)).values.diagonal()
    assert np.all((ratio > 0.6) & (ratio < 1.6))


def test_forecast_without_ragged_edge_has_empty_nowcast():
    spec, data = simulate_known(n_time=30, seed=2, ar1=False)
    model = bdfm.DynamicFactorModel(data, n_factors=2, factor_order=2)
    params = standardised(true_params(False), model.panel.scaling.scale)
    fc = known_fit(data, spec, params, n_draws=5).forecast(steps=2, random_seed=0)
    assert fc.nowcast.sizes[TIME] == 0 and fc.draws["y"].shape == (1, 5, 2, 4)
    assert len(fc.summary(nowcast=True)) == 2 * 4
