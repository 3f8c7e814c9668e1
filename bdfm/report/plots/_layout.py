"""What every plot shares: figure size, labels, colours, bands.

Figures are :data:`WIDTH` in wide at :data:`DPI` dpi (1280 px), built with the
object API (no pyplot state, no ``rcParams`` changes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure

from bdfm.dims import IDIOSYNCRATIC

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH = 12.8  # inches: 1280 px at DPI
DPI = 100
MAX_LABELS = 120  # series labels shown on one axis before thinning
MAX_HEIGHT = 20.0  # inches: 2000 px
PROBS = (0.5, 0.9)
IDIO_COLOR = "#b0b0b0"
DATA_COLOR = "#1f3b73"


def figure(height: float) -> Figure:
    """A 1280 px wide figure (not registered with pyplot) with constrained layout."""
    return Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")


def rows_height(n_rows: int, per_row: float = 0.16, base: float = 1.6) -> float:
    """Figure height in inches for ``n_rows`` labelled rows (3 in to :data:`MAX_HEIGHT`)."""
    return float(np.clip(base + per_row * n_rows, 3.0, MAX_HEIGHT))


def label_fontsize(n: int) -> float:
    """Tick-label size that keeps ``n`` labels on one axis legible."""
    return 9.0 if n <= 30 else 8.0 if n <= 60 else 7.0


def label_axis(ax: Axes, labels: Sequence[str], axis: str = "y") -> None:
    """Label category ticks ``0..n-1``, thinning to at most :data:`MAX_LABELS`."""
    n = len(labels)
    step = max(1, math.ceil(n / MAX_LABELS))
    ticks = np.arange(0, n, step)
    names = [str(labels[i]) for i in ticks]
    size = label_fontsize(min(n, MAX_LABELS))
    if axis == "y":
        ax.set_yticks(ticks, names, fontsize=size)
    else:
        ax.set_xticks(ticks, names, fontsize=size, rotation=90 if n > 12 else 0)


def colors(n: int) -> list:
    """``n`` distinct colours (tab10, or tab20 beyond ten)."""
    cmap = mpl.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def source_colors(sources: Sequence[str]) -> list:
    """One colour per factor source, grey for the idiosyncratic one."""
    palette = iter(colors(sum(s != IDIOSYNCRATIC for s in sources)))
    return [IDIO_COLOR if s == IDIOSYNCRATIC else next(palette) for s in sources]


def quantiles(draws: np.ndarray, probs: Sequence[float]) -> dict[float, tuple]:
    """Equal-tailed ``(lower, upper)`` interval over axis 0 for every probability (NaN skipped)."""
    return {p: tuple(np.nanquantile(draws, [(1 - p) / 2, (1 + p) / 2], axis=0)) for p in probs}


def fan(
    ax: Axes,
    x: Sequence | np.ndarray,
    draws: np.ndarray,
    *,
    color: str | tuple,
    probs: Sequence[float] = PROBS,
    center: str = "median",
    label: str | None = None,
    band_prefix: str = "",
) -> None:
    """Nested bands (widest palest) and the median or mean of ``draws`` (S, T) over S.

    The bands are labelled ``f"{band_prefix}{p:.0%}"`` (``"90%"`` by default).
    """
    bands = quantiles(draws, probs)
    for i, p in enumerate(sorted(probs, reverse=True)):
        lo, hi = bands[p]
        ax.fill_between(
            x, lo, hi, color=color, alpha=0.18 + 0.17 * i, lw=0, label=f"{band_prefix}{p:.0%}"
        )
    mid = np.nanmedian(draws, axis=0) if center == "median" else np.nanmean(draws, axis=0)
    ax.plot(x, mid, color=color, lw=1.6, label=label or center)


def date_axis(ax: Axes) -> None:
    """Concise date ticks (at most 12) on the x axis."""
    locator = mdates.AutoDateLocator(maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
