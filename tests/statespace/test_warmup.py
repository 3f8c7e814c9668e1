"""The background warm-up compiles exactly the kernel specialisations a real call uses."""

import numpy as np
import pytensor
import pytest

from bdfm import DynamicFactorModel
from bdfm.simulation import random_params, simulate
from bdfm.spec import DFMSpec
from bdfm.statespace import kernels
from bdfm.statespace import stats_kernels as sk
from bdfm.statespace.warmup import compile_with_warmup, warm_kernels

KERNELS = {
    "iid": [sk.iid_stats_unscaled, sk.iid_stats_unscaled_grad],
    "ar1": [sk.ar1_stats_unscaled, sk.ar1_stats_unscaled_grad],
}
COMMON = [sk.lyapunov, sk.lyapunov_grad, kernels.filter_full, kernels.loglike_grad]


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_warmup_covers_the_real_call(idio):
    warm_kernels(idio)
    used = KERNELS[idio] + COMMON
    before = {f: set(f.signatures) for f in used}
    assert all(before.values()), "warm-up left a kernel uncompiled"
    spec = DFMSpec(n_factors=2, idiosyncratic=idio)
    params = random_params(spec, 6, 1)
    data, _ = simulate(spec, params, 40, random_seed=1)
    data.iloc[:5, 0] = np.nan
    model = DynamicFactorModel(data, n_factors=2, idiosyncratic=idio, standardize=False)
    model.loglike_and_grad(params)
    for f in used:
        assert set(f.signatures) == before[f], f"{f.__name__} compiled a new specialisation"


@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_warm_kernels_runs_every_flavour(idio, scaled):
    warm_kernels(idio, scaled)
    fwd = {
        ("iid", False): sk.iid_stats_unscaled,
        ("iid", True): sk.iid_stats,
        ("ar1", False): sk.ar1_stats_unscaled,
        ("ar1", True): sk.ar1_stats,
    }[idio, scaled]
    assert fwd.signatures


def test_compile_with_warmup_is_a_pytensor_function():
    x = pytensor.tensor.dvector("x")
    f = compile_with_warmup([x], (x**2).sum(), "iid")
    assert f(np.array([1.0, 2.0])) == pytest.approx(5.0)
