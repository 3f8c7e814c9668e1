"""bdfm.report.plots.posterior: factors, volatility, loadings, variance decomposition."""

from __future__ import annotations

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from bdfm.dims import CHAIN, DRAW, FACTOR, TIME, factor_labels, source_labels
from bdfm.draws import stack_draws
from bdfm.report import plots
from tests.conftest import SMALL_N_FACTORS as N_FACTORS
from tests.conftest import SMALL_N_SERIES as N_SERIES
from tests.report.plots.conftest import bands, check_figure, fake_volatility_fit


def test_factors(fit):
    fig = fit.plot.factors()
    check_figure(fig, N_FACTORS)
    for ax, label in zip(fig.axes, factor_labels(N_FACTORS)):
        assert ax.get_ylabel() == label
        assert len(bands(ax)) == 2  # 50% and 90%
    mean = fig.axes[0].get_lines()[0].get_ydata()
    expected = fit.posterior["factors"].sel({FACTOR: "f1"}).mean((CHAIN, DRAW)).values
    np.testing.assert_allclose(mean, expected)


def test_loadings(fit):
    fig = fit.plot.loadings()
    check_figure(fig, 4)  # two heatmaps, two colour bars
    mean_img, width_img = (ax.get_images()[0] for ax in fig.axes[:2])
    np.testing.assert_allclose(mean_img.get_array(), fit.loadings().to_numpy())
    width = np.asarray(width_img.get_array())
    assert width.shape == (N_SERIES, N_FACTORS) and (width >= 0).all()
    assert len(fig.axes[0].texts) == N_SERIES * N_FACTORS  # small: values printed


def test_variance_decomposition(fit):
    fig = fit.plot.variance_decomposition()
    check_figure(fig, 1)
    (ax,) = fig.axes
    assert len(ax.patches) == N_SERIES * (N_FACTORS + 1)
    ends = np.zeros(N_SERIES)
    for bar in ax.patches[-N_SERIES:]:  # the last source ends each bar at 1
        ends[round(bar.get_y() + bar.get_height() / 2)] = bar.get_x() + bar.get_width()
    np.testing.assert_allclose(ends, 1.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[: N_FACTORS + 1] == source_labels(N_FACTORS)


def test_no_global_state_changed(fit):
    before = dict(matplotlib.rcParams)
    plots.plot_factors(fit)
    assert dict(matplotlib.rcParams) == before


def _band(ax, label: str, x: float) -> tuple[float, float]:
    """(lower, upper) of the band labelled ``label`` at x (from the polygon's vertices)."""
    (band,) = [c for c in bands(ax) if c.get_label() == label]
    vertices = band.get_paths()[0].vertices
    at = vertices[np.isclose(vertices[:, 0], x), 1]
    return float(at.min()), float(at.max())


def _line(ax, label: str) -> np.ndarray:
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return np.asarray(line.get_ydata(), dtype=float)


def test_volatility_bands_are_posterior_quantiles():
    fake = fake_volatility_fit(n_factors=2, idio="common_sv", student_t=True)
    fig = plots.plot_volatility(fake)
    check_figure(fig, 2 + 1)  # one per factor, one for the common idiosyncratic path
    post = fake.posterior
    t = 17
    x = mdates.date2num(pd.Timestamp(post[TIME].values[t]))
    lam = stack_draws(post["tail_scale"])[:, t]
    for j, ax in enumerate(fig.axes[:2]):
        assert ax.get_ylabel() == f"f{j + 1}"
        assert len(bands(ax)) == 4  # 50% and 90% of exp(h/2) and of exp(h/2)/sqrt(λ)
        vol = np.exp(stack_draws(post["factor_log_var"])[:, t, j] / 2)
        for p in (0.5, 0.9):
            expected = np.quantile(vol, [(1 - p) / 2, (1 + p) / 2])
            np.testing.assert_allclose(_band(ax, f"{p:.0%}", x), expected)
            total = np.quantile(vol / np.sqrt(lam), [(1 - p) / 2, (1 + p) / 2])
            np.testing.assert_allclose(_band(ax, f"with λ: {p:.0%}", x), total)
        np.testing.assert_allclose(_line(ax, "median")[t], np.median(vol))
    idio = fig.axes[2]
    assert "common idiosyncratic" in idio.get_title(loc="left")
    g = np.exp(stack_draws(post["idio_log_var"])[:, t] / 2)
    np.testing.assert_allclose(_band(idio, "90%", x), np.quantile(g, [0.05, 0.95]))


def test_volatility_per_series_is_the_spread_across_series():
    fake = fake_volatility_fit(factor=False, idio="sv", student_t=False, n_series=7)
    fig = plots.plot_volatility(fake)
    check_figure(fig, 1)
    (ax,) = fig.axes
    assert "median across series" in ax.get_title(loc="left")
    medians = np.median(np.exp(stack_draws(fake.posterior["idio_log_var"]) / 2), axis=0)  # (T, N)
    np.testing.assert_allclose(_line(ax, "median across series"), np.median(medians, axis=1))
    t = 4
    x = mdates.date2num(pd.Timestamp(fake.posterior[TIME].values[t]))
    np.testing.assert_allclose(_band(ax, "spread 50%", x), np.quantile(medians[t], [0.25, 0.75]))


def test_volatility_of_student_t_shocks_only():
    fig = plots.plot_volatility(fake_volatility_fit(factor=False, idio="constant"))
    check_figure(fig, 1)
    assert "1/√λ" in fig.axes[0].get_title(loc="left")


def test_volatility_needs_paths():
    fake = fake_volatility_fit(factor=False, idio="constant", student_t=False)
    with pytest.raises(ValueError, match="no volatility paths"):
        plots.plot_volatility(fake)
