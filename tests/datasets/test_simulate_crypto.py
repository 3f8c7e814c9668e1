import numpy as np
import pandas as pd
import pytest
from scipy.stats import kurtosis

from bdfm import datasets
from bdfm.datasets import simulate_crypto_panel


def test_shape_index_and_names():
    df = simulate_crypto_panel(n_assets=5, n_days=60, start="2021-03-01", random_seed=0)
    assert df.shape == (60, 5)
    assert df.index.equals(pd.date_range("2021-03-01", periods=60, freq="D", name="date"))
    assert list(df.columns) == ["C01", "C02", "C03", "C04", "C05"] and df.columns.name == "series"


def test_reproducible_by_seed():
    a = simulate_crypto_panel(n_assets=6, n_days=200, random_seed=7)
    pd.testing.assert_frame_equal(a, simulate_crypto_panel(n_assets=6, n_days=200, random_seed=7))
    b = simulate_crypto_panel(n_assets=6, n_days=200, random_seed=8)
    assert not np.allclose(a.fillna(0).to_numpy(), b.fillna(0).to_numpy())
    pd.testing.assert_frame_equal(datasets.load("crypto_sim"), datasets.load("crypto_sim"))


def test_nan_exactly_before_listing():
    df = simulate_crypto_panel(n_assets=12, n_days=500, random_seed=3)
    first = df.apply(lambda s: s.first_valid_index())
    assert (first.iloc[:3] == df.index[0]).all()  # max(2, 12 // 4) assets trade from the start
    assert first.is_monotonic_increasing and (first.iloc[3:] > df.index[0]).all()
    assert (first <= df.index[int(0.6 * 500)]).all()
    for col, day in first.items():
        assert df.loc[: day - pd.Timedelta(days=1), col].isna().all()
        assert df.loc[day:, col].notna().all()  # no gaps after listing


def test_fat_tails_and_volatility_clustering():
    df = simulate_crypto_panel(n_assets=8, n_days=3000, random_seed=1)
    r = df["C01"].to_numpy()
    assert kurtosis(r, fisher=False) > 3
    assert np.all(kurtosis(df, fisher=False, nan_policy="omit") > 3)
    sq = r**2 - np.mean(r**2)
    assert np.corrcoef(sq[1:], sq[:-1])[0, 1] > 0.05  # GARCH: squared returns autocorrelated
    calm = simulate_crypto_panel(n_assets=8, n_days=3000, random_seed=1, garch=None, tail_df=200)
    assert abs(kurtosis(calm["C01"], fisher=False) - 3) < 0.5  # near-Gaussian without both


def test_common_factor_drives_comovement():
    df = simulate_crypto_panel(n_assets=6, n_days=2000, n_factors=1, random_seed=2).dropna()
    corr = df.corr().to_numpy()
    assert corr[np.triu_indices(6, 1)].min() > 0.1


def test_prices_match_returns():
    kw = {"n_assets": 4, "n_days": 100, "random_seed": 5}
    returns = simulate_crypto_panel(**kw)
    prices = simulate_crypto_panel(**kw, prices=True)
    assert prices.isna().equals(returns.isna()) and (prices.stack().dropna() > 0).all()
    back = datasets.log_returns(prices)
    pd.testing.assert_frame_equal(back.dropna(how="all"), returns.iloc[1:].where(back.notna()))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_assets": 1}, "n_assets must be at least 2"),
        ({"n_days": 5}, "n_days must be at least 10"),
        ({"n_factors": 0}, "n_factors must be in"),
        ({"n_assets": 3, "n_factors": 3}, "n_factors must be in"),
        ({"tail_df": 2.0}, "tail_df must be > 2"),
        ({"garch": (0.5, 0.6)}, "alpha \\+ beta < 1"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_crypto_panel(**kwargs)
