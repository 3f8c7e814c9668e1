"""The data a fit was given: the series over time and what is missing."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bdfm.dims import SERIES, TIME
from bdfm.report.plots._layout import (
    DATA_COLOR,
    MAX_HEIGHT,
    colors,
    date_axis,
    fan,
    figure,
    label_axis,
    rows_height,
)

if TYPE_CHECKING:
    from bdfm.results import FitResult


def plot_data_overview(fit: FitResult, *, legend_max: int = 10) -> Figure:
    """The standardised series over time and a time × series picture of what is missing.

    Parameters
    ----------
    fit : FitResult
    legend_max : int
        Name the series in a legend when there are at most this many.

    Returns
    -------
    Figure
        Two axes: the series (z-scores, so series of different scales share one
        axis) and the observed/missing mask (dark = observed, pale = missing).
    """
    y = fit.idata.observed_data["y"].transpose(TIME, SERIES)
    const = fit.idata.constant_data
    z = (y - const["scaling_mean"]) / const["scaling_scale"]
    mask = const["mask"].transpose(SERIES, TIME).values.astype(bool)
    names = [str(s) for s in y[SERIES].values]
    dates = pd.DatetimeIndex(y[TIME].values)
    n = len(names)
    mask_height = min(rows_height(n, per_row=0.12, base=0.4), MAX_HEIGHT - 3.2)
    fig = figure(3.2 + mask_height)
    ax_series, ax_mask = fig.subplots(2, 1, height_ratios=[3.2, mask_height])
    if n <= legend_max:
        for i, (name, color) in enumerate(zip(names, colors(n))):
            ax_series.plot(dates, z.values[:, i], lw=1.0, color=color, alpha=0.85, label=name)
        ax_series.set_title(f"{n} series, {len(dates)} time points")
    else:  # too many lines to tell apart: the cross-section's median and spread
        with warnings.catch_warnings():  # a date on which every series is missing
            warnings.simplefilter("ignore", RuntimeWarning)
            fan(ax_series, dates, z.values.T, color=DATA_COLOR, probs=(0.5, 0.8))
        ax_series.set_title(
            f"{n} series, {len(dates)} time points: cross-sectional median, "
            "middle 50% and 80% of the series"
        )
    ax_series.set_ylabel("standardised value")
    ax_series.legend(fontsize=8, ncols=min(n, 10), loc="upper left")
    date_axis(ax_series)
    x0, x1 = mdates.date2num(dates[0]), mdates.date2num(dates[-1])
    ax_mask.imshow(
        mask,
        aspect="auto",
        interpolation="nearest",
        cmap=ListedColormap(["#f3d9a4", DATA_COLOR]),
        vmin=0,
        vmax=1,
        extent=(x0, x1, n - 0.5, -0.5),
    )
    ax_mask.xaxis_date()
    date_axis(ax_mask)
    label_axis(ax_mask, names)
    share = 1 - mask.mean()
    ax_mask.set_title(f"observed and missing values ({share:.2%} missing)")
    ax_mask.legend(
        handles=[
            Patch(color=DATA_COLOR, label="observed"),
            Patch(color="#f3d9a4", label="missing"),
        ],
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    return fig
