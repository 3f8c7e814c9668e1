r"""Latent AR(1) paths in non-centred form as one pytensor Op over numba kernels.

``ar1_path(z, phi, sd)`` maps standard-normal innovations ``z`` (T, J) to J
independent stationary zero-mean AR(1) paths ``h`` (T, J):

.. math::

    h_0 = \frac{\sigma}{\sqrt{1-\phi^2}}\, z_0,\qquad
    h_t = \phi\, h_{t-1} + \sigma z_t \quad (t \ge 1),

column by column, with ``phi`` (J,) and ``sd = sigma`` (J,). This is the
non-centred parametrisation of a stochastic-volatility model's log-variances:
for ``z ~ N(0, I)`` every ``h_t`` has the stationary variance
:math:`\sigma^2/(1-\phi^2)`.

A pytensor ``scan`` of the recursion costs one Python-level loop step per time
point in NUTS; here the forward pass is one numba kernel
(:func:`ar1_forward`) and the gradient one hand-written reverse-mode kernel
(:func:`ar1_backward`). For a cotangent :math:`\bar g` of ``h`` the adjoint of
:math:`h_t` (through all later values) is

.. math::

    a_{T-1} = \bar g_{T-1},\qquad a_t = \bar g_t + \phi\, a_{t+1},

and, with :math:`c = \sigma / \sqrt{1-\phi^2}`,

.. math::

    \bar z_0 = c\, a_0,\qquad \bar z_t = \sigma a_t \ (t \ge 1),\\
    \bar\sigma = \frac{a_0 z_0}{\sqrt{1-\phi^2}} + \sum_{t\ge1} a_t z_t,\qquad
    \bar\phi = a_0 z_0\, \sigma\phi\,(1-\phi^2)^{-3/2} + \sum_{t\ge1} a_t h_{t-1}.

``1 - phi**2`` is evaluated as ``(1 - phi) * (1 + phi)``, which stays accurate
(and finite) for ``|phi|`` within 1e-12 of one. ``|phi| >= 1`` is outside the
model (non-stationary start) and gives inf/nan.

The Op runs its kernel directly on the C/default backend, is registered for
pytensor's NUMBA backend (nutpie) with a cache key that hashes this module's
source (:data:`AR1_PATH_VERSION`), and :mod:`bdfm.statespace.jax_ops` registers
it for the JAX backend (numpyro, blackjax).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from numba import njit
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bdfm.statespace.cache_key import KERNEL_MODULES, kernel_sources, source_key

__all__ = [
    "AR1_PATH_VERSION",
    "AR1Path",
    "AR1PathGrad",
    "ar1_backward",
    "ar1_forward",
    "ar1_path",
    "ar1_path_grad_op",
    "ar1_path_op",
    "warm_ar1_path",
]

#: NUMBA cache-key integer of the Ops here: a hash of the shared kernel modules and
#: of this module (so an edit of these kernels invalidates nutpie's compiled cache).
AR1_PATH_VERSION = source_key(kernel_sources((*KERNEL_MODULES, "ar1_path")))


# ----------------------------------------------------------------------------- kernels


@njit(cache=True, nogil=True, error_model="numpy")
def _check_shapes(z, phi, sd):
    if z.shape[1] != phi.shape[0] or z.shape[1] != sd.shape[0]:
        raise ValueError("ar1_path: z must be (T, J) with phi and sd of shape (J,)")


@njit(cache=True, nogil=True, error_model="numpy")
def ar1_forward(z, phi, sd):
    """Stationary zero-mean AR(1) paths from standard-normal innovations.

    Parameters
    ----------
    z : (T, J) float64 array, the innovations.
    phi : (J,) float64 array, the autoregressive coefficients (``|phi| < 1``).
    sd : (J,) float64 array, the innovation standard deviations.

    Returns
    -------
    h : (T, J) float64 array, ``h[0] = sd / sqrt(1 - phi**2) * z[0]`` and
        ``h[t] = phi * h[t-1] + sd * z[t]``.
    """
    _check_shapes(z, phi, sd)
    n_time, n_paths = z.shape
    h = np.empty((n_time, n_paths))
    if n_time == 0:
        return h
    for j in range(n_paths):
        h[0, j] = sd[j] / np.sqrt((1.0 - phi[j]) * (1.0 + phi[j])) * z[0, j]
    for t in range(1, n_time):
        for j in range(n_paths):
            h[t, j] = phi[j] * h[t - 1, j] + sd[j] * z[t, j]
    return h


@njit(cache=True, nogil=True, error_model="numpy")
def ar1_backward(z, phi, sd, g):
    r"""Reverse mode of :func:`ar1_forward`: gradients of ``sum(g * h)``.

    Parameters
    ----------
    z, phi, sd : the inputs of :func:`ar1_forward`.
    g : (T, J) float64 array, the cotangent of ``h``.

    Returns
    -------
    dz : (T, J), dphi : (J,), dsd : (J,), the gradients (see the module docstring;
        the path ``h`` is recomputed, one extra O(TJ) pass).
    """
    _check_shapes(z, phi, sd)
    if g.shape[0] != z.shape[0] or g.shape[1] != z.shape[1]:
        raise ValueError("ar1_path gradient: the cotangent must have the shape of z")
    n_time, n_paths = z.shape
    dz = np.empty((n_time, n_paths))
    dphi = np.zeros(n_paths)
    dsd = np.zeros(n_paths)
    if n_time == 0:
        return dz, dphi, dsd
    h = ar1_forward(z, phi, sd)
    a = np.zeros(n_paths)  # adjoint a_{t+1}, then a_t
    for t in range(n_time - 1, 0, -1):
        for j in range(n_paths):
            at = g[t, j] + phi[j] * a[j]
            a[j] = at
            dz[t, j] = sd[j] * at
            dsd[j] += at * z[t, j]
            dphi[j] += at * h[t - 1, j]
    for j in range(n_paths):
        a0 = g[0, j] + phi[j] * a[j]
        one_m_phi2 = (1.0 - phi[j]) * (1.0 + phi[j])
        inv = 1.0 / np.sqrt(one_m_phi2)
        dz[0, j] = sd[j] * inv * a0
        dsd[j] += a0 * z[0, j] * inv
        dphi[j] += a0 * z[0, j] * sd[j] * phi[j] * inv / one_m_phi2
    return dz, dphi, dsd


def warm_ar1_path() -> None:
    """Compile (or load from numba's cache) both kernels with the Ops' argument types."""
    z = np.zeros((3, 2))
    phi = np.zeros(2)
    sd = np.ones(2)
    ar1_forward(z, phi, sd)
    ar1_backward(z, phi, sd, np.ones((3, 2)))


# ----------------------------------------------------------------------------- Ops


def _as_inputs(z, phi, sd, *rest):
    names = ("z", "phi", "sd", "g")
    ndims = (2, 1, 1, 2)
    out = []
    for x, nd, name in zip((z, phi, sd, *rest), ndims, names, strict=False):
        v = pt.as_tensor_variable(x)
        if v.ndim != nd:
            raise ValueError(f"ar1_path input {name!r} must have {nd} dimensions, got {v.ndim}")
        out.append(pt.cast(v, "float64"))
    n_paths = out[0].type.shape[1]
    for v, name in zip(out[1:3], names[1:3], strict=True):
        if n_paths is not None and v.type.shape[0] is not None and v.type.shape[0] != n_paths:
            raise ValueError(
                f"ar1_path: {name!r} has {v.type.shape[0]} entries but z has {n_paths} columns"
            )
    if len(out) == 4 and out[3].type.shape != (None, None):
        for a, b in zip(out[3].type.shape, out[0].type.shape, strict=True):
            if a is not None and b is not None and a != b:
                raise ValueError("ar1_path gradient: the cotangent must have the shape of z")
    return out


def _contiguous(inputs):
    return [np.ascontiguousarray(x, dtype=np.float64) for x in inputs]


class AR1Path(Op):
    """``h = AR1Path()(z, phi, sd)``: stationary AR(1) paths, (T, J), (J,), (J,) -> (T, J).

    Differentiable in all three inputs; the gradient is :class:`AR1PathGrad`.
    """

    __props__ = ()

    def make_node(self, z, phi, sd):
        inputs = _as_inputs(z, phi, sd)
        return Apply(self, inputs, [pt.tensor(dtype="float64", shape=inputs[0].type.shape)])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = ar1_forward(*_contiguous(inputs))

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[0]]

    def grad(self, inputs, output_grads):
        (g,) = output_grads
        if isinstance(g.type, DisconnectedType):
            return [DisconnectedType()() for _ in inputs]
        return list(ar1_path_grad_op(*inputs, g))


class AR1PathGrad(Op):
    """``(dz, dphi, dsd) = AR1PathGrad()(z, phi, sd, g)``: reverse mode of :class:`AR1Path`."""

    __props__ = ()

    def make_node(self, z, phi, sd, g):
        inputs = _as_inputs(z, phi, sd, g)
        return Apply(self, inputs, [x.type() for x in inputs[:3]])

    def perform(self, node, inputs, outputs):
        res = ar1_backward(*_contiguous(inputs))
        for out, val in zip(outputs, res, strict=True):
            out[0] = val

    def infer_shape(self, fgraph, node, shapes):
        return list(shapes[:3])

    def L_op(self, inputs, outputs, output_grads):
        raise NotImplementedError(
            "second derivatives of ar1_path are not implemented; use a first-order method"
        )


ar1_path_op = AR1Path()
ar1_path_grad_op = AR1PathGrad()


def ar1_path(z, phi, sd) -> pt.TensorVariable:
    r"""Stationary zero-mean AR(1) paths from non-centred innovations (pytensor graph).

    .. math::

        h_0 = \frac{\sigma}{\sqrt{1-\phi^2}}\, z_0,\qquad
        h_t = \phi\, h_{t-1} + \sigma z_t \quad (t \ge 1).

    Parameters
    ----------
    z : (T, J) tensor-like, the innovations (standard normal in the model).
    phi : (J,) tensor-like, the AR coefficients, ``|phi| < 1``; a scalar is
        broadcast to all J paths.
    sd : (J,) tensor-like, the innovation standard deviations; a scalar is
        broadcast to all J paths.

    Returns
    -------
    h : (T, J) float64 tensor. For ``z ~ N(0, I)``, ``Var(h[t, j]) = sd[j]**2 / (1 - phi[j]**2)``
        for every ``t``.

    Raises
    ------
    ValueError
        If ``z`` is not 2-D, ``phi``/``sd`` are not 0-D or 1-D, or (statically
        known, else at evaluation) their length differs from ``z.shape[1]``.
    """
    z = pt.as_tensor_variable(z)
    phi = pt.as_tensor_variable(phi)
    sd = pt.as_tensor_variable(sd)
    if z.ndim == 2:
        if phi.ndim == 0:
            phi = pt.alloc(phi, z.shape[1])
        if sd.ndim == 0:
            sd = pt.alloc(sd, z.shape[1])
    return ar1_path_op(z, phi, sd)


@register_funcify_default_op_cache_key(AR1Path)
def _numba_funcify_ar1_path(op, node=None, **kwargs):
    return ar1_forward, AR1_PATH_VERSION


@register_funcify_default_op_cache_key(AR1PathGrad)
def _numba_funcify_ar1_path_grad(op, node=None, **kwargs):
    return ar1_backward, AR1_PATH_VERSION
