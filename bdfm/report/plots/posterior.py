"""The posterior of a fit: factors, volatility paths, loadings and the variance decomposition."""

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


SHOCK_COLOR = "0.35"  # the total shock scale, drawn behind the volatility itself
IDIO_VOL_COLOR = "#7a5195"
VOLATILITY_PATHS = ("factor_log_var", "idio_log_var", "tail_scale")


def plot_volatility(fit: FitResult, *, probs: Sequence[float] = PROBS) -> Figure:
    """Posterior volatility paths over time: median and nested credible bands.

    Parameters
    ----------
    fit : FitResult
        A fit with time-varying volatility or Student-t shocks: its posterior holds
        ``factor_log_var`` h, ``idio_log_var`` g and/or ``tail_scale`` λ.
    probs : sequence of float
        Credible-band probabilities (default 50% and 90%).

    Returns
    -------
    Figure
        Axes sharing the time axis, in this order:

        * one per factor (``factor_volatility="sv"`` or ``"garch"``): its innovation volatility
          ``exp(h/2)`` and, with Student-t shocks, the total shock scale
          ``exp(h/2) / sqrt(λ)`` in grey behind it;
        * one for the idiosyncratic volatility: the common path ``exp(g/2)``
          (``idio_volatility="common_sv"``; with ``exp(g/2) / sqrt(λ)`` under Student-t
          shocks), or, with one path per series (``"sv"`` or ``"garch"``), the median across series of
          each series' posterior median ``exp(g/2)``, with bands of the spread across
          series (not posterior bands);
        * with Student-t shocks and constant factor volatility, one for the common
          shock scale ``1 / sqrt(λ)``.

        A grey line marks 1 (a log-variance of 0).

    Raises
    ------
    ValueError
        The fit has none of these paths (constant variances and Gaussian shocks).
    """
    post = fit.posterior
    if not any(name in post for name in VOLATILITY_PATHS):
        raise ValueError(
            "this fit has no volatility paths to plot: its variances are constant and its "
            "shocks Gaussian (fit with factor_volatility='sv' or 'garch', idio_volatility="
            "'common_sv', 'sv' or 'garch', or tails='student_t' for fit.posterior['factor_log_var'], "
            "'idio_log_var' or 'tail_scale')"
        )
    some = next(post[name] for name in VOLATILITY_PATHS if name in post)
    dates = pd.DatetimeIndex(some[TIME].values)
    # (D, T) draws of 1/sqrt(λ), or 1
    shock = 1 / np.sqrt(stack_draws(post["tail_scale"])) if "tail_scale" in post else None
    h = (
        post["factor_log_var"].transpose(CHAIN, DRAW, TIME, FACTOR)
        if "factor_log_var" in post
        else None
    )
    g = post.get("idio_log_var")
    labels = [] if h is None else [str(f) for f in h[FACTOR].values]
    n_panels = len(labels) + (g is not None) + (h is None and shock is not None)
    fig = figure(min(2.4 * n_panels + 0.6, MAX_HEIGHT))
    axes = iter(np.atleast_1d(fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]))

    def panel(scale: np.ndarray, color, title: str, ylabel: str, combined: bool) -> None:
        ax = next(axes)
        if combined and shock is not None:
            fan(ax, dates, scale * shock, color=SHOCK_COLOR, probs=probs,
                label="with λ: median", band_prefix="with λ: ")  # fmt: skip
        fan(ax, dates, scale, color=color, probs=probs)
        ax.axhline(1, color="0.6", lw=0.6)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10, loc="left")
        ax.legend(fontsize=8, loc="upper left", ncols=2 * (len(probs) + 1))
        date_axis(ax)

    with_shock = " (grey: total shock scale exp(h/2)/√λ_t)" if shock is not None else ""
    for label, color in zip(labels, colors(len(labels))):
        scale = np.exp(stack_draws(h.sel({FACTOR: label})) / 2)
        panel(scale, color, f"{label}: volatility exp(h/2){with_shock}", label, True)
    if g is not None and SERIES in g.dims:
        ax = next(axes)
        med = np.median(np.exp(stack_draws(g.transpose(CHAIN, DRAW, TIME, SERIES)) / 2), axis=0)
        fan(ax, dates, med.T, color=IDIO_VOL_COLOR, probs=probs, label="median across series",
            band_prefix="spread ")  # fmt: skip
        ax.axhline(1, color="0.6", lw=0.6)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(IDIOSYNCRATIC)
        ax.set_title(
            "idiosyncratic volatility exp(g/2), one path per series: median across series "
            "of the posterior medians; bands: spread across series",
            fontsize=10,
            loc="left",
        )
        ax.legend(fontsize=8, loc="upper left", ncols=len(probs) + 1)
        date_axis(ax)
    elif g is not None:
        scale = np.exp(stack_draws(g.transpose(CHAIN, DRAW, TIME)) / 2)
        grey = " (grey: total exp(g/2)/√λ_t)" if shock is not None else ""
        panel(scale, IDIO_VOL_COLOR, f"common idiosyncratic volatility exp(g/2){grey}",
              IDIOSYNCRATIC, True)  # fmt: skip
    if h is None and shock is not None:
        panel(shock, SHOCK_COLOR, "common shock scale 1/√λ_t (Student-t)", "shock scale", False)
    fig.suptitle("posterior volatility: median and credible bands")
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
