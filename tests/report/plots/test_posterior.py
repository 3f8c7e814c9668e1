"""bdfm.report.plots.posterior: factors, loadings, variance decomposition."""

from __future__ import annotations

import matplotlib
import numpy as np

from bdfm.dims import CHAIN, DRAW, FACTOR, factor_labels, source_labels
from bdfm.report import plots
from tests.conftest import SMALL_N_FACTORS as N_FACTORS
from tests.conftest import SMALL_N_SERIES as N_SERIES
from tests.report.plots.conftest import bands, check_figure


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
