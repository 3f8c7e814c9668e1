"""Plots of a Bayesian fit: data, factors, volatility, loadings, shares, dynamics, forecasts, risk.

Every function takes a :class:`bdfm.results.FitResult` and returns a
:class:`matplotlib.figure.Figure` built with the object API (no pyplot state, no
global ``rcParams`` changes, nothing shown): save it with ``fig.savefig`` or let
a notebook display it. Figures are 12.8 in wide at 100 dpi — 1280 px — and grow
in height with the number of series or factors; with many series the labels get
smaller and, past :data:`MAX_LABELS`, only every few series is labelled.

Credible bands are equal-tailed posterior intervals over all chains and draws
(``probs=(0.5, 0.9)``: the 50% and 90% bands).

The modules, one job each:

- :mod:`bdfm.report.plots.data` — the series and their missing values;
- :mod:`bdfm.report.plots.posterior` — factors, volatility paths, loadings, variance decomposition;
- :mod:`bdfm.report.plots.dynamics` — impulse responses and persistence of the factor VAR
  (the numerics too: :func:`impulse_responses`, :func:`spectral_radius`, :func:`half_life`);
- :mod:`bdfm.report.plots.predictive` — forecast fan charts and portfolio risk;
- :mod:`bdfm.report.plots.backtest` — VaR backtests with their violations;
- :mod:`bdfm.report.plots._layout` — what they share (figure size, labels, colours, bands).
"""

from bdfm.report.plots._layout import DPI, MAX_HEIGHT, MAX_LABELS, PROBS, WIDTH
from bdfm.report.plots.backtest import plot_backtest
from bdfm.report.plots.data import plot_data_overview
from bdfm.report.plots.dynamics import (
    half_life,
    impulse_responses,
    plot_impulse_responses,
    spectral_radius,
)
from bdfm.report.plots.posterior import (
    plot_factors,
    plot_loadings,
    plot_variance_decomposition,
    plot_volatility,
)
from bdfm.report.plots.predictive import plot_forecast, plot_risk, resolve_weights

__all__ = [
    "DPI",
    "MAX_HEIGHT",
    "MAX_LABELS",
    "PROBS",
    "WIDTH",
    "half_life",
    "impulse_responses",
    "plot_backtest",
    "plot_data_overview",
    "plot_factors",
    "plot_forecast",
    "plot_impulse_responses",
    "plot_loadings",
    "plot_risk",
    "plot_variance_decomposition",
    "plot_volatility",
    "resolve_weights",
    "spectral_radius",
]
