"""Reusing nutpie's compiled model for a new data set of the same shape."""

import dataclasses

import numpy as np
import pytest
from pytensor.compile.sharedvalue import SharedVariable

import bdfm
from bdfm.inference import samplers
from bdfm.inference.fitting import build_model
from bdfm.inference.samplers import CompiledCache
from bdfm.priors import Prior
from bdfm.spec import DFMSpec

SPEC = DFMSpec(n_factors=2, idiosyncratic="ar1")


@dataclasses.dataclass(frozen=True)
class FakeCompiled:
    """Stands in for nutpie's CompiledPyMCModel (the parts the cache uses)."""

    shared_data: dict
    _coords: dict
    initial_point_func: object = None

    @property
    def coords(self):
        return self._coords

    def with_data(self, **updates):
        return dataclasses.replace(self, shared_data={**self.shared_data, **updates})


def _panel(seed, n_time=60, names=None):
    data, _ = bdfm.simulate(SPEC, n_time=n_time, n_series=5, random_seed=seed)
    if names is not None:
        data.columns = names
    return data


def _pm_model(data, **kw):
    return build_model(bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1"), **kw)


def _remembered(pm_model):
    cache = CompiledCache()
    inputs = CompiledCache._graph(pm_model)[1]
    shared = {v.name: v.get_value() for v in inputs if isinstance(v, SharedVariable)}
    cache.remember(pm_model, FakeCompiled(shared, {"series": list("abcde")}))
    return cache


def test_same_shape_is_reused_with_the_new_data_start_and_coordinates():
    first = _pm_model(_panel(1))
    cache = _remembered(first)
    b = _panel(2, names=list("vwxyz"))
    b.iloc[:5, 1] = np.nan
    second = _pm_model(b)
    start = second.initial_point()
    reused = cache.reuse(second, start)
    assert reused is not None
    assert {"y_obs", "y_lag", "loading_free_index"} <= set(reused.shared_data)
    for v in second.data_vars:
        if v.name in reused.shared_data:
            np.testing.assert_array_equal(reused.shared_data[v.name], v.get_value())
    assert list(reused.coords["series"]) == list("vwxyz")
    flat = reused.initial_point_func(0)
    names = [second.rvs_to_values[rv].name for rv in second.free_RVs]
    np.testing.assert_array_equal(flat, np.concatenate([start[n].ravel() for n in names]))


def test_anything_but_the_data_differing_is_not_reused():
    first = _pm_model(_panel(1))
    cache = _remembered(first)
    other_prior = {"idio_sd": Prior("HalfNormal", sigma=2.0)}
    assert cache.reuse(_pm_model(_panel(2), priors=other_prior), {}) is None
    assert cache.reuse(_pm_model(_panel(2, n_time=61)), {}) is None  # another shape
    assert cache.reuse(_pm_model(_panel(2), loadings="normal"), {}) is None


@pytest.mark.slow
def test_a_reused_compile_samples_exactly_as_a_fresh_one():
    a, b = _panel(1, n_time=120), _panel(2, n_time=120, names=list("vwxyz"))
    b.iloc[:10, 2] = np.nan
    kw = {"draws": 50, "tune": 50, "chains": 2, "random_seed": 3, "progressbar": False}
    samplers.COMPILED.entries.clear()
    bdfm.DynamicFactorModel(a, n_factors=2, idiosyncratic="ar1").fit(**kw)
    reused = bdfm.DynamicFactorModel(b, n_factors=2, idiosyncratic="ar1").fit(**kw)
    samplers.COMPILED.entries.clear()
    fresh = bdfm.DynamicFactorModel(b, n_factors=2, idiosyncratic="ar1").fit(**kw)
    assert "compile_s" in reused.idata.attrs["timings"]
    for name in ("loadings", "factor_ar", "idio_sd", "idio_ar", "factors"):
        np.testing.assert_array_equal(reused.posterior[name].values, fresh.posterior[name].values)
    assert list(reused.posterior["series"].values) == list("vwxyz")


def test_split_loadings_with_other_anchors_are_reused():
    """What fit() builds (gauge="split"): the reference, bases and the anchors' places are
    data, so a data set of the same shape with other anchors shares the compiled graph."""
    first = _pm_model(_panel(1), gauge="split", anchors=["y1", "y2"])
    cache = _remembered(first)
    second = _pm_model(_panel(2), gauge="split", anchors=["y4", "y3"])
    reused = cache.reuse(second, second.initial_point())
    assert reused is not None
    assert {"loading_reference", "loading_gauge_basis", "loading_is_free"} <= set(
        reused.shared_data
    )
