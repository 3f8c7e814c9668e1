"""Cholesky factors and triangular solves of small matrices, in numba loops.

The stationary-VAR transform (:func:`bdfm.inference.transforms.stationary_var`)
solves a handful of k x k triangular systems per log-density call. PyTensor's
``SolveTriangular`` sends them to LAPACK through SciPy, and OpenBLAS runs even a
3 x 3 system on all its threads: when another process shares the cores, each
call then waits for a thread (about 0.7 ms per call on 2 cores, profiled by hand;
``benchmarks/bench_threads.py`` measures the whole log density before and after). Plain
substitution loops cost microseconds at these sizes and use one thread. The
same holds for the gradient of PyTensor's ``Cholesky`` (two triangular solves),
hence :func:`cholesky` here too.

:func:`solve_lower` and :func:`solve_upper` are differentiable pytensor graphs
(first derivatives: ``X = L⁻¹B`` gives ``ḡB = L⁻ᵀ ḡX`` and
``ḡL = -tril(ḡB Xᵀ)``), and :func:`cholesky` has the gradient of PyTensor's
``Cholesky`` (Murray 2016), written with those solves. All are registered for the
NUMBA backend like the other kernels.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from numba import njit
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key
from pytensor.tensor.blockwise import Blockwise

from bdfm.statespace.kernels import _chol

__all__ = [
    "Cholesky",
    "SPDSolve",
    "TriangularSolve",
    "cholesky",
    "solve_lower",
    "solve_upper",
    "spd_solve",
]

_OPTS = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_OPTS)
def lower_solve(L, B):
    """``L⁻¹ B`` for lower-triangular ``L`` (k, k) and ``B`` (k, m), by forward substitution."""
    k, m = B.shape
    X = np.empty((k, m))
    for j in range(m):
        for i in range(k):
            s = B[i, j]
            for p in range(i):
                s -= L[i, p] * X[p, j]
            X[i, j] = s / L[i, i]
    return X


@njit(**_OPTS)
def upper_solve(U, B):
    """``U⁻¹ B`` for upper-triangular ``U`` (k, k) and ``B`` (k, m), by back substitution."""
    k, m = B.shape
    X = np.empty((k, m))
    for j in range(m):
        for i in range(k - 1, -1, -1):
            s = B[i, j]
            for p in range(i + 1, k):
                s -= U[i, p] * X[p, j]
            X[i, j] = s / U[i, i]
    return X


@njit(**_OPTS)
def cholesky_lower(A):
    """Lower Cholesky factor of the symmetric (k, k) ``A`` (its lower triangle is read).

    All NaN when ``A`` is not positive definite (a sampler then rejects the point).
    """
    L = np.zeros(A.shape)
    if not _chol(A, L):
        L[:, :] = np.nan
    return L


@njit(**_OPTS)
def spd_solve_batched(C, B):
    """``C_t⁻¹ b_t`` for every t: ``C`` (T, k, k) symmetric positive definite, ``B`` (T, k).

    One Cholesky factor and two substitutions per date, in one loop. Rows whose ``C_t``
    is not positive definite are NaN (a sampler then rejects the point).
    """
    T, k = B.shape
    X = np.empty((T, k))
    L = np.zeros((k, k))
    for t in range(T):
        L[:, :] = 0.0
        if not _chol(C[t], L):
            X[t, :] = np.nan
            continue
        z = lower_solve(L, B[t : t + 1, :].T)
        X[t, :] = upper_solve(np.ascontiguousarray(L.T), z)[:, 0]
    return X


class SPDSolve(Op):
    """``X[t] = C[t]⁻¹ B[t]`` for a batch of small symmetric positive definite ``C[t]``.

    One Op for the whole batch (no per-date Python loop in the C backend, no per-date
    nodes in the gradient). The gradient treats ``C[t]`` as the symmetric matrix it is:
    ``ḡB[t] = C[t]⁻¹ ḡX[t]`` and ``ḡC[t] = -ḡB[t] X[t]ᵀ``, exact for every symmetric
    perturbation of C (the only kind a symmetric ``C`` built upstream produces).
    """

    __props__ = ()

    def make_node(self, C, B):
        C = pt.cast(pt.as_tensor_variable(C), "float64")
        B = pt.cast(pt.as_tensor_variable(B), "float64")
        if C.ndim != 3 or B.ndim != 2:
            raise ValueError("SPDSolve takes C (T, k, k) and B (T, k)")
        return Apply(self, [C, B], [B.type()])

    def perform(self, node, inputs, outputs):
        C, B = (np.ascontiguousarray(x, dtype=np.float64) for x in inputs)
        outputs[0][0] = spd_solve_batched(C, B)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        C, _ = inputs
        (X,) = outputs
        (gX,) = output_grads
        gB = spd_solve(C, gX)
        return [-(gB[:, :, None] * X[:, None, :]), gB]


_SPD_SOLVE = SPDSolve()


def spd_solve(C, B):
    """``C[t]⁻¹ B[t]`` for symmetric positive definite ``C`` (T, k, k), ``B`` (T, k) (graph)."""
    return _SPD_SOLVE(C, B)


class Cholesky(Op):
    """Lower Cholesky factor of a small symmetric positive definite matrix."""

    __props__ = ()
    gufunc_signature = "(m,m)->(m,m)"

    def make_node(self, A):
        A = pt.cast(pt.as_tensor_variable(A), "float64")
        if A.ndim != 2:
            raise ValueError("Cholesky takes a matrix")
        return Apply(self, [A], [A.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = cholesky_lower(np.ascontiguousarray(inputs[0], dtype=np.float64))

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        # PyTensor's Cholesky.L_op (Murray 2016, "Differentiation of the Cholesky
        # decomposition"), with this module's solves
        (L,) = outputs
        (gL,) = output_grads
        inner = L.T @ gL
        phi = pt.tril(inner) - pt.diag(0.5 * pt.diagonal(inner))
        s = solve_upper(L.T, solve_upper(L.T, phi.T).T)
        return [pt.tril(s + s.T) - pt.diag(pt.diagonal(s))]


class TriangularSolve(Op):
    """``A⁻¹ B`` for a triangular (k, k) ``A`` and a (k, m) ``B``; only A's triangle is read."""

    __props__ = ("lower",)
    gufunc_signature = "(m,m),(m,n)->(m,n)"

    def __init__(self, lower: bool):
        self.lower = bool(lower)

    def make_node(self, A, B):
        A = pt.cast(pt.as_tensor_variable(A), "float64")
        B = pt.cast(pt.as_tensor_variable(B), "float64")
        if A.ndim != 2 or B.ndim != 2:
            raise ValueError("TriangularSolve takes a matrix A and a matrix B")
        return Apply(self, [A, B], [B.type()])

    def perform(self, node, inputs, outputs):
        A, B = (np.ascontiguousarray(x, dtype=np.float64) for x in inputs)
        outputs[0][0] = (lower_solve if self.lower else upper_solve)(A, B)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        A, _ = inputs
        (X,) = outputs
        (gX,) = output_grads
        gB = (_LOWER if not self.lower else _UPPER)(A.T, gX)
        gA = -(gB @ X.T)
        return [pt.tril(gA) if self.lower else pt.triu(gA), gB]


