r"""Stationarity transformations of macro panels: the FRED-MD transformation codes.

McCracken & Ng (2016, "FRED-MD: A Monthly Database for Macroeconomic Research",
*Journal of Business & Economic Statistics* 34(4)) give every series a code ``tcode``
saying how to make it stationary. With :math:`Δ x_t = x_t - x_{t-1}`:

====== ===================================== ==========================
tcode  transformation                        needs
====== ===================================== ==========================
1      :math:`x_t` (level)
2      :math:`Δ x_t`
3      :math:`Δ^2 x_t`
4      :math:`\log x_t`                      :math:`x_t > 0`
5      :math:`Δ \log x_t`                    :math:`x_t > 0`
6      :math:`Δ^2 \log x_t`                  :math:`x_t > 0`
7      :math:`Δ (x_t / x_{t-1} - 1)`         :math:`x_{t-1} \ne 0`
====== ===================================== ==========================

Log changes are decimal (0.01 = 1 %), as in FRED-MD, not percent. :func:`mask_outliers`
applies FRED-MD's outlier rule to the transformed panel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

__all__ = ["TCODES", "fred_md_transform", "mask_outliers"]

TCODES: dict[int, str] = {
    1: "level x",
    2: "first difference Δx",
    3: "second difference Δ²x",
    4: "log x",
    5: "log difference Δlog x",
    6: "second log difference Δ²log x",
    7: "change in the growth rate Δ(x_t/x_{t-1} - 1)",
}
"""Meaning of each FRED-MD transformation code."""

_LOG_CODES = frozenset({4, 5, 6})

_APPLY: dict[int, Callable[[pd.Series], pd.Series]] = {
    1: lambda x: x,
    2: lambda x: x.diff(),
    3: lambda x: x.diff().diff(),
    4: np.log,
    5: lambda x: np.log(x).diff(),
    6: lambda x: np.log(x).diff().diff(),
    7: lambda x: (x / x.shift(1) - 1.0).diff(),
}


def non_positive_columns(frame: pd.DataFrame) -> list:
    """Columns of ``frame`` holding a value ``<= 0`` (NaN is ignored)."""
    return frame.columns[(frame <= 0).any()].tolist()


def _as_code(value: object) -> int | None:
    """``value`` as an integer code 1..7, or None when it is not one."""
    if isinstance(value, bool | np.bool_):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not number.is_integer() or int(number) not in _APPLY:
        return None
    return int(number)


def fred_md_transform(df: pd.DataFrame, codes: Mapping[str, int] | pd.Series) -> pd.DataFrame:
    """Apply the FRED-MD transformation codes to the columns of a panel of levels.

    Parameters
    ----------
    df : pandas.DataFrame
        Levels (dates x series) in time order; NaN marks a missing value.
    codes : mapping or pandas.Series
        Transformation code (an integer 1..7, see :data:`TCODES`) for **every** column
        of ``df``, keyed by column name, and for no other column.

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``df``. Differencing leaves NaN in the first one or
        two rows of a series (and after a missing value); no row is dropped, so the
        ragged edges of the panel stay where they were.

    Raises
    ------
    TypeError
        If ``df`` is not a DataFrame.
    ValueError
        Listing every problem at once: columns without a code, codes for columns that
        are not in ``df``, codes that are not one of 1..7, non-numeric columns,
        non-positive values in a series with a log code (4, 5, 6), zeros in a series
        with code 7, duplicated column names.

    Examples
    --------
    >>> import pandas as pd
    >>> from bdfm.datasets import fred_md_transform
    >>> levels = pd.DataFrame({"ip": [100.0, 101.0, 103.02], "rate": [5.0, 5.25, 5.0]})
    >>> fred_md_transform(levels, {"ip": 5, "rate": 2}).round(4)
           ip  rate
    0     NaN   NaN
    1  0.0100  0.25
    2  0.0198 -0.25
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame of levels, got {type(df).__name__}")
    codes = dict(codes)
    problems: list[str] = []
    duplicated = df.columns[df.columns.duplicated()].unique().tolist()
    if duplicated:
        problems.append(f"duplicated column name(s) {duplicated}")
    missing = [c for c in df.columns if c not in codes]
    if missing:
        problems.append(f"no transformation code for column(s) {missing}")
    extra = [c for c in codes if c not in df.columns]
    if extra:
        problems.append(f"codes given for column(s) not in the data: {extra}")
    parsed = {c: _as_code(v) for c, v in codes.items() if c in df.columns}
    unknown = {c: codes[c] for c, v in parsed.items() if v is None}
    if unknown:
        problems.append(f"unknown transformation code(s) {unknown}; valid codes: {TCODES}")
    non_numeric = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        problems.append(f"non-numeric column(s) {non_numeric}")
    numeric = df.drop(columns=non_numeric)
    logged = [c for c, v in parsed.items() if v in _LOG_CODES and c not in non_numeric]
    bad = non_positive_columns(numeric[logged])
    if bad:
        problems.append(
            f"non-positive values in {bad}, whose codes (4, 5 or 6) take logs: "
            "use code 1, 2 or 3 for such series"
        )
    ratio = [c for c, v in parsed.items() if v == 7 and c not in non_numeric]
    zero = numeric[ratio].columns[(numeric[ratio] == 0).any()].tolist()
    if zero:
        problems.append(f"zero values in {zero}, whose code 7 divides by x_(t-1)")
    if problems:
        raise ValueError("cannot apply the FRED-MD transformations:\n- " + "\n- ".join(problems))
    out = pd.DataFrame(
        {c: _APPLY[parsed[c]](df[c].astype(float)) for c in df.columns}, index=df.index
    )
    out.columns = df.columns
    return out


def mask_outliers(df: pd.DataFrame, threshold: float = 10.0) -> pd.DataFrame:
    r"""Mark outliers as missing, by FRED-MD's rule: more than ``threshold`` IQRs from the median.

    Value :math:`x_{it}` becomes NaN when :math:`|x_{it} - \mathrm{med}_i| > c\,
    \mathrm{IQR}_i`, with the median and interquartile range of series i over its observed
    values and :math:`c` = ``threshold`` (McCracken & Ng use 10 on the transformed panel).
    A dynamic factor model then treats those dates as missing for that series only.

    Parameters
    ----------
    df : pandas.DataFrame
        Stationary (transformed) numeric panel, dates x series.
    threshold : float
        Multiple of the interquartile range, > 0.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` with the outliers set to NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> from bdfm.datasets import mask_outliers
    >>> mask_outliers(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 100.0]}))["x"].tolist()
    [0.0, 1.0, 2.0, 3.0, nan]
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    median = df.median()
    iqr = df.quantile(0.75) - df.quantile(0.25)
    return df.mask((df - median).abs() > threshold * iqr)
