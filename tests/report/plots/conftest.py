"""Shared by the plot tests: the small sampled fit, figure checks, no pyplot leaks."""

from __future__ import annotations

import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure


@pytest.fixture(scope="module")
def fit(small_ar1_fit):
    return small_ar1_fit


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    """The plots never register figures with pyplot (nothing to close, nothing leaks)."""
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def check_figure(fig, n_axes: int) -> None:
    """A Figure with ``n_axes`` axes, 1280 px wide, that renders without warnings."""
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    assert fig.get_size_inches()[0] * fig.dpi == pytest.approx(1280)
    fig.canvas.draw()  # renders without error (or warning: pytest turns those into errors)


def bands(ax) -> list:
    """The credible bands (filled polygons) of an axes."""
    return [c for c in ax.collections if isinstance(c, PolyCollection)]
