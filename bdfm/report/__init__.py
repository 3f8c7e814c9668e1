"""The self-contained HTML report (:mod:`bdfm.report.html`), its figures
(:mod:`bdfm.report.plots`) and the ``fit.plot`` accessor (:mod:`bdfm.report.accessor`).

Importing this package does not import matplotlib; the figures' modules do, when used.
"""

from __future__ import annotations

import importlib

__all__ = ["build_report", "plots"]


def __getattr__(name: str):
    if name == "build_report":
        return importlib.import_module("bdfm.report.html").build_report
    if name == "plots":
        return importlib.import_module("bdfm.report.plots")
    raise AttributeError(f"module 'bdfm.report' has no attribute {name!r}")