# Blockwise, as PyTensor wraps its own linear algebra: PyTensor's rewrites expect
# that form (with a bare Op, elementwise fusion duplicated the Kalman gradient
# node downstream of the Cholesky gradient); without batch dimensions the
# wrapper is rewritten away.
_CHOLESKY = Blockwise(Cholesky())
_LOWER = Blockwise(TriangularSolve(True))
_UPPER = Blockwise(TriangularSolve(False))


def cholesky(A):
    """Lower Cholesky factor of the small symmetric positive definite ``A`` (pytensor graph)."""
    return _CHOLESKY(A)


def solve_lower(L, B):
    """``L⁻¹ B`` for lower-triangular ``L`` (pytensor graph)."""
    return _LOWER(L, B)


def solve_upper(U, B):
    """``U⁻¹ B`` for upper-triangular ``U`` (pytensor graph)."""
    return _UPPER(U, B)


@register_funcify_default_op_cache_key(TriangularSolve)
def _numba_triangular_solve(op, node=None, **kwargs):
    from bdfm.statespace.cache_key import KERNEL_VERSION

    return (lower_solve if op.lower else upper_solve), KERNEL_VERSION


@register_funcify_default_op_cache_key(SPDSolve)
def _numba_spd_solve(op, node=None, **kwargs):
    from bdfm.statespace.cache_key import KERNEL_VERSION

    return spd_solve_batched, KERNEL_VERSION


@register_funcify_default_op_cache_key(Cholesky)
def _numba_cholesky(op, node=None, **kwargs):
    from bdfm.statespace.cache_key import KERNEL_VERSION

    return cholesky_lower, KERNEL_VERSION
