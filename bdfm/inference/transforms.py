r"""Parameter transforms: unconstrained reals -> admissible model parameters (pytensor).

:func:`stationary_var` maps any ``(p, k, k)`` array to the coefficients of a
*stationary* VAR(p) with identity innovation covariance, by the
Ansley & Kohn (1986) construction used in statsmodels
(``constrain_stationary_multivariate``):

1. each unconstrained matrix ``B_s`` becomes a partial autocorrelation matrix
   ``P_s = L_s^{-1} B_s`` with ``L_s L_s' = I + B_s B_s'`` (singular values < 1);
2. the multivariate Durbin-Levinson recursion turns ``P_1..P_p`` into VAR
   coefficients whose companion matrix has all eigenvalues inside the unit circle;
3. a similarity transform fixes the innovation covariance to the identity.

The map is smooth and onto the stationary region, so optimisers and samplers
can work on the unconstrained scale (Heaps 2022 discusses priors on it).
Everything is a pytensor graph and differentiable.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from bdfm.statespace.small_linalg import cholesky, solve_lower, solve_upper

__all__ = ["stationary_var", "stationary_var_inverse_diagonal"]


def _chol(x):
    return cholesky(x)


def _solve_lower(L, b):
    """Solve ``L x = b`` for lower-triangular L (numba loops, one thread, see
    :mod:`bdfm.statespace.small_linalg`)."""
    return solve_lower(L, b)


def _solve_lower_t(L, b):
    """Solve ``L' x = b`` for lower-triangular L."""
    return solve_upper(L.T, b)


def stationary_var(unconstrained):
    """Map a ``(p, k, k)`` tensor of reals to stationary VAR(p) coefficients (identity noise).

    Parameters
    ----------
    unconstrained : (p, k, k) tensor with a static lag dimension.

    Returns
    -------
    (p, k, k) tensor ``A`` with ``A[l]`` the lag-(l+1) coefficient matrix.
    """
    unconstrained = pt.as_tensor_variable(unconstrained)
    p = unconstrained.type.shape[0]
    k = unconstrained.type.shape[1]
    if p is None or k is None:
        raise ValueError("stationary_var needs static shapes (p, k, k)")
    eye = pt.eye(k)
    # 1. partial autocorrelations with singular values < 1
    pacf = []
    for s in range(p):
        B = unconstrained[s]
        pacf.append(_solve_lower(_chol(eye + B @ B.T), B))
    # 2. Durbin-Levinson (Ansley & Kohn 1986, Lemma 2.1), with a large initial
    #    variance as statsmodels does when the variance is not transformed
    init_var = eye * float((p + k) ** 10)
    init_fac = eye * float((p + k) ** 5)  # its Cholesky factor
    fwd_var, bwd_var = [init_var], [init_var]
    fwd_fac, bwd_fac = [init_fac], [init_fac]
    forwards, backwards = [], []
    for s in range(p):
        prev_f, prev_b = forwards, backwards
        f0 = fwd_fac[s] @ _solve_lower_t(bwd_fac[s], pacf[s].T).T
        b0 = bwd_fac[s] @ _solve_lower_t(fwd_fac[s], pacf[s]).T
        tmp = f0 @ bwd_var[s]
        forwards = [prev_f[j] - f0 @ prev_b[s - (j + 1)] for j in range(s)] + [f0]
        backwards = [prev_b[j] - b0 @ prev_f[s - (j + 1)] for j in range(s)] + [b0]
        fwd_var.append(fwd_var[s] - tmp @ forwards[s].T)
        bwd_var.append(bwd_var[s] - backwards[s] @ fwd_var[s] @ backwards[s].T)
        fwd_fac.append(_chol(fwd_var[s + 1]))
        bwd_fac.append(_chol(bwd_var[s + 1]))
    # 3. similarity transform so that the innovation covariance is the identity
    variance = fwd_var[-1]
    transform = _solve_lower(_chol(variance), eye)  # chol(I) = I
    inv_transform = _chol(variance)
    return pt.stack([transform @ forwards[i] @ inv_transform for i in range(p)])


def stationary_var_inverse_diagonal(factor_ar: np.ndarray) -> np.ndarray:
    """Unconstrained values for a VAR(1) part with *diagonal* coefficients (others zero).

    Exact inverse of :func:`stationary_var` for ``factor_ar = [diag(a), 0, ...]``
    with ``|a| < 1`` (each factor is then a univariate AR(1) whose partial
    autocorrelation is ``a``): returns ``[diag(a / sqrt(1 - a²)), 0, ...]``.
    Used for starting values.
    """
    factor_ar = np.asarray(factor_ar, dtype=float)
    a = np.diag(factor_ar[0])
    off = factor_ar.copy()
    off[0] -= np.diag(a)
    if np.any(off != 0) or np.any(np.abs(a) >= 1):
        raise ValueError("expected [diag(a), 0, ...] with |a| < 1")
    out = np.zeros_like(factor_ar)
    out[0] = np.diag(a / np.sqrt(1.0 - a**2))
    return out
