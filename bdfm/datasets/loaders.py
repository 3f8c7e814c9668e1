"""Loaders for the datasets shipped inside the package."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["describe", "list_datasets", "load", "log_returns"]


@dataclass(frozen=True)
class _Dataset:
    filename: str
    description: str
    kind: str  # "prices" or "returns"


_DATASETS = {
    "sp500_prices": _Dataset(
        "sp500_dataset.csv.gz",
        "Daily adjusted closing prices of 20 large S&P 500 constituents, 1990-01-02 to "
        "2022-12-28 (8313 days). From the BSD-3-licensed package skfolio "
        "(skfolio/datasets/data/sp500_dataset.csv.gz); licence in LICENSE.skfolio. "
        "Stale sample data for testing and examples, not for investment use.",
        "prices",
    ),
    "sp500_returns": _Dataset(
        "sp500_dataset.csv.gz",
        "Daily log returns in percent (100 x diff log price) of the 20 S&P 500 stocks of "
        "'sp500_prices', 1990-01-03 to 2022-12-28.",
        "returns",
    ),
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load`."""
    return sorted(_DATASETS)


def _get(name: str) -> _Dataset:
    if name not in _DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {list_datasets()}")
    return _DATASETS[name]


def describe(name: str) -> str:
    """Provenance, licence and content of a bundled dataset."""
    return _get(name).description


def log_returns(prices: pd.DataFrame, percent: bool = True) -> pd.DataFrame:
    """Log returns ``log(p_t / p_{t-1})`` (x100 if ``percent``); the first row is dropped.

    Non-positive prices are an error (their log is undefined).
    """
    if (prices <= 0).any().any():
        bad = prices.columns[(prices <= 0).any()].tolist()
        raise ValueError(f"non-positive prices in {bad}: log returns are undefined")
    out = np.log(prices).diff().iloc[1:]
    return out * 100.0 if percent else out


def load(name: str = "sp500_returns") -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame with a DatetimeIndex.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    """
    ds = _get(name)
    with resources.files("bdfm.datasets.data").joinpath(ds.filename).open("rb") as fh:
        prices = pd.read_csv(fh, compression="gzip", index_col=0, parse_dates=True)
    prices.index = pd.DatetimeIndex(prices.index, name="date")
    prices.columns.name = "series"
    if ds.kind == "returns":
        return log_returns(prices)
    return prices
