"""bdfm.api: the public names and the methods it attaches to the model and the fit."""

from __future__ import annotations

import inspect

import pytest

import bdfm
from bdfm.api import METHODS
from bdfm.model import DynamicFactorModel
from bdfm.posterior.forecast import forecast_fit
from bdfm.results import FitResult, fit


def test_public_names_resolve_and_methods_are_attached():

    for name in bdfm.__all__:
        assert getattr(bdfm, name) is not None

    for cls, methods in METHODS.items():
        for method in methods:
            assert method in vars(cls), f"{cls.__name__}.{method} not attached"


@pytest.mark.parametrize("name", ["no_such_thing", "fit"])
def test_unknown_public_name_raises_attribute_error(name):

    with pytest.raises(AttributeError, match=name):
        getattr(bdfm, name)


def test_attached_methods_are_the_functions_themselves():
    assert DynamicFactorModel.fit is fit
    assert FitResult.forecast is forecast_fit
    # the signature (after the instance) is the function's: defaults live in one place
    sig = inspect.signature(FitResult.forecast)
    assert next(iter(sig.parameters)) == "fit"
    assert sig.parameters["steps"].default == 1


def test_fit_has_the_signature_of_fit_bayes():
    from bdfm.inference.fitting import fit_bayes

    assert list(inspect.signature(fit).parameters) == list(inspect.signature(fit_bayes).parameters)
    assert "FitResult" in (fit.__doc__ or "")


def test_public_simulate_is_the_function():
    import bdfm.simulation

    assert callable(bdfm.simulate)


def test_the_facade_and_the_api_list_the_same_names():
    # bdfm/__init__.py lists them for the lazy lookup (it cannot import bdfm.api eagerly)
    import bdfm.api

    assert set(bdfm.api.__all__) | {"__version__"} == set(bdfm.__all__)
