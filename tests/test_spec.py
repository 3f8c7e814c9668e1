import pytest

from bdfm.spec import DFMSpec


def test_roundtrip_and_state_dim():
    spec = DFMSpec(n_factors=3, factor_order=1, idiosyncratic="ar1")
    assert DFMSpec.from_json(spec.to_json()) == spec
    assert hash(spec) == hash(DFMSpec.from_dict(spec.to_dict()))
    assert spec.state_dim == 6
    assert DFMSpec(3, 2).state_dim == 6
    assert DFMSpec(3, 1).state_dim == 3


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n_factors": 0}, "n_factors must be a positive integer"),
        ({"n_factors": 2, "factor_order": 0}, "factor_order must be a positive integer"),
        ({"n_factors": 2, "idiosyncratic": "garch"}, "idiosyncratic must be one of"),
        ({"n_factors": 2.5}, "n_factors must be a positive integer"),
    ],
)
def test_invalid(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        DFMSpec(**kwargs)


def test_unknown_field():
    with pytest.raises(ValueError, match="Unknown specification field"):
        DFMSpec.from_dict({"n_factors": 1, "n_factor": 2})
