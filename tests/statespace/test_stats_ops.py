"""The generic kernel Ops: gradients wired correctly, data inputs disconnected, errors clear."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bdfm.statespace.stats_ops import NumbaKernel, lyapunov_op


def test_lyapunov_op_gradient_via_pytensor(rng):
    A = pt.dmatrix("A")
    q = pt.dvector("q")
    P = lyapunov_op(A, q)
    obj = (P * np.arange(16.0).reshape(4, 4)).sum()
    f = pytensor.function([A, q], [obj, *pytensor.grad(obj, [A, q])])
    A0 = np.hstack([0.5 * np.eye(2), 0.1 * np.eye(2)])
    q0 = np.ones(2)
    _val, gA, gq = f(A0, q0)
    eps = 1e-6
    E = np.zeros_like(A0)
    E[0, 3] = eps
    assert gA[0, 3] == pytest.approx((f(A0 + E, q0)[0] - f(A0 - E, q0)[0]) / (2 * eps), rel=1e-6)
    assert gq.shape == (2,)


def test_data_inputs_are_not_differentiable(rng):
    y = pt.dmatrix("y")
    lam = pt.dmatrix("lam")
    _C, b, const = NumbaKernel("iid_scaled")(y, pt.ones_like(y), lam, pt.ones(3), pt.ones_like(y))
    with pytest.raises(pytensor.gradient.DisconnectedInputError):
        pytensor.grad(const.sum(), y)
    g = pytensor.grad(b.sum(), lam)  # only b is used: C and const cotangents are zeros
    out = g.eval({y: rng.standard_normal((4, 3)), lam: rng.standard_normal((3, 2))})
    assert out.shape == (3, 2)


def test_unknown_kind_and_wrong_rank():
    with pytest.raises(ValueError, match="unknown kernel kind 'garch'"):
        NumbaKernel("garch")
    with pytest.raises(ValueError, match="must have 2 dimensions"):
        lyapunov_op(pt.dvector(), pt.dvector())
