"""``fit.plot``: the report's figures as an accessor on a fit, in the style of pandas' ``df.plot``.

``fit.plot.factors()`` is :func:`bdfm.report.plots.plot_factors` applied to ``fit``;
each method is a one-line delegation, and matplotlib is imported on the first figure.
"""

from __future__ import annotations

import importlib
from typing import Any


def _plots():
    return importlib.import_module("bdfm.report.plots")


class PlotAccessor:
    """The figures of :mod:`bdfm.report.plots` for one fit; each returns a matplotlib Figure."""

    def __init__(self, fit: Any) -> None:
        self._fit = fit

    def data_overview(self, **kwargs):
        """The series over time and the missing values; :func:`~bdfm.report.plots.plot_data_overview`."""
        return _plots().plot_data_overview(self._fit, **kwargs)

    def factors(self, **kwargs):
        """Posterior factors with credible bands; :func:`~bdfm.report.plots.plot_factors`."""
        return _plots().plot_factors(self._fit, **kwargs)

    def volatility(self, **kwargs):
        """Posterior volatility paths with credible bands; :func:`~bdfm.report.plots.plot_volatility`."""
        return _plots().plot_volatility(self._fit, **kwargs)

    def loadings(self, **kwargs):
        """Heatmaps of the loadings and their intervals; :func:`~bdfm.report.plots.plot_loadings`."""
        return _plots().plot_loadings(self._fit, **kwargs)

    def variance_decomposition(self, *args, **kwargs):
        """Variance shares by source; :func:`~bdfm.report.plots.plot_variance_decomposition`."""
        return _plots().plot_variance_decomposition(self._fit, *args, **kwargs)

    def impulse_responses(self, **kwargs):
        """Impulse responses of the factor VAR; :func:`~bdfm.report.plots.plot_impulse_responses`."""
        return _plots().plot_impulse_responses(self._fit, **kwargs)

    def forecast(self, *args, **kwargs):
        """Fan charts of forecasts; :func:`~bdfm.report.plots.plot_forecast`."""
        return _plots().plot_forecast(self._fit, *args, **kwargs)

    def risk(self, *args, **kwargs):
        """Portfolio volatility, VaR, ES and risk by source; :func:`~bdfm.report.plots.plot_risk`."""
        return _plots().plot_risk(self._fit, *args, **kwargs)


class Accessor:
    """A descriptor: ``obj.<name>`` is ``cls(obj)``, built once per object and cached."""

    def __init__(self, name: str, cls: type) -> None:
        self._name = name
        self._cls = cls

    def __get__(self, obj, owner=None):
        if obj is None:
            return self._cls
        cache = obj.__dict__.setdefault("_accessors", {})
        if self._name not in cache:
            cache[self._name] = self._cls(obj)
        return cache[self._name]
