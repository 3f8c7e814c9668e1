"""Turn a user's DataFrame into a validated :class:`Panel` (values, mask, coords, scaling).

Validation runs once and collects *every* problem into one ``ValueError`` whose
message names the offending columns/rows and says how to fix them. Missing
values (NaN) are data, not errors: they are carried as a boolean mask.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Panel", "Scaling", "prepare_panel", "validate_frame"]

_MAX_LISTED = 5


@dataclass(frozen=True)
class Scaling:
    """Affine map from model units to original units: ``original = mean + scale * model``."""

    mean: np.ndarray
    scale: np.ndarray

    def to_original(self, values: np.ndarray) -> np.ndarray:
        """Model units -> original units (last axis = series)."""
        return self.mean + self.scale * values

    def to_model(self, values: np.ndarray) -> np.ndarray:
        """Original units -> model units (last axis = series)."""
        return (values - self.mean) / self.scale


@dataclass(frozen=True)
class Panel:
    """A validated panel of time series.

    Attributes
    ----------
    values : (T, N) float array in model units; NaN where missing.
    mask : (T, N) bool array, True where observed.
    index : the dates (DatetimeIndex).
    columns : the series names.
    scaling : :class:`Scaling` back to original units.
    original : (T, N) float array, the data exactly as given (NaN where missing): what a
        saved fit stores, so a reloaded or refitted model sees the very same numbers.
    """

    values: np.ndarray
    mask: np.ndarray
    index: pd.DatetimeIndex
    columns: pd.Index
    scaling: Scaling
    original: np.ndarray

    @property
    def n_time(self) -> int:
        return self.values.shape[0]

    @property
    def n_series(self) -> int:
        return self.values.shape[1]

    def log_jacobian(self) -> np.ndarray:
        """Per time point, log |d model / d original| of the observed values, shape (T,).

        Add it to a log density of the model-unit values to get the density of the
        values in original units: ``-sum_i mask[t, i] * log(scale_i)``.
        """
        return -(self.mask @ np.log(self.scaling.scale))

    @property
    def filled(self) -> np.ndarray:
        """Values with missing entries set to zero (always used with :attr:`mask`)."""
        return np.ascontiguousarray(np.where(self.mask, self.values, 0.0))


def _listing(items) -> str:
    items = [str(i) for i in items]
    extra = len(items) - _MAX_LISTED
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" (and {extra} more)" if extra > 0 else "")


def _dates(idx) -> str:
    return _listing(pd.Index(idx).map(lambda d: d.date() if hasattr(d, "date") else d))


def validate_frame(data: object, min_time: int = 3) -> pd.DataFrame:
    """Check a DataFrame for everything bdfm cannot model; return it with a DatetimeIndex.

    Raises
    ------
    TypeError
        If ``data`` is not a pandas DataFrame.
    ValueError
        Listing every problem found (non-numeric or duplicated columns, ±inf,
        constant or all-missing series, duplicated or unsorted dates, fewer than
        two series, too few time points).
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"data must be a pandas DataFrame (dates x series), got {type(data).__name__}; "
            "build one with pd.DataFrame(values, index=pd.DatetimeIndex(dates), columns=names)"
        )
    problems: list[str] = []
    index = data.index
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    elif not isinstance(index, pd.DatetimeIndex):
        try:
            if pd.api.types.is_numeric_dtype(index.dtype):
                raise TypeError("numbers are not dates")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas' "could not infer format"
                index = pd.DatetimeIndex(pd.to_datetime(index))
        except (TypeError, ValueError, OverflowError):
            problems.append(
                f"the index must hold dates, got {type(data.index).__name__} with values like "
                f"{_listing(data.index[:3])}; set a date column as index: "
                "df.set_index(pd.to_datetime(df['date']))"
            )
            index = None
    if index is not None:
        if index.hasnans:
            problems.append("the date index contains missing dates (NaT); drop those rows")
        dup = index[index.duplicated()].unique()
        if len(dup):
            problems.append(
                f"duplicated dates: {_dates(dup)}; aggregate or drop them "
                "(e.g. df[~df.index.duplicated(keep='last')])"
            )
        elif not index.is_monotonic_increasing:
            bad = np.flatnonzero(np.diff(index.asi8) < 0) + 1
            problems.append(
                f"dates are not sorted (first out of order at row(s) {_listing(bad)}: "
                f"{_dates(index[bad])}); sort them with df.sort_index()"
            )
    dup_cols = data.columns[data.columns.duplicated()].unique()
    if len(dup_cols):
        problems.append(f"duplicated column names: {_listing(dup_cols)}; rename them")
    non_numeric = [
        f"{c!r} ({data[c].dtype})" if not isinstance(data[c], pd.DataFrame) else repr(c)
        for c in data.columns.unique()
        if isinstance(data[c], pd.DataFrame)
        or not (pd.api.types.is_numeric_dtype(data[c]) and not pd.api.types.is_bool_dtype(data[c]))
    ]
    if non_numeric:
        problems.append(
            f"non-numeric column(s): {_listing(non_numeric)}; drop them or convert with "
            "pd.to_numeric(df[col], errors='coerce') (unparseable entries become NaN = missing)"
        )
    numeric_cols = [
        c
        for c in data.columns.unique()
        if not isinstance(data[c], pd.DataFrame)
        and pd.api.types.is_numeric_dtype(data[c])
        and not pd.api.types.is_bool_dtype(data[c])
    ]
    if numeric_cols:
        values = data[numeric_cols].to_numpy(dtype=float)
        inf = np.isinf(values)
        if inf.any():
            rows = []
            for j in np.flatnonzero(inf.any(axis=0)):
                where = np.flatnonzero(inf[:, j])
                when = _dates(data.index[where]) if index is not None else _listing(where)
                rows.append(f"{numeric_cols[j]!r} at {when}")
            problems.append(
                f"infinite values in {_listing(rows)}; replace them with NaN (missing) or "
                "fix the computation that produced them (e.g. log of zero prices)"
            )
        finite = np.where(np.isfinite(values), values, np.nan)
        n_obs = np.sum(~np.isnan(finite), axis=0)
        empty = [numeric_cols[j] for j in np.flatnonzero(n_obs == 0)]
        if empty:
            problems.append(f"series entirely missing: {_listing(map(repr, empty))}; drop them")
        constant = [
            numeric_cols[j]
            for j in range(len(numeric_cols))
            if n_obs[j] > 0 and np.ptp(finite[~np.isnan(finite[:, j]), j]) == 0
        ]
        if constant:
            problems.append(
                f"constant series (no variation to explain): {_listing(map(repr, constant))}; drop them"
            )
    if data.shape[1] < 2:
        problems.append(f"a factor model needs at least 2 series, got {data.shape[1]}; add series")
    if data.shape[0] < min_time:
        problems.append(
            f"too few time points: {data.shape[0]} (need at least {min_time} for this model)"
        )
    if problems:
        raise ValueError("Invalid data for bdfm:\n- " + "\n- ".join(problems))
    out = data.copy()
    out.index = index
    return out


