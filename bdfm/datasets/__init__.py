"""Datasets bundled with bdfm (no downloads), their transformations and a crypto-like simulator.

Provenance and licences: ``bdfm/datasets/data/README.md`` and :func:`describe`.
"""

from bdfm.datasets.loaders import describe, list_datasets, load, log_returns, series_info
from bdfm.datasets.simulate_crypto import simulate_crypto_panel
from bdfm.datasets.transforms import TCODES, fred_md_transform, mask_outliers

__all__ = [
    "TCODES",
    "describe",
    "fred_md_transform",
    "list_datasets",
    "load",
    "log_returns",
    "mask_outliers",
    "series_info",
    "simulate_crypto_panel",
]
