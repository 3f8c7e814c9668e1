"""PyTensor Ops wrapping the numba Kalman kernels, with their gradient.

``KalmanLoglik()(C, b, A, q, P0)`` returns the state part of the pointwise
log-likelihood (T,). Its gradient is ``KalmanLoglikGrad``, computed by one
smoother pass (Fisher's identity, see :mod:`bdfm.statespace.kernels`).

Both Ops run their numba kernel directly in Python mode (C/default backend) and
are registered for pytensor's NUMBA backend (used by nutpie), so those samplers
use the same likelihood; :mod:`bdfm.statespace.jax_ops` registers them for the
JAX backend. The NUMBA cache key of every custom Op includes
:data:`bdfm.statespace.cache_key.KERNEL_VERSION`, a hash of the kernel sources.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bdfm.statespace import kernels
from bdfm.statespace.cache_key import KERNEL_VERSION

__all__ = ["KalmanLoglik", "KalmanLoglikGrad", "kalman_grad_op", "kalman_loglik_op"]

_NDIMS = (3, 2, 2, 2, 2)
_NAMES = ("C", "b", "A", "q", "P0")


def _as_inputs(args, ndims, names):
    out = []
    for x, nd, name in zip(args, ndims, names, strict=True):
        v = pt.as_tensor_variable(x)
        if v.ndim != nd:
            raise ValueError(f"Kalman Op input {name!r} must have {nd} dimensions, got {v.ndim}")
        out.append(pt.cast(v, "float64"))
    return out


def _contiguous(inputs):
    return [np.ascontiguousarray(x, dtype=np.float64) for x in inputs]


class KalmanLoglik(Op):
    """Pointwise state part of the collapsed Kalman log-likelihood.

    Outputs ``(ll, x_pred, P_pred, x_filt, P_filt)``: the pointwise values and
    the filter moments, which the gradient reuses (the filter runs once per
    log-density-and-gradient evaluation). Only ``ll`` is differentiable.
    """

    __props__ = ()

    def make_node(self, C, b, A, q, P0):
        inputs = _as_inputs((C, b, A, q, P0), _NDIMS, _NAMES)
        outputs = [pt.dvector(), pt.dmatrix(), pt.dtensor3(), pt.dmatrix(), pt.dtensor3()]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, outputs):
        res = kernels.filter_full(*_contiguous(inputs))
        for out, val in zip(outputs, res, strict=True):
            out[0] = val

    def infer_shape(self, fgraph, node, shapes):
        T, m = shapes[1][0], shapes[2][1]
        return [(T,), (T, m), (T, m, m), (T, m), (T, m, m)]

    def L_op(self, inputs, outputs, output_grads):
        g = output_grads[0]
        if any(not isinstance(og.type, DisconnectedType) for og in output_grads[1:]):
            raise NotImplementedError(
                "only the log-likelihood output of KalmanLoglik is differentiable"
            )
        if isinstance(g.type, DisconnectedType):
            return [DisconnectedType()() for _ in inputs]
        return list(kalman_grad_op(*inputs, *outputs, g))

    def connection_pattern(self, node):
        return [[True, False, False, False, False] for _ in node.inputs]


class KalmanLoglikGrad(Op):
    """Gradient of ``sum(g * ll)`` for a constant cotangent ``g``, given the filter moments."""

    __props__ = ()

    def make_node(self, C, b, A, q, P0, ll, x_pred, P_pred, x_filt, P_filt, g):
        inputs = _as_inputs(
            (C, b, A, q, P0, ll, x_pred, P_pred, x_filt, P_filt, g),
            (*_NDIMS, 1, 2, 3, 2, 3, 1),
            (*_NAMES, "ll", "x_pred", "P_pred", "x_filt", "P_filt", "g"),
        )
        outputs = [x.type() for x in inputs[:5]]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, outputs):
        res = kernels.loglike_grad(*_contiguous(inputs))
        for out, val in zip(outputs, res, strict=True):
            out[0] = val

    def infer_shape(self, fgraph, node, shapes):
        return list(shapes[:5])

    def L_op(self, inputs, outputs, output_grads):
        raise NotImplementedError(
            "Second derivatives of the Kalman likelihood are not implemented; "
            "use a first-order method (NUTS, L-BFGS)."
        )


kalman_loglik_op = KalmanLoglik()
kalman_grad_op = KalmanLoglikGrad()


@register_funcify_default_op_cache_key(KalmanLoglik)
def _numba_funcify_loglik(op, node=None, **kwargs):
    return kernels.filter_full, KERNEL_VERSION


@register_funcify_default_op_cache_key(KalmanLoglikGrad)
def _numba_funcify_grad(op, node=None, **kwargs):
    return kernels.loglike_grad, KERNEL_VERSION
