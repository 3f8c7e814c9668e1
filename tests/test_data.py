"""Bad input gets one clear error naming every problem; NaN is data."""

import numpy as np
import pandas as pd
import pytest

import bdfm
from bdfm.data import prepare_panel


def _frame(T=30, N=4, seed=0):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2020-01-01", periods=T, freq="D")
    return pd.DataFrame(rng.standard_normal((T, N)), index=idx, columns=[f"s{i}" for i in range(N)])


def test_nan_is_data_not_an_error():
    df = _frame()
    df.iloc[:5, 0] = np.nan
    df.iloc[10, :] = np.nan
    panel = prepare_panel(df)
    assert panel.mask.sum() == df.notna().to_numpy().sum()
    assert not panel.mask[10].any()


def test_input_frame_is_not_modified():
    df = _frame()
    df.iloc[2, 1] = np.nan
    before = df.copy()
    bdfm.DynamicFactorModel(df, 1)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.assign(name="x"), "non-numeric column(s): 'name'"),
        (
            lambda d: d.assign(s1=d["s1"].where(d.index != d.index[3], np.inf)),
            "infinite values in 's1'",
        ),
        (
            lambda d: d.assign(s2=d["s2"].where(d.index != d.index[0], -np.inf)),
            "infinite values in 's2'",
        ),
        (lambda d: d.assign(s0=3.0), "constant series"),
        (lambda d: d.assign(s3=np.nan), "entirely missing: 's3'"),
        (lambda d: pd.concat([d, d.iloc[[5]]]).sort_index(), "duplicated dates: 2020-01-06"),
        (lambda d: d.iloc[::-1], "not sorted"),
        (lambda d: d[["s0"]], "at least 2 series"),
        (lambda d: d.iloc[:2], "too few time points"),
        (
            lambda d: d.reset_index(drop=True).set_axis(
                list("abcdefghijklmnopqrstuvwxyz1234"), axis=0
            ),
            "index must hold dates",
        ),
        (lambda d: d.reset_index(drop=True), "index must hold dates, got RangeIndex"),
    ],
)
def test_bad_input_raises_clear_error(mutate, fragment):
    with pytest.raises(ValueError, match="Invalid data") as err:
        bdfm.DynamicFactorModel(mutate(_frame()), 1)
    assert fragment in str(err.value)


def test_all_problems_reported_at_once():
    df = _frame().assign(name="x", s0=1.0, s3=np.nan)
    df.iloc[4, 1] = np.inf
    with pytest.raises(ValueError) as err:
        bdfm.DynamicFactorModel(df, 1)
    msg = str(err.value)
    for fragment in ("non-numeric", "constant series", "entirely missing", "infinite values"):
        assert fragment in msg


def test_not_a_dataframe():
    with pytest.raises(TypeError, match="pandas DataFrame"):
        bdfm.DynamicFactorModel(np.zeros((10, 3)), 1)


def test_too_many_factors():
    with pytest.raises(ValueError, match="n_factors=4 must be smaller than the number of series"):
        bdfm.DynamicFactorModel(_frame(), 4)


def test_too_few_time_points_for_order():
    with pytest.raises(ValueError, match="too few time points"):
        bdfm.DynamicFactorModel(_frame(T=5), 1, factor_order=4)


def test_period_index_is_accepted():
    df = _frame()
    df.index = pd.period_range("2020-01", periods=len(df), freq="M")
    panel = prepare_panel(df)
    assert isinstance(panel.index, pd.DatetimeIndex)


def test_string_dates_are_parsed():
    df = _frame()
    df.index = df.index.strftime("%Y-%m-%d")
    assert isinstance(prepare_panel(df).index, pd.DatetimeIndex)
