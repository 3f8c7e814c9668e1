"""Stationarity transform against statsmodels' implementation of the same construction."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bdfm.inference.transforms import stationary_var, stationary_var_inverse_diagonal
from bdfm.params import is_stationary


def _fn(p, k):
    x = pt.tensor("x", shape=(p, k, k), dtype="float64")
    return pytensor.function([x], stationary_var(x))


@pytest.mark.reference
@pytest.mark.parametrize("p,k", [(1, 1), (1, 3), (2, 2), (3, 2)])
def test_matches_statsmodels(p, k, rng):
    tools = pytest.importorskip("statsmodels.tsa.statespace.tools")
    f = _fn(p, k)
    for _ in range(3):
        raw = rng.standard_normal((p, k, k)) * 1.5
        ours = f(raw)
        ref, _ = tools.constrain_stationary_multivariate(
            np.concatenate(list(raw), axis=1), np.eye(k)
        )
        ref = np.stack(np.split(np.asarray(ref), p, axis=1))
        np.testing.assert_allclose(ours, ref, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("p,k", [(1, 2), (2, 3)])
def test_always_stationary_and_differentiable(p, k, rng):
    x = pt.tensor("x", shape=(p, k, k), dtype="float64")
    A = stationary_var(x)
    f = pytensor.function([x], [A, pytensor.grad((A**2).sum(), x)])
    for scale in (0.1, 1.0, 5.0):
        raw = rng.standard_normal((p, k, k)) * scale
        val, grad = f(raw)
        assert is_stationary(val)
        assert np.all(np.isfinite(grad))


def test_diagonal_inverse_round_trip():
    A = np.zeros((2, 2, 2))
    A[0] = np.diag([0.6, -0.3])
    raw = stationary_var_inverse_diagonal(A)
    np.testing.assert_allclose(_fn(2, 2)(raw), A, atol=1e-10)
    with pytest.raises(ValueError, match="diag"):
        stationary_var_inverse_diagonal(np.ones((1, 2, 2)))
