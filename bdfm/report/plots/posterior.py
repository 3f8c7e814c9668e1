"""The posterior of a fit: factors, loadings and the variance decomposition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from bdfm.dims import CHAIN, DRAW, FACTOR, IDIOSYNCRATIC, SERIES, SOURCE, TIME
from bdfm.draws import stack_draws
from bdfm.posterior.risk import variance_decomposition_fit
from bdfm.report.plots._layout import (
    MAX_HEIGHT,
    PROBS,
    colors,
    date_axis,
    fan,
    figure,
    label_axis,
    label_fontsize,
    quantiles,
    rows_height,
    source_colors,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bdfm.results import FitResult


def plot_factors(fit: FitResult, *, probs: Sequence[float] = PROBS) -> Figure:
    """Posterior mean of every factor over time with nested credible bands.

    Parameters
    ----------
    fit : FitResult
    probs : sequence of float
        Credible-band probabilities (default 50% and 90%).

    Returns
    -------
    Figure
        One axis per factor, sharing the time axis.
    """
    factors = fit.posterior["factors"]
    labels = [str(f) for f in factors[FACTOR].values]
    dates = pd.DatetimeIndex(factors[TIME].values)
    k = len(labels)
    fig = figure(min(2.4 * k + 0.6, MAX_HEIGHT))
    axes = np.atleast_1d(fig.subplots(k, 1, sharex=True, squeeze=False)[:, 0])
    for ax, label, color in zip(axes, labels, colors(k)):
        fan(
            ax,
            dates,
            stack_draws(factors.sel({FACTOR: label})),
            color=color,
            probs=probs,
            center="mean",
        )
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_ylabel(label)
        date_axis(ax)
    axes[0].legend(fontsize=8, loc="upper left", ncols=len(probs) + 1)
    axes[0].set_title("posterior factors: mean and credible bands")
    return fig


def _heatmap(ax: Axes, values: np.ndarray, *, cmap: str, vmin: float, vmax: float, fig: Figure):
    image = ax.imshow(
        values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest"
    )
    fig.colorbar(image, ax=ax, fraction=0.08, pad=0.02)
    n, k = values.shape
    if n * k <= 400:  # small enough to print every value
        size = label_fontsize(n) - 1
        for (i, j), v in np.ndenumerate(values):
            shade = (v - vmin) / (vmax - vmin or 1.0)
            white = shade > 0.8 or (cmap == "RdBu_r" and shade < 0.2)
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=size,
                    color="white" if white else "black")  # fmt: skip
    return image


def plot_loadings(fit: FitResult, *, prob: float = 0.9) -> Figure:
    """Heatmaps of the posterior mean loadings and of the width of their credible interval.

    Parameters
    ----------
    fit : FitResult
    prob : float
        Probability of the equal-tailed interval whose width is shown.

    Returns
    -------
    Figure
        Two heatmaps (series × factor) and their colour bars; values are printed
        in the cells when the matrix is small. Loadings are in model units
        (per standard deviation of a series when the data are standardised).
    """
    lam = fit.posterior["loadings"].transpose(CHAIN, DRAW, SERIES, FACTOR)
    series = [str(s) for s in lam[SERIES].values]
    factors = [str(f) for f in lam[FACTOR].values]
    draws = stack_draws(lam)
    mean = draws.mean(axis=0)
    lo, hi = quantiles(draws, [prob])[prob]
    width = hi - lo
    n = len(series)
    fig = figure(rows_height(n))
    ax_mean, ax_width = fig.subplots(1, 2)
    bound = float(np.abs(mean).max()) or 1.0
    _heatmap(ax_mean, mean, cmap="RdBu_r", vmin=-bound, vmax=bound, fig=fig)
    _heatmap(ax_width, width, cmap="viridis", vmin=0.0, vmax=float(width.max()) or 1.0, fig=fig)
    ax_mean.set_title("posterior mean loading")
    ax_width.set_title(f"width of the {prob:.0%} credible interval")
    for ax in (ax_mean, ax_width):
        label_axis(ax, series)
        label_axis(ax, factors, axis="x")
    return fig


def plot_variance_decomposition(
    fit: FitResult, decomposition: xr.DataArray | None = None, *, prob: float = 0.9
) -> Figure:
    """Stacked bars per series: the posterior mean share of variance from each source.

    Parameters
    ----------
    fit : FitResult
    decomposition : DataArray (chain, draw, series, source), optional
        Variance shares per source (summing to one); default ``fit.variance_decomposition()``.
    prob : float
        Probability of the interval drawn for the share of all factors together.

    Returns
    -------
    Figure
        One axis: a horizontal bar per series split by source (factors, then
        idiosyncratic in grey), with the credible interval of the common share.
    """
    if decomposition is None:
        decomposition = variance_decomposition_fit(fit)
    shares = decomposition.transpose(CHAIN, DRAW, SERIES, SOURCE)
    sources = [str(s) for s in shares[SOURCE].values]
    series = [str(s) for s in shares[SERIES].values]
    draws = stack_draws(shares)
    mean = draws.mean(axis=0)
    common = draws[..., [s != IDIOSYNCRATIC for s in sources]].sum(axis=-1)
    lo, hi = quantiles(common, [prob])[prob]
    n = len(series)
    fig = figure(rows_height(n))
    ax = fig.subplots()
    rows = np.arange(n)
    left = np.zeros(n)
    for j, (source, color) in enumerate(zip(sources, source_colors(sources))):
        ax.barh(rows, mean[:, j], left=left, color=color, height=0.8, label=source)
        left += mean[:, j]
    centre = common.mean(axis=0)
    ax.errorbar(centre, rows, xerr=[centre - lo, hi - centre], fmt="none", ecolor="black",
                elinewidth=0.8, capsize=2, label=f"factors together, {prob:.0%}")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(n - 0.5, -0.5)
    label_axis(ax, series)
    ax.set_xlabel("share of variance")
    ax.set_title("variance decomposition (posterior mean shares)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
