"""Parameter validation: names, shapes and admissibility."""

import numpy as np
import pytest

from bdfm.params import companion_matrix, is_stationary, param_shapes, validate_params
from bdfm.spec import DFMSpec

SPEC = DFMSpec(n_factors=2, factor_order=1, idiosyncratic="ar1")


def good():
    return {
        "loadings": np.ones((4, 2)),
        "factor_ar": 0.5 * np.eye(2)[None],
        "idio_sd": np.ones(4),
        "idio_ar": np.zeros(4),
    }


def test_shapes():
    assert param_shapes(SPEC, 4) == {
        "loadings": (4, 2),
        "factor_ar": (1, 2, 2),
        "idio_sd": (4,),
        "idio_ar": (4,),
    }
    assert "idio_ar" not in param_shapes(DFMSpec(2), 4)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"loading": np.ones((4, 2))}, "unknown parameter name(s) ['loading']"),
        ({"loadings": np.ones((3, 2))}, "'loadings' has shape (3, 2), expected (4, 2)"),
        ({"idio_sd": -np.ones(4)}, "'idio_sd' must be > 0"),
        ({"idio_ar": np.r_[0.0, 1.0, 0, 0]}, "'idio_ar' must lie in (-1, 1)"),
        ({"factor_ar": 1.01 * np.eye(2)[None]}, "'factor_ar' is not stationary"),
        ({"loadings": np.full((4, 2), np.nan)}, "NaN or infinite"),
    ],
)
def test_bad_params(change, fragment):
    params = good() | change
    with pytest.raises(ValueError, match="Invalid parameters") as err:
        validate_params(params, SPEC, 4)
    assert fragment in str(err.value)


def test_missing_param_and_iid_hint():
    params = good()
    del params["idio_sd"]
    with pytest.raises(ValueError, match=r"missing parameter\(s\) \['idio_sd'\]"):
        validate_params(params, SPEC, 4)
    with pytest.raises(ValueError, match="needs idiosyncratic='ar1'"):
        validate_params(good(), DFMSpec(2), 4)


def test_model_loglike_validates(rng):
    import pandas as pd

    import bdfm

    df = pd.DataFrame(rng.standard_normal((20, 4)), index=pd.date_range("2021", periods=20))
    model = bdfm.DynamicFactorModel(df, 2, idiosyncratic="ar1")
    with pytest.raises(ValueError, match="not stationary"):
        model.loglike(good() | {"factor_ar": np.array([[[0.9, 0.5], [0.5, 0.9]]])})


def test_companion_and_stationarity():
    A = np.stack([0.5 * np.eye(2), 0.3 * np.eye(2)])
    T = companion_matrix(A)
    assert T.shape == (4, 4)
    np.testing.assert_array_equal(T[2:, :2], np.eye(2))
    assert is_stationary(A)
    assert not is_stationary(np.stack([0.7 * np.eye(2), 0.3 * np.eye(2)]))
