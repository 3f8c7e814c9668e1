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


def fake_volatility_fit(
    *,
    factor: bool | str = True,
    idio: str = "common_sv",
    student_t: bool = True,
    n_factors: int = 2,
    n_series: int = 5,
    n_time: int = 30,
    seed: int = 0,
):
    """A stand-in for a fit with volatility paths: ``posterior`` and ``model.spec`` only (no MCMC).

    Holds what a sampled fit with these options holds: ``factor_log_var`` (chain, draw,
    time, factor) and ``factor_sv_phi``/``_sd`` (factor SV), ``idio_log_var`` and
    ``idio_sv_phi``/``_sd`` (common: no series dim; ``"sv"``: per series) and ``tail_scale``,
    ``tails_nu`` (Student-t); 2 chains of 40 draws. ``factor="garch"``: the factor path
    with ``factor_garch_alpha``/``_gamma``/``_beta`` instead of the SV parameters.
    """
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd
    import xarray as xr

    from bdfm.dims import CHAIN, DRAW, FACTOR, SERIES, TIME, factor_labels
    from bdfm.spec import DFMSpec

    rng = np.random.default_rng(seed)
    chains, draws = 2, 40
    cd = (CHAIN, DRAW)
    coords = {
        CHAIN: np.arange(chains),
        DRAW: np.arange(draws),
        TIME: pd.date_range("2021-01-04", periods=n_time, freq="B"),
        FACTOR: factor_labels(n_factors),
        SERIES: [f"y{i}" for i in range(n_series)],
    }

    def path(*shape):  # persistent log-variance-like paths over time (axis 2)
        return 0.3 * np.cumsum(rng.normal(size=(chains, draws, n_time, *shape)), axis=2)

    data = {}
    if factor == "garch":
        data["factor_log_var"] = ((*cd, TIME, FACTOR), path(n_factors))
        for name, lo, hi in (("alpha", 0.02, 0.1), ("gamma", 0.0, 0.1), ("beta", 0.8, 0.85)):
            draws_ = rng.uniform(lo, hi, (chains, draws, n_factors))
            data[f"factor_garch_{name}"] = ((*cd, FACTOR), draws_)
    elif factor:
        data["factor_log_var"] = ((*cd, TIME, FACTOR), path(n_factors))
        data["factor_sv_phi"] = ((*cd, FACTOR), rng.uniform(0.85, 0.99, (chains, draws, n_factors)))
        data["factor_sv_sd"] = ((*cd, FACTOR), rng.uniform(0.1, 0.4, (chains, draws, n_factors)))
    if idio == "common_sv":
        data["idio_log_var"] = ((*cd, TIME), path())
        data["idio_sv_phi"] = (cd, rng.uniform(0.85, 0.99, (chains, draws)))
        data["idio_sv_sd"] = (cd, rng.uniform(0.1, 0.4, (chains, draws)))
    elif idio == "sv":
        data["idio_log_var"] = ((*cd, TIME, SERIES), path(n_series))
        data["idio_sv_phi"] = ((*cd, SERIES), rng.uniform(0.85, 0.99, (chains, draws, n_series)))
        data["idio_sv_sd"] = ((*cd, SERIES), rng.uniform(0.1, 0.4, (chains, draws, n_series)))
    if student_t:
        data["tail_scale"] = ((*cd, TIME), rng.gamma(3.0, 1 / 3.0, (chains, draws, n_time)))
        data["tails_nu"] = (cd, 2 + rng.gamma(2.0, 3.0, (chains, draws)))
    spec = DFMSpec(
        n_factors=n_factors,
        factor_volatility=factor if isinstance(factor, str) else ("sv" if factor else "constant"),
        idio_volatility=idio,
        tails="student_t" if student_t else "normal",
    )
    return SimpleNamespace(
        posterior=xr.Dataset(data, coords=coords), model=SimpleNamespace(spec=spec)
    )
