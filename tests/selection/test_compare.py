"""Model comparison: PSIS-LOO ranks the true number of factors and error model; the table's
arithmetic (differences, paired SEs, stacking weights) is checked against direct formulas."""

import warnings

import numpy as np
import pandas as pd
import pytest

import bdfm
from bdfm.selection.compare import compare, comparison_table, stacking_weights
from bdfm.selection.parallel import fit_many
from tests.conftest import COMPARE_FIT as FIT


@pytest.fixture(scope="module")
def error_fits():
    spec = bdfm.DFMSpec(n_factors=1, idiosyncratic="ar1")
    params = {
        "loadings": np.linspace(0.5, 1.2, 6)[:, None],
        "factor_ar": np.array([[[0.5]]]),
        "idio_sd": np.full(6, 0.7),
        "idio_ar": np.full(6, 0.6),
    }
    data, _ = bdfm.simulate(spec, params, n_time=200, random_seed=8)
    specs = {"iid": {"n_factors": 1}, "ar1": {"n_factors": 1, "idiosyncratic": "ar1"}}
    return fit_many(specs, data, progress=False, **FIT)


def test_loo_ranks_true_number_of_factors(k_fits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # k=3 over-fits: a high k-hat is expected
        table = compare(dict(k_fits))
    assert list(table.columns[:7]) == ["rank", "elpd", "se", "elpd_diff", "dse", "p_eff", "weight"]
    best = table.index[0]
    if best == "k=3":  # allowed when k=2 is within one standard error of it
        assert table.loc["k=2", "elpd_diff"] > -table.loc["k=2", "dse"]
    else:
        assert best == "k=2"
    # k=1 is clearly worse: several standard errors below the best
    assert table.loc["k=1", "elpd_diff"] < -4 * table.loc["k=1", "dse"]
    assert table["weight"].sum() == pytest.approx(1.0)
    assert table.loc["k=1", "weight"] < 0.05
    assert (table["p_eff"] > 0).all()


def test_loo_picks_ar1_errors_when_rho_is_0_6(error_fits):
    table = compare(dict(error_fits))
    assert table.index[0] == "ar1"
    assert table.loc["iid", "elpd_diff"] < -2 * table.loc["iid", "dse"]


def test_comparison_table_arithmetic():
    rng = np.random.default_rng(0)
    a = rng.normal(-1.0, 0.3, 50)
    b = a - rng.normal(0.2, 0.1, 50)
    table = comparison_table({"b": b, "a": a})
    assert list(table.index) == ["a", "b"]
    assert table.loc["b", "elpd_diff"] == pytest.approx((b - a).sum())
    assert table.loc["b", "dse"] == pytest.approx(np.sqrt(50 * np.var(b - a, ddof=1)))
    assert table.loc["a", "se"] == pytest.approx(np.sqrt(50 * np.var(a, ddof=1)))
    assert table.loc["a", "dse"] == 0.0


def test_stacking_weights_match_direct_optimisation():
    from scipy import optimize

    rng = np.random.default_rng(1)
    lpd = rng.normal(-1, 0.5, (3, 40))
    w = stacking_weights(lpd)

    def neg(v):
        v = np.abs(v) / np.abs(v).sum()
        return -np.log(v @ np.exp(lpd)).sum()

    brute = optimize.minimize(
        neg,
        np.ones(3) / 3,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    ref = np.abs(brute.x) / np.abs(brute.x).sum()
    np.testing.assert_allclose(w, ref, atol=2e-3)
    assert neg(w) <= neg(ref) + 1e-5
    # a model that dominates at every point takes all the weight
    np.testing.assert_allclose(stacking_weights(np.vstack([lpd[0] + 5, lpd[0]])), [1, 0], atol=1e-4)


def test_compare_refuses_different_data(k_fits, error_fits):
    with pytest.raises(ValueError, match="not of the same data"):
        compare({"a": k_fits["k=1"], "b": error_fits["iid"]})
    with pytest.raises(ValueError, match="method must be"):
        compare(dict(k_fits), method="waic")
    with pytest.raises(TypeError, match="apply to method='lfo'"):
        compare(dict(k_fits), min_train=10)


def test_compare_warns_on_few_draws(k_fits):
    few = {n: f for n, f in k_fits.items()}
    thin = few["k=1"]
    small = bdfm.results.FitResult(
        thin.idata.isel(draw=slice(0, 20)), thin.model, thin.bspec, thin.priors
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = compare({"k=1": small, "k=2": few["k=2"]})
    assert any("k=1: only 40 posterior draws" in str(w.message) for w in caught)
    assert "only 40 posterior draws" in table.loc["k=1", "warning"]


def test_compare_reads_saved_fits(k_fits, tmp_path):
    paths = {}
    for name in ("k=1", "k=2"):
        paths[name] = k_fits[name].save(tmp_path / f"{name}.nc")
    # PSIS may warn about these short chains; the warnings must agree too
    with warnings.catch_warnings(record=True) as from_files_warnings:
        warnings.simplefilter("always")
        from_files = compare({n: str(p) for n, p in paths.items()})
    with warnings.catch_warnings(record=True) as direct_warnings:
        warnings.simplefilter("always")
        direct = compare({n: k_fits[n] for n in paths})
    pd.testing.assert_frame_equal(from_files, direct)
    assert [str(w.message) for w in from_files_warnings] == [
        str(w.message) for w in direct_warnings
    ]


def test_compare_refuses_names_that_collide_as_text():
    # 1 and "1" would both become the row "1": one fit would silently vanish
    with pytest.raises(ValueError, match=r"1 and '1'.*same name"):
        compare({1: object(), "1": object(), "b": object()})
