import numpy as np
import pytest

from bdfm.inference.optim import maximize


def test_maximize_a_concave_quadratic_over_named_arrays():
    target = {"a": np.array([[1.0, -2.0], [0.5, 3.0]]), "b": np.array([4.0])}

    def value_and_grad(a, b):
        return (
            -np.sum((a - target["a"]) ** 2) - 2 * np.sum((b - target["b"]) ** 2),
            -2 * (a - target["a"]),
            -4 * (b - target["b"]),
        )

    res = maximize(value_and_grad, {"a": np.zeros((2, 2)), "b": np.zeros(1)})
    assert res.converged
    np.testing.assert_allclose(res.x["a"], target["a"], atol=1e-6)
    np.testing.assert_allclose(res.x["b"], target["b"], atol=1e-6)
    assert res.value == pytest.approx(0.0, abs=1e-10)
    assert res.n_evals >= res.n_iter


def test_non_finite_values_are_rejected_steps():
    def value_and_grad(x):
        if x[0] > 2:
            return -np.inf, np.zeros(1)
        return -((x[0] - 1.5) ** 2), -2 * (x - 1.5)

    res = maximize(value_and_grad, {"x": np.zeros(1)})
    np.testing.assert_allclose(res.x["x"], [1.5], atol=1e-5)