def prepare_panel(
    data: pd.DataFrame,
    standardize: bool = True,
    min_time: int = 3,
    scaling: Scaling | None = None,
) -> Panel:
    """Validate ``data`` and build a :class:`Panel`.

    With ``standardize=True`` each series is demeaned and divided by its standard
    deviation (over its observed points, divisor n); otherwise the data are used as
    given (no intercept). A given ``scaling`` (e.g. a fit's, from its training
    window) is used as it is instead, so later data are in that fit's model units.
    """
    frame = validate_frame(data, min_time=min_time)
    raw = np.ascontiguousarray(frame.to_numpy(dtype=float))  # row-major: time x series
    mask = ~np.isnan(raw)
    n = raw.shape[1]
    if scaling is not None:
        mean = np.asarray(scaling.mean, dtype=float)
        scale = np.asarray(scaling.scale, dtype=float)
        if mean.shape != (n,) or scale.shape != (n,):
            raise ValueError(
                f"scaling is for {mean.shape[0]} series but the data have {n}; "
                "pass data with the same columns as the fit"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("scaling must have finite means and positive finite scales")
    elif standardize:
        mean = np.nanmean(raw, axis=0)
        scale = np.nanstd(raw, axis=0)
    else:
        mean = np.zeros(n)
        scale = np.ones(n)
    values = np.ascontiguousarray((raw - mean) / scale)
    values.flags.writeable = False
    mask.flags.writeable = False
    raw.flags.writeable = False
    return Panel(
        values=values,
        mask=mask,
        index=pd.DatetimeIndex(frame.index),
        columns=frame.columns,
        scaling=Scaling(mean=mean, scale=scale),
        original=raw,
    )
