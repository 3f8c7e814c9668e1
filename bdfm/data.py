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
# |values| in [1/_SAFE_MAGNITUDE, _SAFE_MAGNITUDE] can be squared and summed over any
# realistic number of dates without overflow or underflow
_SAFE_MAGNITUDE = 1e100
_ROUNDING_LEVEL = 8 * np.finfo(float).eps  # range / max |value| at or below it: constant
_TINY = np.finfo(float).tiny  # smallest normal double; below it precision is lost
# |correlation| above 1 - this on the common dates: two series are one (up to an affine map)
_COLLINEAR_TOL = 1e-10
_COLLINEAR_SCREEN = 1e-6  # loose first pass on the one-pass moments; exact check follows


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


def _is_real_numeric(column: object) -> bool:
    return (
        not isinstance(column, pd.DataFrame)
        and pd.api.types.is_numeric_dtype(column)
        and not pd.api.types.is_bool_dtype(column)
        and not pd.api.types.is_complex_dtype(column)
    )


def _max_abs(values: np.ndarray) -> np.ndarray:
    """Largest |value| per column over the observed (non-NaN) entries; 0 where none."""
    return np.max(np.where(np.isnan(values), 0.0, np.abs(values)), axis=0, initial=0.0)


def _standardise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Demean and scale every column by its mean and std (divisor n) over observed entries.

    Robust to any magnitude of finite doubles: a column whose largest |value| lies
    outside ``[1e-100, 1e100]`` (where the squares in a variance would overflow to
    inf or underflow to 0) is first divided by that largest |value|; other columns
    are computed directly, so ordinary data give the very same numbers as
    ``nanmean``/``nanstd``. Every column must have an observed, non-constant value.

    Returns
    -------
    (standardised values, mean, scale), with ``values = mean + scale * standardised``.
    """
    out = np.empty_like(values)
    n = values.shape[1]
    mean, scale = np.empty(n), np.empty(n)
    big = _max_abs(values)
    plain = (big >= 1 / _SAFE_MAGNITUDE) & (big <= _SAFE_MAGNITUDE)
    if plain.any():
        x = values[:, plain]
        mean[plain] = np.nanmean(x, axis=0)
        scale[plain] = np.nanstd(x, axis=0)
        out[:, plain] = (x - mean[plain]) / scale[plain]
    if not plain.all():
        c = big[~plain]
        x = values[:, ~plain] / c  # in [-1, 1]
        m, sd = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
        mean[~plain], scale[~plain] = c * m, c * sd
        out[:, ~plain] = (x - m) / sd
    return out, mean, scale


def _collinear_pairs(
    values: np.ndarray, tol: float = _COLLINEAR_TOL
) -> list[tuple[int, int, float]]:
    """Pairs of columns that are proportional (up to a shift) where both are observed.

    A pair is reported when, on its common dates, ``|correlation| > 1 - tol`` and
    there are at least 3 common dates, at least half of the shorter series' (two
    points are always collinear, and a chance overlap of a few points is not a
    duplicate).

    Parameters
    ----------
    values : (T, N) float array, NaN where missing; every column observed and
        non-constant.
    tol : float
        Tolerance on ``1 - |correlation|``.

    Returns
    -------
    list of (i, j, correlation) with i < j.
    """
    z = _standardise(values)[0]
    obs = ~np.isnan(z)
    w = np.where(obs, z, 0.0)
    cross = w.T @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        if obs.all():  # standardised: zero means and unit variances on the common dates
            n = np.full(cross.shape, float(len(z)))
            corr = cross / n
        else:
            m = obs.astype(float)
            n = m.T @ m  # common dates of (i, j)
            s = w.T @ m  # s[i, j]: sum of z_i where both are observed
            var = (w * w).T @ m - s * s / n  # n * variance of z_i on the common dates
            corr = (cross - s * s.T / n) / np.sqrt(var * var.T)
    own = obs.sum(axis=0)
    enough = (n >= 3) & (2 * n >= np.minimum.outer(own, own))
    screen = np.triu(enough & (np.abs(corr) > 1 - max(_COLLINEAR_SCREEN, tol)), k=1)
    pairs = []
    for i, j in np.argwhere(screen):
        both = obs[:, i] & obs[:, j]
        a = z[both, i] - z[both, i].mean()
        b = z[both, j] - z[both, j].mean()
        denom = np.sqrt((a @ a) * (b @ b))
        if denom > 0 and 1 - abs(a @ b) / denom <= tol:
            pairs.append((int(i), int(j), float(a @ b / denom)))
    return pairs


def validate_frame(data: object, min_time: int = 3, min_time_reason: str = "") -> pd.DataFrame:
    """Check a DataFrame for everything bdfm cannot model; return it with a DatetimeIndex.

    Parameters
    ----------
    data : object
        The user's data (dates x series).
    min_time : int
        Fewest dates with at least one observation the model needs.
    min_time_reason : str
        Why (appended to the message when there are fewer).

    Raises
    ------
    TypeError
        If ``data`` is not a pandas DataFrame.
    ValueError
        Listing every problem found (non-numeric, complex or duplicated columns,
        ±inf, constant, all-missing or subnormal series, collinear pairs of series,
        duplicated or unsorted dates, fewer than two series, too few time points).
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
        elif not index.hasnans and not index.is_monotonic_increasing:
            bad = np.flatnonzero(np.diff(index.asi8) < 0) + 1
            problems.append(
                f"dates are not sorted (first out of order at row(s) {_listing(bad)}: "
                f"{_dates(index[bad])}); sort them with df.sort_index()"
            )
    dup_cols = data.columns[data.columns.duplicated()].unique()
    if len(dup_cols):
        problems.append(f"duplicated column names: {_listing(dup_cols)}; rename them")
    complex_cols = [
        c
        for c in data.columns.unique()
        if not isinstance(data[c], pd.DataFrame) and pd.api.types.is_complex_dtype(data[c])
    ]
    if complex_cols:
        problems.append(
            f"complex-valued column(s): {_listing(map(repr, complex_cols))}; bdfm models real "
            "numbers: keep the part you mean (df[col].real, .imag or abs(df[col]))"
        )
    non_numeric = [
        f"{c!r} ({data[c].dtype})" if not isinstance(data[c], pd.DataFrame) else repr(c)
        for c in data.columns.unique()
        if not _is_real_numeric(data[c]) and c not in complex_cols
    ]
    if non_numeric:
        problems.append(
            f"non-numeric column(s): {_listing(non_numeric)}; drop them or convert with "
            "pd.to_numeric(df[col], errors='coerce') (unparseable entries become NaN = missing)"
        )
    numeric_cols = [c for c in data.columns.unique() if _is_real_numeric(data[c])]
    n_dates = data.shape[0]
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
        big = _max_abs(finite)
        # constant, or varying only in the last few bits (rounding, no information)
        constant = [
            numeric_cols[j]
            for j in range(len(numeric_cols))
            if n_obs[j] > 0
            and np.ptp(finite[~np.isnan(finite[:, j]), j]) <= _ROUNDING_LEVEL * big[j]
        ]
        if constant:
            problems.append(
                "constant series (no variation to explain, or only at the level of rounding): "
                f"{_listing(map(repr, constant))}; drop them"
            )
        subnormal = [
            f"{numeric_cols[j]!r} (largest |value| {big[j]:.3g})"
            for j in np.flatnonzero((big > 0) & (big < _TINY))
        ]
        if subnormal:
            problems.append(
                f"values too small to compute with (below {_TINY:.3g}, the smallest normal "
                f"double): {_listing(subnormal)}; multiply those series by a power of ten"
            )
        good = [
            j
            for j, c in enumerate(numeric_cols)
            if n_obs[j] > 0 and c not in constant and big[j] >= _TINY
        ]
        if len(good) > 1:
            pairs = [
                f"{numeric_cols[good[i]]!r} and {numeric_cols[good[j]]!r} (correlation {r:+.12g})"
                for i, j, r in _collinear_pairs(finite[:, good])
            ]
            if pairs:
                problems.append(
                    "collinear series, one an exact multiple of the other (plus a constant) on "
                    f"their common dates: {_listing(pairs)}; they carry the same information "
                    "and leave the model unidentified: drop one of each pair"
                )
        n_dates = int(np.any(~np.isnan(finite), axis=1).sum())
    if data.shape[1] < 2:
        problems.append(f"a factor model needs at least 2 series, got {data.shape[1]}; add series")
    if n_dates < min_time:
        problems.append(
            f"too few time points: {n_dates} dates with data (need at least {min_time} for "
            f"this model{'; ' + min_time_reason if min_time_reason else ''})"
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
    min_time_reason: str = "",
) -> Panel:
    """Validate ``data`` and build a :class:`Panel`.

    With ``standardize=True`` each series is demeaned and divided by its standard
    deviation (over its observed points, divisor n; robust to any magnitude, see
    :func:`_standardise`); otherwise the data are used as given (no intercept). A
    given ``scaling`` (e.g. a fit's, from its training window) is used as it is
    instead, so later data are in that fit's model units.

    Raises
    ------
    ValueError
        As :func:`validate_frame`; and when the values in model units (unstandardised
        data, or data under a given ``scaling``) are too large or too small for the
        likelihood's arithmetic, naming the series.
    """
    frame = validate_frame(data, min_time=min_time, min_time_reason=min_time_reason)
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
        values, mean, scale = _standardise(raw)
    else:
        mean = np.zeros(n)
        scale = np.ones(n)
    if scaling is not None or not standardize:
        with np.errstate(over="ignore"):
            values = (raw - mean) / scale
        big = _max_abs(values)
        bad = (big > _SAFE_MAGNITUDE) | (big < 1 / _SAFE_MAGNITUDE) | ~np.isfinite(big)
        if bad.any():
            shown = _listing(
                f"{frame.columns[j]!r} (largest |value| {big[j]:.3g})" for j in np.flatnonzero(bad)
            )
            raise ValueError(
                f"values too extreme for the likelihood's arithmetic in model units: {shown}; "
                "the Kalman filter squares them, so they must lie well within 1e-100..1e100: "
                "use standardize=True or rescale those series (multiply by a power of ten)"
            )
    values = np.ascontiguousarray(values)
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
