"""select_factors: one-standard-error choice over k, Bai & Ng's criteria, clear errors."""

import warnings

import numpy as np
import pytest

import bdfm
from bdfm.selection.compare import comparison_table
from bdfm.selection.select import _choose, _k_values


@pytest.mark.slow
def test_select_factors_chooses_two(k_fits, monkeypatch):
    # reuse the fits: select_factors' own fitting step is fit_many, tested elsewhere
    import bdfm.selection.parallel as parallel

    monkeypatch.setattr(parallel, "fit_many", lambda *a, **kw: k_fits)
    warnings.simplefilter("ignore", UserWarning)
    sel = bdfm.select_factors(k_fits["k=1"].idata.observed_data["y"].to_pandas(), range(1, 4))
    assert sel.n_factors == 2
    assert "k=1 is worse by" in sel.reason


def test_information_criteria_choose_two_factors(k_fits):
    data = k_fits["k=1"].idata.observed_data["y"].to_pandas()
    data.columns.name = None
    sel = bdfm.select_factors(data, range(1, 5), method="ic")
    assert sel.n_factors == 2
    assert list(sel.table.columns[:4]) == ["V", "IC_p1", "IC_p2", "IC_p3"]
    assert sel.table["V"].is_monotonic_decreasing


def test_choice_at_the_edge_of_the_range_says_so():
    table = comparison_table(
        {"k=1": np.full(30, -2.0), "k=2": np.full(30, -1.0) + np.arange(30) * 1e-3}
    )
    k, reason = _choose(table)
    assert k == 2 and "largest k tried" in reason


def test_smaller_k_within_one_se_is_chosen():
    rng = np.random.default_rng(2)
    base = rng.normal(-1.0, 0.3, 40)
    table = comparison_table(
        {"k=1": base - 0.5, "k=2": base, "k=3": base + rng.normal(0.01, 0.2, 40)}
    )
    k, reason = _choose(table)
    assert k == 2 and "within one standard error" in reason and "k=1 is worse by" in reason


@pytest.mark.parametrize(
    ("k_range", "match"),
    [([0, 1], "positive numbers"), ([], "positive numbers"), ([1, 4], r"\[4\] factors")],
)
def test_bad_k_range(k_range, match):
    with pytest.raises(ValueError, match=match):
        _k_values(k_range, n_series=4)


def test_unknown_method():
    data, _ = bdfm.simulate(bdfm.DFMSpec(n_factors=1), n_time=30, n_series=4, random_seed=1)
    with pytest.raises(ValueError, match="method must be 'loo', 'lfo' or 'ic'"):
        bdfm.select_factors(data, range(1, 3), method="waic")
