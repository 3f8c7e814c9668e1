"""Leave-future-out CV: the approximate PSIS-LFO agrees with exact LFO (refit every step)."""

import numpy as np
import pytest

import bdfm
from bdfm.selection.lfo import lfo, window_loglik

FIT = {"draws": 200, "tune": 200, "chains": 2, "sampler": "pymc", "random_seed": 1, "cores": 1}
T, L = 70, 62


@pytest.fixture(scope="module")
def fit():
    df, _ = bdfm.simulate(bdfm.DFMSpec(n_factors=1), n_time=T, n_series=4, random_seed=2)
    df.iloc[-3:, 0] = np.nan  # a ragged edge: the scores skip what is missing
    return bdfm.DynamicFactorModel(df, n_factors=1).fit(progressbar=False, **FIT)


@pytest.fixture(scope="module")
def exact(fit):
    return lfo(fit, L, exact=True, executor=None)


def test_psis_lfo_agrees_with_exact_within_its_standard_error(fit, exact):
    approx = lfo(fit, L)
    assert exact.refits == list(range(L, T))
    assert approx.refits[0] == L and len(approx.refits) < len(exact.refits)
    assert len(approx.pointwise) == len(exact.pointwise) == T - L
    assert abs(approx.elpd - exact.elpd) < exact.se
    # point by point too: importance weighting only shifts each score a little
    np.testing.assert_allclose(approx.pointwise, exact.pointwise, atol=0.25)
    assert np.isnan(approx.pareto_k.iloc[0]) and (approx.pareto_k.iloc[1:].dropna() < 0.7).all()
    assert approx.pointwise.index[0] == fit.model.panel.index[L]


def test_exact_scores_are_log_mean_predictive_densities(fit, exact):
    # refit at i = L by hand: the score is log mean_s p(y_{L+1} | y_{1:L}, θ_s) in original units
    from bdfm.selection.refit import refit

    data = fit.idata.observed_data["y"].to_pandas()
    first = refit(fit, data.iloc[:L], progressbar=False)
    ll = window_loglik(first, data)
    score = np.log(np.mean(np.exp(ll[:, L])))
    assert exact.pointwise.iloc[0] == pytest.approx(score, rel=1e-10)
    # the filter is causal: on the training window the full-data terms equal the fit's own
    stored = first.idata.log_likelihood["y"].values.reshape(ll.shape[0], L)
    np.testing.assert_allclose(ll[:, :L], stored, rtol=1e-9)


def test_multi_step_scores_are_joint_block_densities(fit):
    two = lfo(fit, L, steps=2)
    assert len(two.pointwise) == T - L - 1
    assert two.steps == 2
    # the joint density of two points is below the better of the two one-step densities
    one = lfo(fit, L)
    assert two.elpd < one.elpd


def test_compare_by_lfo(fit):
    other = bdfm.selection.refit.refit(fit, fit.idata.observed_data["y"].to_pandas(), draws=200)
    table = bdfm.compare({"a": fit, "b": other}, method="lfo", min_train=L)
    assert set(table.index) == {"a", "b"} and table["n_points"].iloc[0] == T - L
    assert np.isnan(table["p_eff"]).all()


@pytest.mark.parametrize(
    ("kw", "match"), [({"min_train": 1}, "min_train"), ({"min_train": L, "steps": 0}, "steps")]
)
def test_bad_options(fit, kw, match):
    with pytest.raises(ValueError, match=match):
        lfo(fit, **kw)
