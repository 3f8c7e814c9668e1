"""PyTensor Ops wrapping the numba Kalman kernels, with their gradient.

``KalmanLoglik()(C, b, A, q, P0)`` returns the state part of the pointwise
log-likelihood (T,). Its gradient is ``KalmanLoglikGrad``, computed by one
smoother pass (Fisher's identity, see :mod:`bdfm.statespace.kernels`).

Both Ops run their numba kernel directly in Python mode (C/default backend) and
are registered for pytensor's NUMBA backend (used by nutpie), so every sampler
uses the same likelihood. A JAX registration is provided when JAX is installed.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bdfm.statespace import kernels

__all__ = ["KalmanLoglik", "KalmanLoglikGrad", "kalman_grad_op", "kalman_loglik_op"]

_KERNEL_VERSION = 1
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
    """Pointwise state part of the collapsed Kalman log-likelihood."""

    __props__ = ()

    def make_node(self, C, b, A, q, P0):
        inputs = _as_inputs((C, b, A, q, P0), _NDIMS, _NAMES)
        return Apply(self, inputs, [pt.dvector()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = kernels.filter_loglike(*_contiguous(inputs))

    def infer_shape(self, fgraph, node, shapes):
        return [(shapes[1][0],)]

    def L_op(self, inputs, outputs, output_grads):
        (g,) = output_grads
        return list(kalman_grad_op(*inputs, g))


class KalmanLoglikGrad(Op):
    """Gradient of ``sum(g * KalmanLoglik(...))`` for a constant cotangent ``g``."""

    __props__ = ()

    def make_node(self, C, b, A, q, P0, g):
        inputs = _as_inputs((C, b, A, q, P0, g), (*_NDIMS, 1), (*_NAMES, "g"))
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
    return kernels.filter_loglike, _KERNEL_VERSION


@register_funcify_default_op_cache_key(KalmanLoglikGrad)
def _numba_funcify_grad(op, node=None, **kwargs):
    return kernels.loglike_grad, _KERNEL_VERSION


def _register_jax() -> None:
    """Register the Ops for pytensor's JAX backend (host callbacks)."""
    try:
        import jax
        import jax.numpy as jnp
        from pytensor.link.jax.dispatch import jax_funcify
    except ImportError:  # JAX is an optional extra: nothing to register
        return

    def _loglik_host(*args):
        return kernels.filter_loglike(*_contiguous(args))

    def _grad_host(*args):
        return kernels.loglike_grad(*_contiguous(args))

    @jax.custom_vjp
    def loglik(C, b, A, q, P0):
        shape = jax.ShapeDtypeStruct((b.shape[0],), jnp.float64)
        return jax.pure_callback(_loglik_host, shape, C, b, A, q, P0, vmap_method="sequential")

    def loglik_fwd(C, b, A, q, P0):
        return loglik(C, b, A, q, P0), (C, b, A, q, P0)

    def loglik_bwd(res, g):
        shapes = tuple(jax.ShapeDtypeStruct(x.shape, jnp.float64) for x in res)
        return tuple(jax.pure_callback(_grad_host, shapes, *res, g, vmap_method="sequential"))

    loglik.defvjp(loglik_fwd, loglik_bwd)

    @jax_funcify.register(KalmanLoglik)
    def _jax_loglik(op, **kwargs):
        return loglik

    @jax_funcify.register(KalmanLoglikGrad)
    def _jax_grad(op, **kwargs):
        def grad(C, b, A, q, P0, g):
            shapes = tuple(jax.ShapeDtypeStruct(x.shape, jnp.float64) for x in (C, b, A, q, P0))
            return jax.pure_callback(
                _grad_host, shapes, C, b, A, q, P0, g, vmap_method="sequential"
            )

        return grad


_register_jax()
