"""The non-centred AR(1)-path Op: values, hand-written gradient, backends, errors."""

import time
from fractions import Fraction

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.link.numba.dispatch.basic import (
    default_hash_key_from_props,
    numba_funcify_and_cache_key,
)

from bdfm.statespace import cache_key
from bdfm.statespace.ar1_path import (
    AR1_PATH_VERSION,
    ar1_backward,
    ar1_forward,
    ar1_path,
    ar1_path_grad_op,
    ar1_path_op,
)

PHI = np.array([0.95, -0.3, 0.0])
SD = np.array([0.2, 1.3, 0.7])


def loop_path(z, phi, sd):
    """The recursion as a plain Python loop."""
    T, J = z.shape
    h = np.empty((T, J))
    for j in range(J):
        h[0, j] = sd[j] / np.sqrt(1.0 - phi[j] ** 2) * z[0, j]
        for t in range(1, T):
            h[t, j] = phi[j] * h[t - 1, j] + sd[j] * z[t, j]
    return h


def scan_path(z, phi, sd):
    """The recursion as a pytensor scan (reference for pytensor's own autodiff)."""
    h0 = sd / pt.sqrt(1.0 - phi**2) * z[0]
    rest = pytensor.scan(
        lambda zt, h_prev, phi, sd: phi * h_prev + sd * zt,
        sequences=[z[1:]],
        outputs_info=[h0],
        non_sequences=[phi, sd],
        return_updates=False,
    )
    return pt.concatenate([h0[None], rest], axis=0)


def _value_and_grad(path_fn, mode=None):
    z, phi, sd, w = pt.dmatrix("z"), pt.dvector("phi"), pt.dvector("sd"), pt.dmatrix("w")
    h = path_fn(z, phi, sd)
    obj = (w * h).sum() + 0.5 * (h**2).sum()  # nonlinear in h: cotangent depends on h
    return pytensor.function([z, phi, sd, w], [h, *pytensor.grad(obj, [z, phi, sd])], mode=mode)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    T = 40
    return rng.standard_normal((T, 3)), PHI, SD, rng.standard_normal((T, 3))


@pytest.fixture(scope="module")
def c_fn():
    return _value_and_grad(ar1_path)


def test_values_match_loop_and_scan(problem):
    z, phi, sd, _ = problem
    h = ar1_path(z, phi, sd).eval()
    np.testing.assert_allclose(h, loop_path(z, phi, sd), rtol=1e-14, atol=1e-14)
    zv, pv, sv = pt.dmatrix(), pt.dvector(), pt.dvector()
    h_scan = pytensor.function([zv, pv, sv], scan_path(zv, pv, sv), mode="FAST_COMPILE")(z, phi, sd)
    np.testing.assert_allclose(h, h_scan, rtol=1e-13, atol=1e-13)
    # the kernel on a non-contiguous (Fortran-ordered) array gives the same (to rounding:
    # the compiled loop may fuse multiply-adds differently for the two layouts)
    np.testing.assert_allclose(
        ar1_forward(np.asfortranarray(z), phi, sd), h, rtol=1e-14, atol=1e-15
    )


def test_gradient_matches_scan_autodiff(problem, c_fn):
    out = c_fn(*problem)
    ref = _value_and_grad(scan_path, mode="FAST_COMPILE")(*problem)  # no C compile of the scan
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_verify_grad(problem):
    z, phi, sd, w = problem
    rng = np.random.default_rng(3)
    pytensor.gradient.verify_grad(
        lambda z, phi, sd: (ar1_path(z, phi, sd) * w[:12]).sum(),
        [z[:12], phi, sd],
        rng=rng,  # one-sided differences (eps 1e-7): pytensor's default float64 tolerances
    )
    # the gradient Op directly (cotangent as an input)
    pytensor.gradient.verify_grad(ar1_path_op, [z[:8], phi, sd], rng=rng)


