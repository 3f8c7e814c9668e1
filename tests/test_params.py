"""Parameter validation: names, shapes and admissibility."""

import numpy as np
import pytest

from bdfm.params import (
    companion_matrix,
    is_stationary,
    param_shapes,
    validate_params,
    volatility_names,
)
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


# ---------------------------------------------------------------- volatility parameters
SV_SPEC = DFMSpec(
    n_factors=2, factor_volatility="sv", idio_volatility="common_sv", tails="student_t"
)


def good_sv():
    return {
        "loadings": np.ones((4, 2)),
        "factor_ar": 0.5 * np.eye(2)[None],
        "idio_sd": np.ones(4),
        "factor_sv_phi": np.full(2, 0.95),
        "factor_sv_sd": np.full(2, 0.2),
        "idio_sv_phi": 0.9,
        "idio_sv_sd": np.array(0.1),
        "tails_nu": 6.0,
    }


def test_volatility_shapes_and_names():
    assert volatility_names(DFMSpec(2, idiosyncratic="ar1")) == []
    assert param_shapes(SV_SPEC, 4) == {
        "loadings": (4, 2),
        "factor_ar": (1, 2, 2),
        "idio_sd": (4,),
        "factor_sv_phi": (2,),
        "factor_sv_sd": (2,),
        "idio_sv_phi": (),
        "idio_sv_sd": (),
        "tails_nu": (),
    }
    assert volatility_names(SV_SPEC) == [
        "factor_sv_phi",
        "factor_sv_sd",
        "idio_sv_phi",
        "idio_sv_sd",
        "tails_nu",
    ]
    per_series = param_shapes(DFMSpec(2, idiosyncratic="ar1", idio_volatility="sv"), 4)
    names = ["loadings", "factor_ar", "idio_sd", "idio_ar", "idio_sv_phi", "idio_sv_sd"]
    assert list(per_series) == names
    assert per_series["idio_sv_phi"] == per_series["idio_sv_sd"] == (4,)
    out = validate_params(good_sv(), SV_SPEC, 4)
    assert out["idio_sv_phi"].shape == () and out["tails_nu"] == 6.0


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"factor_sv_phi": np.r_[0.5, 1.0]}, "'factor_sv_phi' must lie in (-1, 1)"),
        ({"idio_sv_phi": -1.0}, "'idio_sv_phi' must lie in (-1, 1)"),
        ({"factor_sv_sd": np.r_[0.1, -0.1]}, "'factor_sv_sd' (sd of the log-variance"),
        ({"idio_sv_sd": np.inf}, "'idio_sv_sd' contains NaN or infinite"),
        ({"tails_nu": 2.0}, "'tails_nu' (Student-t degrees of freedom) must be > 2"),
        ({"tails_nu": np.inf}, "'tails_nu' contains NaN or infinite"),
        ({"idio_sv_phi": np.r_[0.9]}, "'idio_sv_phi' has shape (1,), expected ()"),
    ],
)
def test_bad_volatility_params(change, fragment):
    with pytest.raises(ValueError, match="Invalid parameters") as err:
        validate_params(good_sv() | change, SV_SPEC, 4)
    assert fragment in str(err.value)


def test_garch_params_shapes_and_admissibility():
    spec = DFMSpec(2, factor_volatility="garch")
    assert volatility_names(spec) == [
        "factor_garch_alpha",
        "factor_garch_beta",
        "factor_garch_gamma",
    ]
    base = {"loadings": np.ones((4, 2)), "factor_ar": np.zeros((1, 2, 2)), "idio_sd": np.ones(4)}
    garch = {"factor_garch_alpha": [0.1, 0.0], "factor_garch_beta": [0.8, 0.9]}
    ok = base | garch | {"factor_garch_gamma": [0.1, 0.0]}
    validate_params(ok, spec, 4)
    for change in (
        {"factor_garch_alpha": [0.1, -0.1]},
        {"factor_garch_beta": [0.8, 0.95], "factor_garch_gamma": [0.0, 0.2]},
        {"factor_garch_gamma": [0.0, -0.01]},
    ):
        bad = ok | change
        with pytest.raises(ValueError, match=r"gamma/2 \+ beta < 1.*position\(s\) \[1\]"):
            validate_params(bad, spec, 4)
    with pytest.raises(ValueError, match="factor_volatility='garch'"):
        validate_params(ok, DFMSpec(2), 4)


def test_idio_garch_params_are_per_series():
    spec = DFMSpec(2, idio_volatility="garch", tails="student_t")
    shapes = param_shapes(spec, 4)
    assert [n for n in shapes if n.startswith("idio_garch")] == [
        "idio_garch_alpha",
        "idio_garch_beta",
        "idio_garch_gamma",
    ]
    assert shapes["idio_garch_alpha"] == (4,)
    base = {"loadings": np.ones((4, 2)), "factor_ar": np.zeros((1, 2, 2)), "idio_sd": np.ones(4)}
    ok = base | {"tails_nu": 6.0, "idio_garch_alpha": np.full(4, 0.1),
                 "idio_garch_beta": np.full(4, 0.8), "idio_garch_gamma": np.zeros(4)}  # fmt: skip
    validate_params(ok, spec, 4)
    with pytest.raises(ValueError, match=r"'idio_garch_alpha'.*position\(s\) \[2\]"):
        validate_params(ok | {"idio_garch_beta": np.array([0.8, 0.8, 0.95, 0.8])}, spec, 4)


def test_volatility_problems_listed_together_and_zero_sd_allowed():
    bad = good_sv() | {"factor_sv_phi": np.r_[1.2, 0.5], "idio_sv_sd": -0.5, "tails_nu": 1.0}
    with pytest.raises(ValueError) as err:
        validate_params(bad, SV_SPEC, 4)
    msg = str(err.value)
    assert "'factor_sv_phi' must lie in (-1, 1)" in msg and "position(s) [0]" in msg
    assert "'idio_sv_sd'" in msg and "got 1" in msg
    validate_params(good_sv() | {"factor_sv_sd": np.zeros(2), "idio_sv_sd": 0.0}, SV_SPEC, 4)


def test_volatility_names_on_a_constant_spec_say_what_they_need():
    extra = {"factor_sv_phi": np.full(2, 0.9), "tails_nu": 5.0}
    with pytest.raises(ValueError, match="unknown parameter") as err:
        validate_params(good() | extra, SPEC, 4)
    assert "'factor_sv_phi' needs factor_volatility='sv'" in str(err.value)
    assert "'tails_nu' needs tails='student_t'" in str(err.value)
