"""Small Cholesky and triangular solves against NumPy/SciPy, their gradients by finite differences."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.linalg as sla
from pytensor.gradient import verify_grad

from bdfm.statespace.small_linalg import (
    cholesky,
    cholesky_lower,
    lower_solve,
    solve_lower,
    solve_upper,
    spd_solve,
    spd_solve_batched,
    upper_solve,
)


def _spd(k, seed):
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(k, k))
    return np.eye(k) + B @ B.T


@pytest.mark.parametrize("k", [1, 3, 8])
def test_kernels_match_lapack(k):
    A = _spd(k, k)
    L = cholesky_lower(A)
    np.testing.assert_allclose(L, np.linalg.cholesky(A), rtol=1e-13, atol=1e-14)
    B = np.random.default_rng(1).normal(size=(k, 4))
    np.testing.assert_allclose(
        lower_solve(L, B), sla.solve_triangular(L, B, lower=True), rtol=1e-12
    )
    U = np.ascontiguousarray(L.T)
    np.testing.assert_allclose(
        upper_solve(U, B), sla.solve_triangular(U, B, lower=False), rtol=1e-12
    )


def test_cholesky_reads_only_the_lower_triangle_and_flags_non_pd():
    A = _spd(3, 0)
    garbage = A.copy()
    garbage[0, 2] = 99.0  # upper triangle is ignored
    np.testing.assert_array_equal(cholesky_lower(garbage), cholesky_lower(A))
    assert np.isnan(cholesky_lower(-np.eye(3))).all()


def test_graph_values_in_c_and_numba_modes():
    A = pt.dmatrix("A")
    B = pt.dmatrix("B")
    L = cholesky(A)
    outs = [L, solve_lower(L, B), solve_upper(L.T, B)]
    a, b = _spd(4, 2), np.random.default_rng(3).normal(size=(4, 2))
    Ln = np.linalg.cholesky(a)
    want = [Ln, sla.solve_triangular(Ln, b, lower=True), sla.solve_triangular(Ln.T, b)]
    for mode in ("FAST_RUN", "NUMBA"):
        got = pytensor.function([A, B], outs, mode=mode)(a, b)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    b = rng.normal(size=(3, 2))

    def chol_of_sym(X):
        return cholesky(pt.eye(3) + X @ X.T)

    def lower(X):
        return solve_lower(chol_of_sym(X), pt.as_tensor(b))

    def upper(X):
        return solve_upper(chol_of_sym(X).T, pt.as_tensor(b))

    for f in (chol_of_sym, lower, upper):
        verify_grad(f, [rng.normal(size=(3, 3))], rng=rng, abs_tol=1e-6, rel_tol=1e-6)


def test_batched_spd_solve_values_modes_nan_and_gradient():
    rng = np.random.default_rng(5)
    T, k = 6, 3
    C = np.stack([_spd(k, s) for s in range(T)])
    B = rng.normal(size=(T, k))
    want = np.linalg.solve(C, B[..., None])[..., 0]
    np.testing.assert_allclose(spd_solve_batched(C, B), want, rtol=1e-12)
    bad = C.copy()
    bad[2] = -np.eye(k)  # not positive definite: that date is NaN, the others exact
    got = spd_solve_batched(bad, B)
    assert np.isnan(got[2]).all()
    np.testing.assert_allclose(np.delete(got, 2, 0), np.delete(want, 2, 0), rtol=1e-12)
    c, b = pt.tensor3("c"), pt.dmatrix("b")
    for mode in ("FAST_RUN", "NUMBA"):
        np.testing.assert_allclose(
            pytensor.function([c, b], spd_solve(c, b), mode=mode)(C, B), want, rtol=1e-12
        )

    # the gradient through a symmetric C built upstream, and through B
    def f(X, Bv):
        sym = pt.eye(k)[None] + pt.einsum("tij,tlj->til", X, X)
        return spd_solve(sym, Bv)

    verify_grad(f, [rng.normal(size=(T, k, k)), B], rng=rng, abs_tol=1e-6, rel_tol=1e-6)
