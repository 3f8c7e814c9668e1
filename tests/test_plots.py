"""Plots of a fit: each returns a 1280 px wide Figure with what it should draw (headless)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from bdfm import plots
from bdfm.dims import CHAIN, DRAW, FACTOR, SERIES, TIME, factor_labels, source_labels
from bdfm.params import companion_matrix
from tests.conftest import SMALL_N_FACTORS as N_FACTORS
from tests.conftest import SMALL_N_SERIES as N_SERIES


@pytest.fixture(scope="module")
def fit(small_ar1_fit):
    return small_ar1_fit


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    """The plots never register figures with pyplot (nothing to close, nothing leaks)."""
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def _check_figure(fig, n_axes: int) -> None:
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    assert fig.get_size_inches()[0] * fig.dpi == pytest.approx(1280)
    fig.canvas.draw()  # renders without error (or warning: pytest turns those into errors)


def _bands(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_data_overview(fit):
    fig = plots.plot_data_overview(fit)
    _check_figure(fig, 2)
    series_ax, mask_ax = fig.axes
    assert len(series_ax.get_lines()) == N_SERIES
    (image,) = mask_ax.get_images()
    mask = image.get_array()
    assert mask.shape == (N_SERIES, 150)
    assert mask[2, :30].sum() == 0 and mask[2, 30:].all()  # the late start is pale
    assert "missing" in mask_ax.get_title()


def test_factors(fit):
    fig = fit.plot_factors()
    _check_figure(fig, N_FACTORS)
    for ax, label in zip(fig.axes, factor_labels(N_FACTORS)):
        assert ax.get_ylabel() == label
        assert len(_bands(ax)) == 2  # 50% and 90%
    mean = fig.axes[0].get_lines()[0].get_ydata()
    expected = fit.posterior["factors"].sel({FACTOR: "f1"}).mean((CHAIN, DRAW)).values
    np.testing.assert_allclose(mean, expected)


def test_loadings(fit):
    fig = fit.plot_loadings()
    _check_figure(fig, 4)  # two heatmaps, two colour bars
    mean_img, width_img = (ax.get_images()[0] for ax in fig.axes[:2])
    np.testing.assert_allclose(mean_img.get_array(), fit.loadings().to_numpy())
    width = np.asarray(width_img.get_array())
    assert width.shape == (N_SERIES, N_FACTORS) and (width >= 0).all()
    assert len(fig.axes[0].texts) == N_SERIES * N_FACTORS  # small: values printed


def test_variance_decomposition(fit):
    fig = fit.plot_variance_decomposition()
    _check_figure(fig, 1)
    (ax,) = fig.axes
    assert len(ax.patches) == N_SERIES * (N_FACTORS + 1)
    ends = np.zeros(N_SERIES)
    for bar in ax.patches[-N_SERIES:]:  # the last source ends each bar at 1
        ends[round(bar.get_y() + bar.get_height() / 2)] = bar.get_x() + bar.get_width()
    np.testing.assert_allclose(ends, 1.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[: N_FACTORS + 1] == source_labels(N_FACTORS)


def test_impulse_responses(fit):
    fig = fit.plot_impulse_responses(steps=10)
    _check_figure(fig, N_FACTORS**2 + 1)
    for ax in fig.axes[:-1]:
        assert len(_bands(ax)) == 2
        assert len(ax.get_lines()[0].get_xdata()) == 11
    assert fig.axes[0].get_lines()[0].get_ydata()[0] == pytest.approx(1.0)  # own shock at h=0
    assert "persistence" in fig.axes[-1].get_title()


def test_forecast(fit):
    forecast = fit.forecast(steps=5, random_seed=2)
    fig = fit.plot_forecast(forecast, series=["y1", "y6", "y8"])
    _check_figure(fig, 3)
    assert [ax.get_title() for ax in fig.axes] == ["y1", "y6", "y8"]
    median = fig.axes[1].get_lines()[1]
    assert len(median.get_xdata()) == 3 + 5  # the ragged end is nowcast, then 5 steps
    with pytest.raises(ValueError, match="unknown series"):
        fit.plot_forecast(forecast, series=["nope"])


def test_risk(fit):
    weights = pd.DataFrame(
        [np.full(N_SERIES, 1 / N_SERIES), np.eye(N_SERIES)[0]],
        index=["equal", "first"],
        columns=[f"y{i + 1}" for i in range(N_SERIES)],
    )
    risk = fit.risk(weights, alpha=(0.9, 0.99))
    fig = fit.plot_risk(risk, portfolio="first")
    _check_figure(fig, 4)
    vol_ax, var_ax, es_ax, contrib_ax = fig.axes
    assert vol_ax.get_title() == "volatility"
    assert len(var_ax.patches) == 2 * 40 and len(es_ax.patches) == 2 * 40  # two levels
    assert len(contrib_ax.patches) == N_FACTORS + 1
    total = sum(p.get_width() for p in contrib_ax.patches)
    vol = risk.draws["volatility"].sel(portfolio="first").mean().item()
    assert total == pytest.approx(vol)  # Euler contributions add up to the volatility
    assert "first" in fig.get_suptitle()
    _check_figure(fit.plot_risk(), 4)  # equal weights by default
    with pytest.raises(ValueError, match="equal"):
        plots.resolve_weights(fit, "unequal")


def _fake_fit(n_series: int, k: int, n_time: int = 300, n_draws: int = 20):
    """Just the groups the loadings and data plots read, for a large panel (no sampling)."""
    rng = np.random.default_rng(0)
    series = [f"a rather long series name {i}" for i in range(n_series)]
    time = pd.date_range("2001-01-01", periods=n_time, freq="D", name=TIME)
    posterior = xr.Dataset(
        {"loadings": ((CHAIN, DRAW, SERIES, FACTOR), rng.normal(size=(1, n_draws, n_series, k)))},
        coords={SERIES: series, FACTOR: factor_labels(k)},
    )
    mask = rng.random((n_time, n_series)) > 0.1
    coords = {TIME: time, SERIES: series}
    observed = xr.Dataset({"y": ((TIME, SERIES), rng.normal(size=(n_time, n_series)))}, coords)
    constant = xr.Dataset(
        {
            "mask": ((TIME, SERIES), mask.astype(np.int8)),
            "scaling_mean": ((SERIES,), np.zeros(n_series)),
            "scaling_scale": ((SERIES,), np.ones(n_series)),
        },
        coords,
    )
    idata = SimpleNamespace(observed_data=observed, constant_data=constant)
    return SimpleNamespace(posterior=posterior, idata=idata)


@pytest.mark.parametrize("n_series", [100, 400])
def test_many_series_stay_legible(n_series):
    fake = _fake_fit(n_series, k=5)
    for fig in (plots.plot_loadings(fake), plots.plot_data_overview(fake)):
        _check_figure(fig, len(fig.axes))
        height = fig.get_size_inches()[1] * fig.dpi
        assert 1500 <= height <= 2100  # tall enough for the rows, never endless
        heat = fig.axes[0] if len(fig.axes) == 4 else fig.axes[1]
        labels = heat.get_yticklabels()
        assert len(labels) <= plots.MAX_LABELS  # thinned beyond MAX_LABELS
        assert all(label.get_fontsize() >= 7 for label in labels)
        rows_per_label = n_series / len(labels)
        assert height / n_series * rows_per_label >= 12  # >= 12 px per labelled row
    assert not fig.axes[0].texts  # too many cells to print values in


def test_impulse_responses_numerics():
    rng = np.random.default_rng(3)
    a1, a2 = 0.4 * rng.normal(size=(2, 3, 3))
    irf = plots.impulse_responses(np.stack([a1, a2]), steps=4)
    expected = [np.eye(3), a1]
    for _ in range(3):
        expected.append(a1 @ expected[-1] + a2 @ expected[-2])
    np.testing.assert_allclose(irf, np.stack(expected))
    batch = plots.impulse_responses(np.stack([[a1, a2]] * 5).reshape(5, 2, 3, 3), steps=4)
    assert batch.shape == (5, 5, 3, 3)
    radius = plots.spectral_radius(np.stack([a1, a2])[None])
    comp = companion_matrix(np.stack([a1, a2]))
    assert radius.shape == (1,)
    assert radius[0] == pytest.approx(np.abs(np.linalg.eigvals(comp)).max())


def test_no_global_state_changed(fit):
    before = dict(matplotlib.rcParams)
    plots.plot_factors(fit)
    assert dict(matplotlib.rcParams) == before
