"""JAX backend for the Kalman, statistics, AR(1)-path and small linear-algebra Ops (numpyro / blackjax samplers).

PyMC's JAX samplers convert only the log-density graph and let JAX differentiate
it, so each forward Op becomes a ``jax.custom_vjp`` function: the forward pass
runs the numba kernel on the host through ``jax.pure_callback``, the backward pass
runs the hand-written reverse-mode kernel the same way (the gradient Ops, when a
pytensor gradient graph is converted, map to plain callbacks). Importing this
module registers the conversions; it needs ``jax`` (``pip install 'bdfm[jax]'``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from pytensor.link.jax.dispatch import jax_funcify

from bdfm.statespace import kernels
from bdfm.statespace.ar1_path import AR1Path, AR1PathGrad, ar1_backward, ar1_forward
from bdfm.statespace.ops import KalmanLoglik, KalmanLoglikGrad
from bdfm.statespace.small_linalg import Cholesky, TriangularSolve
from bdfm.statespace.stats_ops import _KINDS, NumbaKernel, NumbaKernelGrad

__all__: list[str] = []


def _kalman_shapes(C, b, A, q, P0):
    T, m = b.shape[0], A.shape[1]
    return [(T,), (T, m), (T, m, m), (T, m), (T, m, m)]


def _stats_shapes(kind, args):
    if kind == "lyapunov":
        m = args[0].shape[1]
        return [(m, m)]
    T, k = args[0].shape[0], args[4 if kind.startswith("ar1") else 2].shape[1]
    m = 2 * k if kind.startswith("ar1") else k
    return [(T, m, m), (T, m), (T,)]


def _host(kernel, n_out):
    def run(*args):
        res = kernel(*[np.ascontiguousarray(a, dtype=np.float64) for a in args])
        res = res if isinstance(res, tuple) else (res,)
        return tuple(np.asarray(r, dtype=np.float64) for r in res[:n_out])

    return run


def _call(kernel, shapes, args):
    structs = tuple(jax.ShapeDtypeStruct(s, jnp.float64) for s in shapes)
    return jax.pure_callback(_host(kernel, len(shapes)), structs, *args, vmap_method="sequential")


def _differentiable(forward, out_shapes, backward, diff):
    """custom_vjp wrapper: ``backward(*inputs, *output_cotangents)`` -> grads of ``diff``."""

    @jax.custom_vjp
    def f(*args):
        return _call(forward, out_shapes(*args), args)

    def f_fwd(*args):
        out = f(*args)
        return out, (args, out)

    def f_bwd(res, cts):
        args, _ = res
        grads = _call(backward, [args[i].shape for i in diff], (*args, *cts))
        full = [jnp.zeros_like(a) for a in args]
        for i, g in zip(diff, grads, strict=True):
            full[i] = g
        return tuple(full)

    f.defvjp(f_fwd, f_bwd)
    return f


@jax_funcify.register(KalmanLoglik)
def _jax_kalman(op, node=None, **kwargs):
    @jax.custom_vjp
    def f(C, b, A, q, P0):
        return _call(kernels.filter_full, _kalman_shapes(C, b, A, q, P0), (C, b, A, q, P0))

    def f_fwd(*args):
        out = f(*args)
        return out, (args, out)

    def f_bwd(res, cts):
        args, out = res
        shapes = [a.shape for a in args]
        # only the log-likelihood output is differentiable (the moments are not)
        return tuple(_call(kernels.loglike_grad, shapes, (*args, *out, cts[0])))

    f.defvjp(f_fwd, f_bwd)
    return f


@jax_funcify.register(NumbaKernel)
def _jax_stats(op, node=None, **kwargs):
    kind = _KINDS[op.kind]
    f = _differentiable(
        kind.forward, lambda *a: _stats_shapes(op.kind, a), kind.backward, kind.diff
    )
    if len(kind.out_ndims) == 1:
        return lambda *args: f(*args)[0]
    return f


@jax_funcify.register(KalmanLoglikGrad)
def _jax_kalman_grad(op, node=None, **kwargs):
    return lambda *args: _call(kernels.loglike_grad, [a.shape for a in args[:5]], args)


@jax_funcify.register(NumbaKernelGrad)
def _jax_stats_grad(op, node=None, **kwargs):
    kind = _KINDS[op.kind]

    def fn(*args):
        out = _call(kind.backward, [args[i].shape for i in kind.diff], args)
        return out if len(kind.diff) > 1 else out[0]

    return fn


@jax_funcify.register(AR1Path)
def _jax_ar1_path(op, node=None, **kwargs):
    f = _differentiable(ar1_forward, lambda z, phi, sd: [z.shape], ar1_backward, (0, 1, 2))
    return lambda z, phi, sd: f(z, phi, sd)[0]


@jax_funcify.register(AR1PathGrad)
def _jax_ar1_path_grad(op, node=None, **kwargs):
    return lambda z, phi, sd, g: _call(
        ar1_backward, [z.shape, phi.shape, sd.shape], (z, phi, sd, g)
    )


@jax_funcify.register(Cholesky)
def _jax_cholesky(op, node=None, **kwargs):
    # JAX differentiates this itself; small k x k matrices
    def cholesky(A):
        return jnp.linalg.cholesky(jnp.tril(A) + jnp.tril(A, -1).T)

    return cholesky


@jax_funcify.register(TriangularSolve)
def _jax_triangular_solve(op, node=None, **kwargs):
    lower = op.lower

    def solve(A, B):
        return jax.scipy.linalg.solve_triangular(A, B, lower=lower)

    return solve