def test_backward_kernel_is_the_transpose_of_the_forward_map(problem):
    """<g, J v> = <J' g, v> for the Jacobian-vector product by finite differences."""
    z, phi, sd, g = problem
    dz, dphi, dsd = ar1_backward(z, phi, sd, g)
    rng = np.random.default_rng(5)
    vz, vphi, vsd = rng.standard_normal(z.shape), rng.standard_normal(3), rng.standard_normal(3)
    eps = 1e-6
    jvp = (
        ar1_forward(z + eps * vz, phi + eps * vphi, sd + eps * vsd)
        - ar1_forward(z - eps * vz, phi - eps * vphi, sd - eps * vsd)
    ) / (2 * eps)
    lhs = (g * jvp).sum()
    rhs = (dz * vz).sum() + dphi @ vphi + dsd @ vsd
    assert lhs == pytest.approx(rhs, rel=1e-7)


def test_numba_backend_matches_c(problem, c_fn):
    ref = c_fn(*problem)
    out = _value_and_grad(ar1_path, mode="NUMBA")(*problem)
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


def test_numba_cache_key_hashes_this_module(monkeypatch):
    srcs = cache_key.kernel_sources((*cache_key.KERNEL_MODULES, "ar1_path"))
    assert cache_key.source_key(srcs) == AR1_PATH_VERSION
    for op in (ar1_path_op, ar1_path_grad_op):
        _, key = numba_funcify_and_cache_key(op)
        assert key == default_hash_key_from_props(op, cache_version=str(AR1_PATH_VERSION))
        monkeypatch.setattr("bdfm.statespace.ar1_path.AR1_PATH_VERSION", AR1_PATH_VERSION ^ 1)
        assert numba_funcify_and_cache_key(op)[1] != key
        monkeypatch.undo()


