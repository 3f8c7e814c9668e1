"""What the fit predicts: forecast fan charts and the risk of a portfolio."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from bdfm.dims import ALPHA, CHAIN, DRAW, PORTFOLIO, SERIES, SOURCE, TIME
from bdfm.draws import stack_draws
from bdfm.posterior.forecast import forecast_fit
from bdfm.posterior.risk import risk_fit
from bdfm.report.plots._layout import (
    DATA_COLOR,
    MAX_HEIGHT,
    PROBS,
    colors,
    date_axis,
    fan,
    figure,
    quantiles,
    source_colors,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bdfm.posterior.forecast import Forecast
    from bdfm.posterior.risk import RiskResult, Weights
    from bdfm.results import FitResult


def plot_forecast(
    fit: FitResult,
    forecast: Forecast | None = None,
    *,
    steps: int = 20,
    series: Sequence[str] | None = None,
    max_series: int = 4,
    history: int = 60,
    probs: Sequence[float] = PROBS,
    random_seed: int | None = None,
) -> Figure:
    """Fan charts: recent data and the posterior predictive forecast of a few series.

    Values missing at the end of the sample (a ragged edge) are shown nowcast,
    with their bands, before the forecast (dashed line: the first forecast date).

    Parameters
    ----------
    fit : FitResult
    forecast : Forecast, optional
        A result of ``fit.forecast``; default ``fit.forecast(steps, random_seed=...)``.
    steps : int
        Forecast horizon when ``forecast`` is not given.
    series : sequence of str, optional
        Series to show; default the first ``max_series``.
    max_series : int
    history : int
        Number of most recent observations drawn before the forecast.
    probs : sequence of float
    random_seed : int, optional

    Returns
    -------
    Figure
        One axis per series (two columns), in original units.
    """
    if forecast is None:
        forecast = forecast_fit(fit, steps=steps, random_seed=random_seed)
    y = forecast.draws["y"]
    nowcast = getattr(forecast, "nowcast", None)
    if nowcast is not None and nowcast.sizes[TIME]:  # values missing at the end: nowcast first
        y = xr.concat([nowcast["y"], y], dim=TIME)
    y = y.transpose(CHAIN, DRAW, TIME, SERIES)
    observed = fit.idata.observed_data["y"].transpose(TIME, SERIES)
    names = list(series) if series is not None else [str(s) for s in y[SERIES].values][:max_series]
    unknown = sorted(set(names) - {str(s) for s in y[SERIES].values})
    if unknown:
        raise ValueError(f"unknown series {unknown}; the forecast has {list(y[SERIES].values)}")
    ncols = 1 if len(names) == 1 else 2
    nrows = math.ceil(len(names) / ncols)
    fig = figure(min(3.0 * nrows + 0.5, MAX_HEIGHT))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    future = pd.DatetimeIndex(y[TIME].values)
    start = pd.DatetimeIndex(forecast.draws[TIME].values)[0]
    for ax, name in zip(axes, names):
        past = observed.sel({SERIES: name})[-history:]
        ax.plot(pd.DatetimeIndex(past[TIME].values), past.values, color="black", lw=1, label="data")
        fan(ax, future, stack_draws(y.sel({SERIES: name})), color=DATA_COLOR, probs=probs)
        ax.axvline(start, color="0.6", lw=0.6, ls="--")
        ax.set_title(name, fontsize=10)
        date_axis(ax)
    for ax in axes[len(names) :]:
        ax.remove()
    axes[0].legend(fontsize=8, loc="upper left", ncols=len(probs) + 2)
    return fig


def resolve_weights(fit: FitResult, weights: str | Weights) -> Weights:
    """Portfolio weights for ``fit.risk``: ``"equal"`` becomes 1/N on every series.

    Other weights are returned as they are.

    Raises
    ------
    ValueError
        ``weights`` is a string other than ``"equal"``.
    """
    if isinstance(weights, str):
        if weights != "equal":
            raise ValueError(f"weights must be 'equal', a Series or a DataFrame, got {weights!r}")
        names = [str(s) for s in fit.posterior[SERIES].values]
        return pd.Series(1.0 / len(names), index=names, name="equal weights")
    return weights


def _hist_by_alpha(ax: Axes, da: xr.DataArray, title: str) -> None:
    """Overlaid posterior histograms of a VaR or ES, one per confidence level."""
    for a, color in zip(da[ALPHA].values, colors(da.sizes[ALPHA])):
        values = stack_draws(da.sel({ALPHA: a}))
        ax.hist(values, bins=40, color=color, alpha=0.55, label=f"{a:.1%}".replace(".0%", "%"))
    ax.set_title(title)
    ax.set_xlabel("loss")
    ax.legend(fontsize=8, title="level", title_fontsize=8)


def plot_risk(
    fit: FitResult,
    risk: RiskResult | None = None,
    *,
    weights: str | Weights = "equal",
    portfolio: str | None = None,
    prob: float = 0.9,
    **kwargs,
) -> Figure:
    """Posterior distributions of a portfolio's volatility, VaR and ES, and risk by source.

    Parameters
    ----------
    fit : FitResult
    risk : RiskResult, optional
        A result of ``fit.risk``; default ``fit.risk(weights, **kwargs)``.
    weights : "equal", Series or DataFrame
        Portfolio weights when ``risk`` is not given (``"equal"``: 1/N each).
    portfolio : str, optional
        Which portfolio to show when there are several; default the first.
    prob : float
        Probability of the intervals drawn on the contributions.
    **kwargs
        Passed on to ``fit.risk`` (``alpha``, ``horizon``, ``method``, ...).

    Returns
    -------
    Figure
        Three histograms (volatility; VaR and ES at every level, positive =
        loss) and the Euler contributions of every source to the volatility
        (posterior mean, ``prob`` interval and share of the total).
    """
    if risk is None:
        risk = risk_fit(fit, resolve_weights(fit, weights), **kwargs)
    draws = risk.draws
    name = portfolio if portfolio is not None else draws[PORTFOLIO].values[0]
    one = draws.sel({PORTFOLIO: name})
    fig = figure(7.0)
    grid = fig.add_gridspec(2, 3, height_ratios=[1.0, 1.1])
    ax_vol = fig.add_subplot(grid[0, 0])
    ax_vol.hist(stack_draws(one["volatility"]), bins=40, color=DATA_COLOR, alpha=0.8)
    ax_vol.set_title("volatility")
    ax_vol.set_ylabel("draws")
    _hist_by_alpha(fig.add_subplot(grid[0, 1]), one["var"], "value at risk")
    _hist_by_alpha(fig.add_subplot(grid[0, 2]), one["es"], "expected shortfall")
    ax = fig.add_subplot(grid[1, :])
    contrib = stack_draws(one["contribution"].transpose(CHAIN, DRAW, SOURCE))
    sources = [str(s) for s in one[SOURCE].values]
    mean = contrib.mean(axis=0)
    lo, hi = quantiles(contrib, [prob])[prob]
    rows = np.arange(len(sources))
    ax.barh(rows, mean, color=source_colors(sources), height=0.6)
    ax.errorbar(mean, rows, xerr=[mean - lo, hi - mean], fmt="none", ecolor="black", capsize=3)
    ax.axvline(0, color="0.6", lw=0.6)
    shares = mean / mean.sum()
    ax.set_yticks(rows, [f"{s} ({share:.0%})" for s, share in zip(sources, shares)])
    ax.set_ylim(len(sources) - 0.5, -0.5)
    ax.set_xlabel(
        f"contribution to volatility: posterior mean, {prob:.0%} interval (share of the total)"
    )
    fig.suptitle(f"{name}: risk {risk.horizon} step(s) ahead ({risk.method})")
    return fig
