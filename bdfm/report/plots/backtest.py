"""VaR backtests: realised returns against the one-step VaR and ES, violations marked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from bdfm.report.plots._layout import DATA_COLOR, date_axis, figure

if TYPE_CHECKING:
    from bdfm.posterior.backtest import BacktestResult

VIOLATION_COLOR = "#c0392b"
VAR_COLOR = "#e08a00"


def _label(key) -> str:
    if isinstance(key, tuple):
        return f"{key[0]}, {key[1]:.1%}"
    return str(key)


def plot_backtest(
    result: BacktestResult | Mapping[object, BacktestResult], *, max_panels: int = 4
) -> Figure:
    """Realised portfolio returns with the one-step VaR and ES, violations marked.

    Parameters
    ----------
    result : BacktestResult, or a mapping of them (as ``bdfm.backtest_var`` returns for
        several portfolios or levels; keyed ``(portfolio, alpha)``)
    max_panels : int
        Panels drawn from a mapping (the first ones, in its order).

    Returns
    -------
    Figure
        One panel per backtest: the realised return (line), minus the VaR and minus the
        ES (the loss thresholds, so a return below the VaR line is a violation), the
        violations as red dots, the refit dates as ticks on the top edge; the title gives
        the violation rate against its target and the Kupiec and Christoffersen
        independence p-values.
    """
    items = list(result.items())[:max_panels] if isinstance(result, Mapping) else [(None, result)]
    if not items:
        raise ValueError("no backtest to plot")
    fig = figure(2.6 * len(items) + 0.6)
    axes = fig.subplots(len(items), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (key, bt) in zip(axes, items, strict=True):
        frame = bt.frame
        ax.plot(frame.index, frame["return"], color=DATA_COLOR, lw=0.6, label="return")
        ax.plot(frame.index, -frame["var"], color=VAR_COLOR, lw=1.0, label="−VaR")
        ax.plot(frame.index, -frame["es"], color=VAR_COLOR, lw=0.8, ls="--", label="−ES")
        hits = frame[frame["violation"].astype(bool)]
        ax.scatter(hits.index, hits["return"], color=VIOLATION_COLOR, s=14, zorder=3,
                   label="violation")  # fmt: skip
        for d in bt.refits:
            ax.axvline(d, ymin=0.96, ymax=1.0, color="0.4", lw=0.8)
        ev = frame.dropna(subset=["return"])
        lr = bt.christoffersen()
        name = _label(key) if key is not None else f"{bt.alpha:.1%}"
        ax.set_title(
            f"{name}: {len(hits)} violations in {len(ev)} dates ({bt.violation_rate:.2%}, "
            f"target {1 - bt.alpha:.2%}); Kupiec p {lr['unconditional'].p_value:.3g}, "
            f"independence p {lr['independence'].p_value:.3g}",
            fontsize=10,
        )
        low = np.nanmin(np.r_[frame["return"].to_numpy(), -frame["es"].to_numpy()])
        ax.set_ylim(bottom=1.1 * low)
        date_axis(ax)
    axes[0].legend(loc="upper left", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"One-step VaR backtest ({items[0][1].method}, refits marked on top)")
    return fig