@pytest.mark.filterwarnings("ignore:Skipping:UserWarning")
def test_jax_backend_matches_c(problem, c_fn):
    jax = pytest.importorskip("jax")
    from pymc.sampling.jax import get_jaxified_graph

    import bdfm.statespace.jax_ops  # noqa: F401  (registers the conversions)

    jax.config.update("jax_enable_x64", True)
    ref = c_fn(*problem)
    out = _value_and_grad(ar1_path, mode="JAX")(*problem)  # pytensor's gradient graph
    for a, b in zip(out, ref, strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-13, atol=1e-13)
    # JAX's own gradient (custom_vjp around the kernels), as numpyro/blackjax use it
    z, phi, sd, w = pt.dmatrix("z"), pt.dvector("phi"), pt.dvector("sd"), pt.dmatrix("w")
    h = ar1_path(z, phi, sd)
    obj = (w * h).sum() + 0.5 * (h**2).sum()
    f = get_jaxified_graph([z, phi, sd, w], [obj])
    val, grads = jax.jit(jax.value_and_grad(lambda *a: f(*a)[0], argnums=(0, 1, 2)))(*problem)
    c_obj = (problem[3] * ref[0]).sum() + 0.5 * (ref[0] ** 2).sum()
    assert float(val) == pytest.approx(c_obj, rel=1e-13)
    for a, b in zip(grads, ref[1:], strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("phi", [0.9, -0.6, 0.0, 1 - 1e-6])
def test_marginal_variance_is_stationary(phi):
    """h = M z is linear; Var(h_t) = sum_s M[t, s]^2 = sd^2 / (1 - phi^2) for every t."""
    T, sd = 30, 0.4
    # column s of M: the path driven by the unit innovation e_s (one path per column)
    M = ar1_forward(np.eye(T), np.full(T, phi), np.full(T, sd))
    t, s = np.indices((T, T))
    one_m_phi2 = (1 - phi) * (1 + phi)
    expected = np.where(s > t, 0.0, sd * phi ** np.maximum(t - s, 0))
    expected[:, 0] = sd / np.sqrt(one_m_phi2) * phi ** np.arange(T)
    np.testing.assert_allclose(M, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose((M**2).sum(axis=1), sd**2 / one_m_phi2, rtol=1e-10)
    # Cov(h_t, h_{t+k}) = phi^k Var: the stationary autocovariance
    np.testing.assert_allclose(M[5] @ M[8], phi**3 * sd**2 / one_m_phi2, rtol=1e-10)


@pytest.mark.parametrize("phi", [1 - 1e-12, -(1 - 1e-12)])
def test_near_unit_root_is_finite(phi, c_fn):
    rng = np.random.default_rng(11)
    z = rng.standard_normal((20, 2))
    out = c_fn(z, np.full(2, phi), np.ones(2), rng.standard_normal((20, 2)))
    for a in out:
        assert np.all(np.isfinite(a))
    # the start uses (1 - phi)(1 + phi), accurate where 1 - phi**2 cancels
    h0 = ar1_forward(z, np.full(2, phi), np.ones(2))[0]
    exact = z[0] / np.sqrt(float(1 - Fraction(phi) ** 2))  # 1 - phi**2 in exact arithmetic
    np.testing.assert_allclose(h0, exact, rtol=1e-12)


def test_scalar_phi_and_sd_broadcast(problem):
    z, _, _, w = problem
    zv, pv, sv = pt.dmatrix(), pt.dscalar(), pt.dscalar()
    h = ar1_path(zv, pv, sv)
    f = pytensor.function([zv, pv, sv], [h, *pytensor.grad((h * w).sum(), [pv, sv])])
    h_val, gphi, gsd = f(z, 0.5, 0.3)
    np.testing.assert_allclose(
        h_val, loop_path(z, np.full(3, 0.5), np.full(3, 0.3)), rtol=1e-14, atol=1e-15
    )
    _, dphi, dsd = ar1_backward(z, np.full(3, 0.5), np.full(3, 0.3), w)
    assert gphi == pytest.approx(dphi.sum(), rel=1e-12)
    assert gsd == pytest.approx(dsd.sum(), rel=1e-12)


def test_shapes_and_errors():
    z = pt.dmatrix("z")
    h = ar1_path(z, np.zeros(4), np.ones(4))
    assert h.ndim == 2
    shape = pytensor.function([z], h.shape)(np.zeros((7, 4)))
    np.testing.assert_array_equal(shape, [7, 4])  # infer_shape: no kernel call needed
    assert ar1_path(np.zeros((0, 2)), np.zeros(2), np.ones(2)).eval().shape == (0, 2)
    with pytest.raises(ValueError, match="'z' must have 2 dimensions"):
        ar1_path(pt.dvector(), np.zeros(1), np.ones(1))
    with pytest.raises(ValueError, match="'phi' must have 1 dimensions"):
        ar1_path(z, pt.dmatrix(), np.ones(2))
    with pytest.raises(ValueError, match="'sd' has 3 entries but z has 2 columns"):
        ar1_path(np.zeros((5, 2)), np.zeros(2), np.ones(3))
    phi = pt.dvector("phi")
    f = pytensor.function([z, phi], ar1_path(z, phi, np.ones(2)))
    with pytest.raises(ValueError, match="z must be \\(T, J\\)"):  # only known at run time
        f(np.zeros((5, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="cotangent must have the shape of z"):
        ar1_backward(np.zeros((5, 2)), np.zeros(2), np.ones(2), np.zeros((4, 2)))
    with pytest.raises(NotImplementedError, match="second derivatives"):
        g = pytensor.grad(ar1_path(z, np.zeros(4), np.ones(4)).sum(), z)
        pytensor.grad(g.sum(), z)


def test_timing_value_and_grad(c_fn):
    """Rough cost of value + gradient at T=2000, J=3 (printed, not asserted)."""
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((2000, 3)), PHI, SD, rng.standard_normal((2000, 3)))
    numba_fn = _value_and_grad(ar1_path, mode="NUMBA")
    for name, fn in (("C", c_fn), ("NUMBA", numba_fn)):
        fn(*args)
        n = 200
        start = time.perf_counter()
        for _ in range(n):
            fn(*args)
        print(
            f"ar1_path value+grad T=2000 J=3 [{name}]: {(time.perf_counter() - start) / n * 1e6:.0f} us"
        )
