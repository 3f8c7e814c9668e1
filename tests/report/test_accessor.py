"""fit.plot: one accessor per fit, each figure the same as the plot function's."""

from __future__ import annotations

import inspect

import pytest

import bdfm
from bdfm.report import plots
from bdfm.report.accessor import Accessor, PlotAccessor
from bdfm.results import FitResult


def test_the_accessor_is_attached_and_cached(small_ar1_fit):
    assert isinstance(vars(FitResult)["plot"], Accessor)
    assert FitResult.plot is PlotAccessor
    assert small_ar1_fit.plot is small_ar1_fit.plot
    assert isinstance(small_ar1_fit.plot, PlotAccessor)


def test_every_plot_function_has_an_accessor_method():
    names = {n.removeprefix("plot_") for n in plots.__all__ if n.startswith("plot_")}
    methods = {n for n, _ in inspect.getmembers(PlotAccessor, inspect.isfunction)}
    # plot_backtest draws a BacktestResult, not a fit: it is BacktestResult.plot
    assert names - {"backtest"} <= methods
    import bdfm

    assert bdfm.BacktestResult.plot is plots.plot_backtest


def test_accessor_draws_what_the_function_draws(small_ar1_fit, monkeypatch):
    calls = []

    def fake(fit, **kwargs):
        calls.append((fit, kwargs))
        return "figure"

    monkeypatch.setattr(plots, "plot_factors", fake)
    assert small_ar1_fit.plot.factors(probs=(0.8,)) == "figure"
    assert calls == [(small_ar1_fit, {"probs": (0.8,)})]


def test_import_of_the_report_package_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, bdfm.report, bdfm.report.accessor; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_report_attribute():
    with pytest.raises(AttributeError, match="nope"):
        bdfm.report.nope  # noqa: B018
