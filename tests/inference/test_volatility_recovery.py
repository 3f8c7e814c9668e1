"""Parameter recovery with time-varying volatility, Student-t shocks and AR(1) errors.

Slow. Factor stochastic volatility (one fit of N=30 series x T=1,500 dates, k=2): 90% bands
of the factor log-volatility paths cover the true paths on at least 85% of dates, and the
true ν and SV persistences lie inside their 90% posterior intervals. Factor and
idiosyncratic GJR-GARCH (N=20, T=1,200): ν and the six factor GARCH coefficients each
inside its 98% interval (seven checks at once), the per-series ones inside their 90%
intervals for at least 80% of the series, the factor variance paths covered by their 90%
bands on at least 85% of dates.
"""

import numpy as np
import pytest

import bdfm
from bdfm.spec import DFMSpec

pytestmark = pytest.mark.slow

SPEC = DFMSpec(
    n_factors=2, idiosyncratic="ar1", factor_volatility="sv", tails="student_t", standardize=False
)


def _truth(n_series: int) -> dict:
    rng = np.random.default_rng(7)
    loadings = rng.uniform(0.4, 1.2, (n_series, 2)) * rng.choice([-1, 1], (n_series, 2))
    loadings[0] = [1.0, 0.0]  # the anchors: series 1 loads on f1 only, positively
    loadings[1, 1] = abs(loadings[1, 1])
    return {
        "loadings": loadings,
        "factor_ar": np.array([[[0.5, 0.05], [0.0, 0.3]]]),
        "idio_sd": rng.uniform(0.5, 1.0, n_series),
        "idio_ar": rng.uniform(0.2, 0.5, n_series),
        "factor_sv_phi": np.array([0.97, 0.95]),
        "factor_sv_sd": np.array([0.25, 0.3]),
        "tails_nu": np.array(5.0),
    }


def test_volatility_paths_nu_and_persistence_are_recovered():
    truth = _truth(30)
    data, sim = bdfm.simulate(SPEC, truth, n_time=1500, random_seed=3)
    model = bdfm.DynamicFactorModel(
        data, n_factors=2, idiosyncratic="ar1", factor_volatility="sv", tails="student_t",
        standardize=False,
    )  # fmt: skip
    fit = model.fit(
        draws=500, tune=700, chains=2, random_seed=4, progressbar=False, anchors=["y1", "y2"]
    )
    post = fit.posterior
    h = post["factor_log_var"].stack(s=("chain", "draw")).transpose("s", ...).to_numpy()
    lo, hi = np.quantile(h, [0.05, 0.95], axis=0)  # (T, k)
    true_h = sim["factor_log_var"].to_numpy()
    covered = (lo <= true_h) & (true_h <= hi)
    print("coverage of the log-volatility paths per factor:", covered.mean(axis=0))
    assert covered.mean() >= 0.85

    def inside(name, value):
        draws = post[name].stack(s=("chain", "draw")).to_numpy()
        lo, hi = np.quantile(draws, [0.05, 0.95], axis=-1)
        print(f"{name}: truth {value}, 90% interval {lo} .. {hi}")
        assert np.all((lo <= value) & (value <= hi)), name

    inside("tails_nu", truth["tails_nu"])
    inside("factor_sv_phi", truth["factor_sv_phi"])


def test_garch_coefficients_paths_and_nu_are_recovered():
    """Factor and idiosyncratic GJR-GARCH + t(5) + AR(1) errors (N=20, T=1,200, k=2)."""
    spec = DFMSpec(
        n_factors=2, idiosyncratic="ar1", factor_volatility="garch", idio_volatility="garch",
        tails="student_t", standardize=False,
    )  # fmt: skip
    truth = {k: v for k, v in _truth(20).items() if not k.startswith("factor_sv")}
    rng = np.random.default_rng(8)
    truth |= {
        "factor_garch_alpha": np.array([0.04, 0.08]),
        "factor_garch_gamma": np.array([0.12, 0.04]),  # inside: the prior has γ > 0
        "factor_garch_beta": np.array([0.85, 0.85]),
        "idio_garch_alpha": rng.uniform(0.03, 0.1, 20),
        "idio_garch_gamma": rng.uniform(0.01, 0.06, 20),
        "idio_garch_beta": rng.uniform(0.8, 0.86, 20),
    }
    data, sim = bdfm.simulate(spec, truth, n_time=1200, random_seed=5)
    model = bdfm.DynamicFactorModel(
        data, n_factors=2, idiosyncratic="ar1", factor_volatility="garch",
        idio_volatility="garch", tails="student_t", standardize=False,
    )  # fmt: skip
    fit = model.fit(
        draws=400, tune=600, chains=2, random_seed=6, progressbar=False, anchors=["y1", "y2"]
    )
    post = fit.posterior

    def interval(name, level=0.9):
        draws = post[name].stack(s=("chain", "draw")).to_numpy()
        return np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=-1)

    # seven scalars checked jointly: each inside its 98% interval (Bonferroni, joint >= 86%)
    for name in ("tails_nu", "factor_garch_alpha", "factor_garch_gamma", "factor_garch_beta"):
        lo, hi = interval(name, 0.98)
        print(f"{name}: truth {truth[name]}, 98% interval {lo} .. {hi}")
        assert np.all((lo <= truth[name]) & (truth[name] <= hi)), name
    # per-series coefficients: inside their 90% intervals for at least 80% of the series
    for name in ("idio_garch_alpha", "idio_garch_beta"):
        lo, hi = interval(name)
        share = np.mean((lo <= truth[name]) & (truth[name] <= hi))
        print(f"{name}: truth inside its 90% interval for {share:.0%} of the series")
        assert share >= 0.8, name
    # the variance paths are functions of the data and the parameters: their bands cover
    h = post["factor_log_var"].stack(s=("chain", "draw")).transpose("s", ...).to_numpy()
    lo, hi = np.quantile(h, [0.05, 0.95], axis=0)
    true_h = sim["factor_log_var"].to_numpy()
    covered = (lo <= true_h) & (true_h <= hi)
    print("coverage of the factor log-variance paths:", covered.mean(axis=0))
    assert covered.mean() >= 0.85
