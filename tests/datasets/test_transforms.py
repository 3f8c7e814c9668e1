import numpy as np
import pandas as pd
import pytest

from bdfm.datasets import TCODES, fred_md_transform, mask_outliers

X = [2.0, 4.0, 5.0, 10.0]


@pytest.fixture
def levels():
    return pd.DataFrame({"x": X}, index=pd.date_range("2000-01-01", periods=4, freq="MS"))


# hand-computed from x = 2, 4, 5, 10
HAND = {
    1: [2.0, 4.0, 5.0, 10.0],
    2: [np.nan, 2.0, 1.0, 5.0],
    3: [np.nan, np.nan, -1.0, 4.0],
    4: [np.log(2), np.log(4), np.log(5), np.log(10)],
    5: [np.nan, np.log(2), np.log(5 / 4), np.log(2)],
    6: [np.nan, np.nan, np.log(5 / 4) - np.log(2), np.log(2) - np.log(5 / 4)],
    7: [np.nan, np.nan, 0.25 - 1.0, 1.0 - 0.25],
}


@pytest.mark.parametrize("code", sorted(TCODES))
def test_each_code_by_hand(levels, code):
    out = fred_md_transform(levels, {"x": code})
    np.testing.assert_allclose(out["x"].to_numpy(), HAND[code], rtol=1e-12)
    assert out.index.equals(levels.index)


def test_mixed_codes_keep_columns_index_and_gaps():
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [1.0, 2.0, 3.0, 5.0]})
    out = fred_md_transform(df, pd.Series({"b": 2, "a": 5}))
    assert list(out.columns) == ["a", "b"]
    assert out["a"].isna().tolist() == [True, True, True, False]  # a gap is never filled
    np.testing.assert_allclose(out["b"], [np.nan, 1.0, 1.0, 2.0])
    assert df["a"].iloc[2] == 3.0  # input untouched


def test_codes_may_be_integral_floats():
    df = pd.DataFrame({"a": [1.0, 2.0, 4.0]})
    np.testing.assert_allclose(fred_md_transform(df, {"a": 2.0})["a"], [np.nan, 1.0, 2.0])


@pytest.mark.parametrize("bad", [0, 8, 2.5, "five", None, True])
def test_unknown_code(bad):
    df = pd.DataFrame({"a": [1.0, 2.0, 4.0]})
    with pytest.raises(ValueError, match=r"unknown transformation code\(s\) \{'a': "):
        fred_md_transform(df, {"a": bad})


def test_code_column_mismatch_lists_both_sides():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]})
    with pytest.raises(ValueError) as err:
        fred_md_transform(df, {"a": 1, "c": 2})
    msg = str(err.value)
    assert "no transformation code for column(s) ['b']" in msg
    assert "codes given for column(s) not in the data: ['c']" in msg


@pytest.mark.parametrize("code", [4, 5, 6])
def test_logs_of_non_positive_values(code):
    df = pd.DataFrame({"a": [1.0, 0.0, 2.0], "b": [-1.0, 1.0, 2.0]})
    with pytest.raises(ValueError, match=r"non-positive values in \['a'\], whose codes"):
        fred_md_transform(df, {"a": code, "b": 2})


def test_code_7_rejects_zeros_but_not_negatives():
    assert fred_md_transform(pd.DataFrame({"a": [-1.0, 2.0, -3.0]}), {"a": 7}).notna().any().any()
    with pytest.raises(ValueError, match=r"zero values in \['a'\]"):
        fred_md_transform(pd.DataFrame({"a": [1.0, 0.0, 2.0]}), {"a": 7})


def test_all_problems_reported_at_once():
    df = pd.DataFrame({"a": [1.0, -1.0], "b": ["x", "y"], "c": [1.0, 2.0]})
    with pytest.raises(ValueError) as err:
        fred_md_transform(df, {"a": 5, "b": 1, "c": 9})
    msg = str(err.value)
    assert "non-positive values in ['a']" in msg
    assert "non-numeric column(s) ['b']" in msg
    assert "unknown transformation code(s) {'c': 9}" in msg


def test_not_a_frame():
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        fred_md_transform(np.ones((3, 2)), {})


def test_mask_outliers_by_hand():
    # a: median 2.5, IQR 3.75 - 1.25 = 2.5 -> |x - 2.5| > 2.5 c is an outlier; b has none
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 30.0, np.nan], "b": np.arange(7.0)})
    out = mask_outliers(df, threshold=5.0)
    assert np.isnan(out.loc[5, "a"]) and out["a"].notna().sum() == 5
    pd.testing.assert_series_equal(out["b"], df["b"])
    assert mask_outliers(df, threshold=12.0)["a"].notna().sum() == 6  # 27.5 < 12 x 2.5
    assert df["a"].notna().sum() == 6  # input untouched
    with pytest.raises(ValueError, match="threshold must be > 0"):
        mask_outliers(df, threshold=0)
