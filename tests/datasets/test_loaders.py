import numpy as np
import pandas as pd
import pytest

from bdfm import datasets


def test_sp500_returns_shape_and_dates():
    df = datasets.load("sp500_returns")
    assert df.shape == (8312, 20)
    assert isinstance(df.index, pd.DatetimeIndex)
    assert df.index[0] == pd.Timestamp("1990-01-03") and df.index[-1] == pd.Timestamp("2022-12-28")
    assert df.index.is_monotonic_increasing and not df.index.has_duplicates
    assert np.isfinite(df.to_numpy()).all()
    assert "AAPL" in df.columns


def test_prices_and_returns_agree():
    prices = datasets.load("sp500_prices")
    returns = datasets.load("sp500_returns")
    np.testing.assert_allclose(returns.iloc[0], 100 * np.log(prices.iloc[1] / prices.iloc[0]))


def test_describe_and_unknown():
    assert "skfolio" in datasets.describe("sp500_prices")
    assert set(datasets.list_datasets()) >= {"sp500_prices", "sp500_returns"}
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        datasets.load("nope")


def test_log_returns_rejects_non_positive_prices():
    prices = pd.DataFrame({"a": [1.0, 0.0, 2.0]}, index=pd.date_range("2020", periods=3))
    with pytest.raises(ValueError, match="non-positive prices"):
        datasets.log_returns(prices)
