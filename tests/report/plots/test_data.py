"""bdfm.report.plots.data: the data overview, also for large panels."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bdfm.dims import CHAIN, DRAW, FACTOR, SERIES, TIME, factor_labels
from bdfm.report import plots
from tests.conftest import SMALL_N_SERIES as N_SERIES
from tests.report.plots.conftest import check_figure


def test_data_overview(fit):
    fig = plots.plot_data_overview(fit)
    check_figure(fig, 2)
    series_ax, mask_ax = fig.axes
    assert len(series_ax.get_lines()) == N_SERIES
    (image,) = mask_ax.get_images()
    mask = image.get_array()
    assert mask.shape == (N_SERIES, 150)
    assert mask[2, :30].sum() == 0 and mask[2, 30:].all()  # the late start is pale
    assert "missing" in mask_ax.get_title()


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
        check_figure(fig, len(fig.axes))
        height = fig.get_size_inches()[1] * fig.dpi
        assert 1500 <= height <= 2100  # tall enough for the rows, never endless
        heat = fig.axes[0] if len(fig.axes) == 4 else fig.axes[1]
        labels = heat.get_yticklabels()
        assert len(labels) <= plots.MAX_LABELS  # thinned beyond MAX_LABELS
        assert all(label.get_fontsize() >= 7 for label in labels)
        rows_per_label = n_series / len(labels)
        assert height / n_series * rows_per_label >= 12  # >= 12 px per labelled row
    assert not fig.axes[0].texts  # too many cells to print values in
