r"""Identification of the factors: anchors, rotations, and alignment of posterior draws.

The likelihood is unchanged when the factors are rotated: ``Λ → Λ R``,
``A_l → R' A_l R``, ``f_t → R' f_t`` for any orthogonal ``R`` (the innovation
covariance stays the identity). Two ways to pin ``R`` down:

``"lower_triangular"`` (default)
    One *anchor* series per factor (Geweke & Zhou 1996): anchor ``j`` loads on
    factors ``1..j`` only and its loading on factor ``j`` is positive. The
    anchors are, by default, picked from the data (the series that loads most
    clearly on each varimax-rotated principal component), so the identifying
    series are never ones with negligible loadings; pass ``anchors=[...]`` to
    choose them.
``"rsp"``
    Unconstrained loadings; every posterior draw is then rotated by varimax and
    its signs and permutation aligned to a common reference (the
    rotation-sign-permutation scheme of Papastamoulis & Ntzoufras 2022). Chains
    that found mirror-image or relabelled solutions then agree.

Everything here is plain numpy on parameter arrays.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "IDENTIFICATION_CHOICES",
    "align_to_reference",
    "choose_anchors",
    "rotate_params",
    "rotation_to_anchors",
    "rsp_align",
    "varimax",
]

IDENTIFICATION_CHOICES = ("lower_triangular", "rsp")


def varimax(loadings: np.ndarray, max_iter: int = 500, tol: float = 1e-12) -> np.ndarray:
    """Orthogonal varimax rotation ``R`` (k, k) of ``loadings`` (N, k): use ``loadings @ R``."""
    n, k = loadings.shape
    R = np.eye(k)
    if k == 1:
        return R
    crit = 0.0
    for _ in range(max_iter):
        L = loadings @ R
        u, s, vt = np.linalg.svd(loadings.T @ (L**3 - L * (np.sum(L**2, axis=0) / n)))
        R = u @ vt
        new = s.sum()
        if new < crit * (1 + tol):
            break
        crit = new
    return R


def choose_anchors(loadings: np.ndarray, allowed: np.ndarray | None = None) -> list[int]:
    """One distinct anchor series per factor from (N, k) point-estimate loadings.

    After a varimax rotation, factor ``j``'s anchor is the series with the
    largest ``|loading_j|`` relative to its total loading norm among those not
    yet chosen (and allowed to load on ``j`` when a block mask is given).
    """
    k = loadings.shape[1]
    rotated = loadings @ varimax(loadings)
    norm = np.sqrt(np.sum(rotated**2, axis=1, keepdims=True)) + 1e-12
    purity = np.abs(rotated) / norm * np.sqrt(np.abs(rotated))
    if allowed is not None:
        purity = np.where(allowed, purity, -np.inf)
    # order factors by their strongest series so the clearest factor picks first
    chosen: list[int] = [-1] * k
    taken: set[int] = set()
    for j in np.argsort(-np.max(np.abs(rotated), axis=0)):
        for i in np.argsort(-purity[:, j]):
            if i not in taken and np.isfinite(purity[i, j]):
                chosen[j] = int(i)
                taken.add(int(i))
                break
        else:
            raise ValueError(f"no series can anchor factor {j + 1}; check the block mask")
    return chosen


def rotation_to_anchors(loadings: np.ndarray, anchors: list[int]) -> np.ndarray:
    """Orthogonal ``R`` making ``(loadings @ R)[anchors]`` lower triangular, positive diagonal."""
    block = loadings[anchors]  # (k, k)
    q, r = np.linalg.qr(block.T)  # block = r' q'  ->  block @ q = r' (lower triangular)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs


def rotate_params(params: dict[str, np.ndarray], R: np.ndarray) -> dict[str, np.ndarray]:
    """Apply the factor rotation ``R`` to a parameter dict (loadings and VAR)."""
    out = dict(params)
    out["loadings"] = params["loadings"] @ R
    out["factor_ar"] = np.einsum("ji,ljk,km->lim", R, params["factor_ar"], R)
    return out


def align_to_reference(loadings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Signed permutation ``S`` (k, k) that best matches ``loadings @ S`` to ``reference``."""
    cross = loadings.T @ reference  # (k, k): column i of draw vs column j of reference
    rows, cols = linear_sum_assignment(-np.abs(cross))
    S = np.zeros_like(cross)
    S[rows, cols] = np.where(cross[rows, cols] < 0, -1.0, 1.0)
    return S


def rsp_align(
    loadings: np.ndarray, reference: np.ndarray | None = None, n_iter: int = 3
) -> np.ndarray:
    """Rotation-sign-permutation alignment of posterior loading draws.

    Parameters
    ----------
    loadings : (n_draws, N, k) draws.
    reference : (N, k), optional
        Starting reference; default the varimax-rotated first draw.

    Returns
    -------
    (n_draws, k, k) orthogonal matrices ``T`` such that ``loadings[d] @ T[d]``
    are aligned (apply the same ``T`` to factors and VAR via :func:`rotate_params`).
    """
    n_draws = loadings.shape[0]
    rot = np.stack([varimax(L) for L in loadings])
    rotated = np.einsum("dnk,dkj->dnj", loadings, rot)
    ref = rotated[0] if reference is None else reference @ varimax(reference)
    T = rot
    for _ in range(n_iter):
        S = np.stack([align_to_reference(L, ref) for L in rotated])
        T = np.einsum("dij,djk->dik", rot, S)
        ref = np.einsum("dnk,dkj->nj", rotated, S) / n_draws
    return T
