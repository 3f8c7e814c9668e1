"""Simulation-based calibration (Talts et al. 2018): ranks of true values are uniform.

Slow (one fit per replication): ``pytest -m slow tests/test_calibration.py``;
``BDFM_SBC_RUNS`` sets the number of replications (default 60).
"""

import os

import numpy as np
import pymc as pm
import pytest
from scipy import stats

import bdfm
from bdfm.spec import DFMSpec

pytestmark = pytest.mark.slow


def test_ranks_of_true_parameters_are_uniform():
    runs = int(os.environ.get("BDFM_SBC_RUNS", "60"))
    spec = DFMSpec(n_factors=1, standardize=False)
    n, T = 5, 120
    dummy, _ = bdfm.simulate(spec, n_time=T, n_series=n, random_seed=0)
    template = bdfm.DynamicFactorModel(dummy, n_factors=1, standardize=False)
    pm_model = template.build_model(anchors=["y1"])
    names = ["loadings", "factor_ar", "idio_sd"]
    prior = pm.draw([pm_model[v] for v in names], draws=runs, random_seed=1)
    quantities = {
        "loading[y2]": lambda p: p["loadings"][..., 1, 0],
        "factor_ar": lambda p: p["factor_ar"][..., 0, 0, 0],
        "idio_sd[y1]": lambda p: p["idio_sd"][..., 0],
    }
    ranks = {q: [] for q in quantities}
    for s in range(runs):
        truth = {v: prior[i][s] for i, v in enumerate(names)}
        data, _ = bdfm.simulate(spec, truth, n_time=T, random_seed=100 + s)
        model = bdfm.DynamicFactorModel(data, n_factors=1, standardize=False)
        fit = model.fit(
            draws=200,
            tune=300,
            chains=2,
            sampler="pymc",  # compiles once per structure; nutpie recompiles per data set
            cores=1,
            random_seed=s,
            progressbar=False,
            anchors=["y1"],
        )
        post = {v: fit.posterior[v].values.reshape(-1, *truth[v].shape)[::4] for v in names}
        for q, f in quantities.items():
            ranks[q].append(int(np.sum(f(post) < f(truth))))
    n_post = 100  # 2 chains x 200 draws, thinned by 4
    for q, r in ranks.items():
        counts = np.histogram(r, bins=5, range=(0, n_post + 1))[0]
        p = stats.chisquare(counts).pvalue
        print(f"SBC {q}: {runs} runs, rank counts {counts.tolist()}, chi-square p = {p:.3f}")
        assert p > 0.001, f"{q}: ranks not uniform (chi-square p = {p:.2g}, counts {counts})"


def test_ranks_of_true_sv_hyperparameters_are_uniform():
    """A small SBC of the factor-SV persistence and volatility-of-volatility (one fit per
    replication; ``BDFM_SBC_SV_RUNS``, default 20)."""
    runs = int(os.environ.get("BDFM_SBC_SV_RUNS", "20"))
    spec = DFMSpec(n_factors=1, factor_volatility="sv", standardize=False)
    n, T = 4, 120
    dummy, _ = bdfm.simulate(spec, n_time=T, n_series=n, random_seed=0)
    options = {"n_factors": 1, "factor_volatility": "sv", "standardize": False}
    template = bdfm.DynamicFactorModel(dummy, **options)
    pm_model = template.build_model(anchors=["y1"])
    names = ["loadings", "factor_ar", "idio_sd", "factor_sv_phi", "factor_sv_sd"]
    prior = pm.draw([pm_model[v] for v in names], draws=runs, random_seed=2)
    quantities = {
        "factor_sv_phi": lambda p: p["factor_sv_phi"][..., 0],
        "factor_sv_sd": lambda p: p["factor_sv_sd"][..., 0],
    }
    ranks = {q: [] for q in quantities}
    for s in range(runs):
        truth = {v: prior[i][s] for i, v in enumerate(names)}
        data, _ = bdfm.simulate(spec, truth, n_time=T, random_seed=200 + s)
        fit = bdfm.DynamicFactorModel(data, **options).fit(
            draws=200, tune=300, chains=2, sampler="pymc", cores=1, random_seed=s,
            progressbar=False, anchors=["y1"],
        )  # fmt: skip
        post = {v: fit.posterior[v].values.reshape(-1, *truth[v].shape)[::4] for v in names}
        for q, f in quantities.items():
            ranks[q].append(int(np.sum(f(post) < f(truth))))
    n_post = 100
    for q, r in ranks.items():
        counts = np.histogram(r, bins=4, range=(0, n_post + 1))[0]
        p = stats.chisquare(counts).pvalue
        print(f"SBC {q}: {runs} runs, rank counts {counts.tolist()}, chi-square p = {p:.3f}")
        assert p > 0.001, f"{q}: ranks not uniform (chi-square p = {p:.2g}, counts {counts})"
