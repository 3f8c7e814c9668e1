import importlib.util

import pytest

import bdfm
from bdfm.inference.samplers import SAMPLERS, default_sampler
from bdfm.spec import DFMSpec


def test_default_is_the_fastest_installed():
    expected = "nutpie" if importlib.util.find_spec("nutpie") else "pymc"
    assert default_sampler() == expected
    assert set(SAMPLERS) == {"nutpie", "pymc", "numpyro", "blackjax"}


def test_sampler_choice_errors():
    spec = DFMSpec(n_factors=1)
    data, _ = bdfm.simulate(spec, n_time=50, n_series=3, random_seed=1)
    model = bdfm.DynamicFactorModel(data, n_factors=1)
    with pytest.raises(ValueError, match="unknown sampler"):
        model.fit(sampler="hmc")
    with pytest.raises(ValueError, match="init must be"):
        model.fit(init="prior")


def test_missing_optional_sampler_names_the_extra(monkeypatch):
    import bdfm.inference.samplers as sampling

    monkeypatch.setattr(sampling, "_installed", lambda module: module != "numpyro")
    with pytest.raises(ImportError, match=r"pip install 'bdfm\[jax\]'"):
        sampling._require("numpyro")
