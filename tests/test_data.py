"""Bad input gets one clear error naming every problem; NaN is data."""

import warnings

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
        (lambda d: d.assign(s0=1.0 + np.finfo(float).eps * (d["s1"] > 0)), "rounding): 's0'"),
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
        (lambda d: d.assign(s1=d["s1"] + 1j), "complex-valued column(s): 's1'"),
        (
            lambda d: d.assign(s2=d["s2"] * 1e-310),
            "too small to compute with (below 2.23e-308, the smallest normal double): 's2'",
        ),
        (lambda d: d.assign(s3=2.5 * d["s0"]), "'s0' and 's3'"),
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


def test_log_jacobian_gives_original_unit_density():
    # a Gaussian density of standardised values plus the log-Jacobian equals the density of
    # the original values (independent of the scaling chosen)
    from scipy import stats

    from bdfm.data import prepare_panel

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        rng.normal(3.0, 2.0, (20, 3)) * [1.0, 10.0, 0.1],
        index=pd.date_range("2020", periods=20, freq="D"),
    )
    df.iloc[2, 1] = np.nan
    panel = prepare_panel(df)
    z = np.where(panel.mask, panel.values, 0.0)
    lz = np.where(panel.mask, stats.norm.logpdf(z), 0.0).sum(1) + panel.log_jacobian()
    m, s = panel.scaling.mean, panel.scaling.scale
    ly = np.nansum(stats.norm.logpdf(df.to_numpy(), loc=m, scale=s), axis=1)
    np.testing.assert_allclose(lz, ly, rtol=1e-12)


def test_given_scaling_is_used_and_checked():
    from bdfm.data import Scaling, prepare_panel

    df = pd.DataFrame(
        np.arange(30.0).reshape(10, 3) ** 1.5, index=pd.date_range("2020", periods=10)
    )
    sc = Scaling(mean=np.array([1.0, 2.0, 3.0]), scale=np.array([2.0, 2.0, 4.0]))
    panel = prepare_panel(df, scaling=sc)
    np.testing.assert_allclose(panel.values, (df.to_numpy() - sc.mean) / sc.scale)
    with pytest.raises(ValueError, match="scaling is for 2 series"):
        prepare_panel(df, scaling=Scaling(np.zeros(2), np.ones(2)))
    with pytest.raises(ValueError, match="positive"):
        prepare_panel(df, scaling=Scaling(np.zeros(3), np.array([1.0, 0.0, 1.0])))


@pytest.mark.parametrize("factor", [1e200, 1e-300, -1e300])
def test_extreme_scales_give_the_same_standardised_panel(factor):
    df = _frame()
    df.iloc[3, 1] = np.nan
    base = prepare_panel(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / underflow / division warnings
        panel = prepare_panel(df * factor)
    np.testing.assert_array_equal(panel.mask, base.mask)
    sign = np.sign(factor)  # a negative factor flips the standardised values
    np.testing.assert_allclose(panel.values, sign * base.values, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(panel.scaling.scale, abs(factor) * base.scaling.scale, rtol=1e-12)
    np.testing.assert_allclose(panel.scaling.mean, factor * base.scaling.mean, rtol=1e-12)
    back = panel.scaling.to_original(panel.values)
    np.testing.assert_allclose(back, df.to_numpy() * factor, rtol=1e-12)
    np.testing.assert_allclose(
        panel.log_jacobian(), base.log_jacobian() - panel.mask.sum(1) * np.log(abs(factor))
    )


def test_extreme_values_are_refused_without_standardisation():
    with pytest.raises(ValueError, match=r"'s1'.*standardize=True"):
        prepare_panel(_frame().assign(s1=lambda d: d["s1"] * 1e200), standardize=False)
    with pytest.raises(ValueError, match=r"'s0'.*standardize=True"):
        prepare_panel(_frame().assign(s0=lambda d: d["s0"] * 1e-200), standardize=False)
    prepare_panel(_frame() * 1e6, standardize=False)  # large but harmless


@pytest.mark.parametrize(
    "mutate, pair",
    [
        (lambda d: d.assign(s2=d["s0"]), "'s0' and 's2'"),  # exact duplicate
        (lambda d: d.assign(s3=5.0 - 3.0 * d["s1"]), "'s1' and 's3'"),  # affine, negative
        (lambda d: d.assign(s3=d["s1"] * (1 + 1e-13 * d["s2"])), "'s1' and 's3'"),  # near-exact
        (lambda d: d.assign(s2=d["s0"].iloc[5:] * 1e200), "'s0' and 's2'"),  # ragged, huge
    ],
)
def test_collinear_series_are_named(mutate, pair):
    with pytest.raises(ValueError, match="Invalid data") as err:
        prepare_panel(mutate(_frame()))
    msg = str(err.value)
    assert pair in msg
    assert "drop one" in msg


def test_collinear_check_lists_every_pair_and_spares_short_overlaps():
    df = _frame(N=5).assign(s3=lambda d: d["s0"] * 2, s4=lambda d: -d["s1"])
    with pytest.raises(ValueError) as err:
        prepare_panel(df)
    assert "'s0' and 's3'" in str(err.value) and "'s1' and 's4'" in str(err.value)
    # two series seen together on only two dates are trivially collinear there: not flagged
    short = _frame()
    short.iloc[2:, 3] = np.nan
    prepare_panel(short)
    # strongly but not perfectly correlated series are fine
    rng = np.random.default_rng(5)
    prepare_panel(_frame().assign(s3=lambda d: d["s0"] + 1e-4 * rng.standard_normal(len(d))))


def test_too_few_dates_for_the_number_of_factors():
    df = _frame(T=4, N=6)
    with pytest.raises(ValueError, match="too few time points") as err:
        bdfm.DynamicFactorModel(df, 3)
    msg = str(err.value)
    assert "need at least 5" in msg and "n_factors=3" in msg
    bdfm.DynamicFactorModel(_frame(T=5, N=6), 3)
    with pytest.raises(ValueError, match="need at least 6"):
        bdfm.DynamicFactorModel(_frame(T=5, N=6), 3, idiosyncratic="ar1")
    with pytest.raises(ValueError, match="need at least 7"):  # VAR(2) of 2 factors
        bdfm.DynamicFactorModel(_frame(T=6, N=6), 2, factor_order=2)
    # dates without any observation do not count
    padded = _frame(T=8, N=6)
    padded.iloc[:4] = np.nan
    with pytest.raises(ValueError, match="too few time points: 4 dates with data"):
        bdfm.DynamicFactorModel(padded, 3)


def test_missing_dates_are_not_also_reported_as_unsorted():
    df = _frame()
    df.index = df.index.insert(3, pd.NaT)[: len(df)]
    with pytest.raises(ValueError, match="missing dates") as err:
        bdfm.DynamicFactorModel(df, 1)
    assert "not sorted" not in str(err.value)
