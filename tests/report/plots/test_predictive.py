"""bdfm.report.plots.predictive: forecast fan charts and portfolio risk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bdfm.report import plots
from tests.conftest import SMALL_N_FACTORS as N_FACTORS
from tests.conftest import SMALL_N_SERIES as N_SERIES
from tests.report.plots.conftest import check_figure


def test_forecast(fit):
    forecast = fit.forecast(steps=5, random_seed=2)
    fig = fit.plot.forecast(forecast, series=["y1", "y6", "y8"])
    check_figure(fig, 3)
    assert [ax.get_title() for ax in fig.axes] == ["y1", "y6", "y8"]
    median = fig.axes[1].get_lines()[1]
    assert len(median.get_xdata()) == 3 + 5  # the ragged end is nowcast, then 5 steps
    with pytest.raises(ValueError, match="unknown series"):
        fit.plot.forecast(forecast, series=["nope"])


def test_risk(fit):
    weights = pd.DataFrame(
        [np.full(N_SERIES, 1 / N_SERIES), np.eye(N_SERIES)[0]],
        index=["equal", "first"],
        columns=[f"y{i + 1}" for i in range(N_SERIES)],
    )
    risk = fit.risk(weights, alpha=(0.9, 0.99))
    fig = fit.plot.risk(risk, portfolio="first")
    check_figure(fig, 4)
    vol_ax, var_ax, es_ax, contrib_ax = fig.axes
    assert vol_ax.get_title() == "volatility"
    assert len(var_ax.patches) == 2 * 40 and len(es_ax.patches) == 2 * 40  # two levels
    assert len(contrib_ax.patches) == N_FACTORS + 1
    total = sum(p.get_width() for p in contrib_ax.patches)
    vol = risk.draws["volatility"].sel(portfolio="first").mean().item()
    assert total == pytest.approx(vol)  # Euler contributions add up to the volatility
    assert "first" in fig.get_suptitle()
    check_figure(fit.plot.risk(), 4)  # equal weights by default
    with pytest.raises(ValueError, match="equal"):
        plots.resolve_weights(fit, "unequal")
