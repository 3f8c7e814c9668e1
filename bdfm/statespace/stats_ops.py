"""PyTensor Ops for the observation statistics and the stationary covariance.

One generic pair of Ops, :class:`NumbaKernel` and its gradient
:class:`NumbaKernelGrad`, parametrised by ``kind`` ("iid", "iid_scaled", "ar1", "ar1_scaled", "lyapunov"):
each kind names a forward numba kernel, its hand-written reverse-mode kernel,
and which inputs are differentiable (the data inputs are constants). Keeping
these computations in a few compiled kernels rather than dozens of small
pytensor nodes cuts both the per-call cost and, above all, the first-call
compile time of the C backend. Both Ops are registered for pytensor's NUMBA
backend, like the Kalman Op.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bdfm.statespace import stats_kernels as sk
from bdfm.statespace.cache_key import KERNEL_VERSION
from bdfm.statespace.threads import single_blas_thread

__all__ = ["NumbaKernel", "NumbaKernelGrad", "ar1_stats_op", "iid_stats_op", "lyapunov_op"]


class _Kind(NamedTuple):
    forward: object
    backward: object
    in_ndims: tuple[int, ...]
    out_ndims: tuple[int, ...]
    diff: tuple[int, ...]  # positions of differentiable inputs


_KINDS = {
    # y, mask, loadings, var -> C, b, const
    "iid": _Kind(
        sk.iid_stats_unscaled, sk.iid_stats_unscaled_grad, (2, 2, 2, 1), (3, 2, 1), (2, 3)
    ),
    # y, mask, loadings, var, scale -> C, b, const
    "iid_scaled": _Kind(sk.iid_stats, sk.iid_stats_grad, (2, 2, 2, 1, 2), (3, 2, 1), (2, 3, 4)),
    # y, y_lag, m_diff, m_start, loadings, var, rho -> C, b, const
    "ar1": _Kind(
        sk.ar1_stats_unscaled,
        sk.ar1_stats_unscaled_grad,
        (2, 2, 2, 2, 2, 1, 1),
        (3, 2, 1),
        (4, 5, 6),
    ),
    # y, y_lag, m_diff, m_start, loadings, var, rho, scale -> C, b, const
    "ar1_scaled": _Kind(
        sk.ar1_stats, sk.ar1_stats_grad, (2, 2, 2, 2, 2, 1, 1, 2), (3, 2, 1), (4, 5, 6, 7)
    ),
    # A (k, m), q0 (k,) -> P0 (m, m)
    "lyapunov": _Kind(sk.lyapunov, sk.lyapunov_grad, (2, 1), (2,), (0, 1)),
}


def _tensor(ndim: int) -> pt.TensorVariable:
    return pt.tensor(dtype="float64", shape=(None,) * ndim)


def _cast_inputs(kind: str, args) -> list[pt.TensorVariable]:
    ndims = _KINDS[kind].in_ndims
    if len(args) != len(ndims):
        raise TypeError(f"{kind} kernel takes {len(ndims)} inputs, got {len(args)}")
    out = []
    for pos, (x, nd) in enumerate(zip(args, ndims, strict=True)):
        v = pt.as_tensor_variable(x)
        if v.ndim != nd:
            raise ValueError(f"{kind} kernel input {pos} must have {nd} dimensions, got {v.ndim}")
        out.append(pt.cast(v, "float64"))
    return out


def _run(fn, inputs, outputs):
    args = [np.ascontiguousarray(x, dtype=np.float64) for x in inputs]
    with single_blas_thread():  # small products: BLAS threads cost more than they save
        res = fn(*args)
    if len(outputs) == 1:
        res = (res,)
    for out, val in zip(outputs, res, strict=True):
        out[0] = val


class NumbaKernel(Op):
    """Forward numba kernel of the given ``kind`` as a pytensor Op."""

    __props__ = ("kind",)

    def __init__(self, kind: str):
        if kind not in _KINDS:
            raise ValueError(f"unknown kernel kind {kind!r}; valid: {sorted(_KINDS)}")
        self.kind = kind

    def make_node(self, *args):
        inputs = _cast_inputs(self.kind, args)
        return Apply(self, inputs, [_tensor(nd) for nd in _KINDS[self.kind].out_ndims])

    def perform(self, node, inputs, outputs):
        _run(_KINDS[self.kind].forward, inputs, outputs)

    def connection_pattern(self, node):
        diff = _KINDS[self.kind].diff
        n_out = len(node.outputs)
        return [[i in diff] * n_out for i in range(len(node.inputs))]

    def L_op(self, inputs, outputs, output_grads):
        grads = [
            pt.zeros_like(out) if isinstance(g.type, DisconnectedType) else g
            for out, g in zip(outputs, output_grads, strict=True)
        ]
        diff_grads = NumbaKernelGrad(self.kind)(*inputs, *grads)
        if not isinstance(diff_grads, list | tuple):
            diff_grads = [diff_grads]
        diff = _KINDS[self.kind].diff
        result, it = [], iter(diff_grads)
        for i in range(len(inputs)):
            result.append(next(it) if i in diff else DisconnectedType()())
        return result


class NumbaKernelGrad(Op):
    """Reverse-mode kernel: inputs then output cotangents -> grads of the differentiable inputs."""

    __props__ = ("kind",)

    def __init__(self, kind: str):
        self.kind = kind

    def make_node(self, *args):
        spec = _KINDS[self.kind]
        n_in = len(spec.in_ndims)
        inputs = _cast_inputs(self.kind, args[:n_in])
        for g, nd in zip(args[n_in:], spec.out_ndims, strict=True):
            g = pt.cast(pt.as_tensor_variable(g), "float64")
            if g.ndim != nd:
                raise ValueError(f"{self.kind} gradient: cotangent must have {nd} dimensions")
            inputs.append(g)
        return Apply(self, inputs, [inputs[i].type() for i in spec.diff])

    def perform(self, node, inputs, outputs):
        _run(_KINDS[self.kind].backward, inputs, outputs)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[i] for i in _KINDS[self.kind].diff]

    def L_op(self, inputs, outputs, output_grads):
        raise NotImplementedError(
            f"second derivatives of the {self.kind} kernel are not implemented"
        )


iid_stats_op = NumbaKernel("iid")
iid_scaled_stats_op = NumbaKernel("iid_scaled")
ar1_stats_op = NumbaKernel("ar1")
ar1_scaled_stats_op = NumbaKernel("ar1_scaled")
lyapunov_op = NumbaKernel("lyapunov")


@register_funcify_default_op_cache_key(NumbaKernel)
def _numba_forward(op, node=None, **kwargs):
    return _KINDS[op.kind].forward, KERNEL_VERSION


@register_funcify_default_op_cache_key(NumbaKernelGrad)
def _numba_backward(op, node=None, **kwargs):
    return _KINDS[op.kind].backward, KERNEL_VERSION
