r"""The gauge-split parameterisation of the identified loadings (how NUTS sees them).

With the lower-triangular identification the likelihood pins the loadings' column
space tightly (precision ∝ N·T) but the few *gauge* directions ``Λ → Λ(I + δ)``,
``δ`` lower triangular (the factor scales and the shears the anchors' zeros allow),
only through the factor dynamics (the unit innovation variances). Each gauge
direction moves all N rows together, so in the loadings' own coordinates the
posterior has ``k(k+1)/2`` directions whose spread against one loading grows with
N: a diagonal mass matrix cannot follow them and NUTS needs long trajectories.

The split parameterisation gives each gauge direction its own coordinate. With a
reference ``Λ₀`` (the identified starting point) and free ``G`` (lower triangular,
or diagonal under block restrictions) and ``Z`` (one value per non-zero loading),

.. math::

    Λ_{·l} = Λ₀ G_{·l} + (I - P_l) Z_{·l},

where ``P_l`` projects onto the span of the reference columns that column ``l`` may
mix in (``Λ₀[:, m]``, ``m ≥ l``, on the rows where column ``l`` is free). The map
``(G, (I - P)Z) → Λ`` is linear and one to one, so the density of Λ (prior times
likelihood) carries over with a constant Jacobian; the redundant part ``c_l = U_l'
Z_{·l}`` (``U_l`` an orthonormal basis of the span) gets its own independent
``N(0, s²)`` density, which leaves the marginal of Λ unchanged. The anchors' signs
are not constrained while sampling: the posterior is symmetric under flipping a
factor's sign, and :func:`fold_anchor_signs` maps every draw to the half where the
anchors' loadings are positive, which is exactly the half-normal-anchor model.

Everything here is numpy (the reference and bases are data of the PyMC model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GaugeFrame", "flip_var", "fold_anchor_signs", "gauge_frame", "gauge_pattern"]

#: the reference must span every gauge direction clearly (relative singular value)
_RANK_TOL = 1e-6


@dataclass(frozen=True)
class GaugeFrame:
    """Reference loadings ``lam0`` (N, k), bases ``basis`` (k, N, k) and the G pattern."""

    lam0: np.ndarray
    basis: np.ndarray
    lower: bool

    @property
    def gauge_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the free entries of G."""
        return gauge_pattern(self.lam0.shape[1], self.lower)

    def split(self, lam: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(z, g)`` with redundant part 0 that reproduce ``lam`` (inverse of the map)."""
        k = lam.shape[1]
        G = np.zeros((k, k))
        E = np.zeros_like(lam)
        for col in range(k):
            U = self.basis[col]
            coef = U.T @ lam[:, col]  # P_l λ_l = U coef
            rows = active[:, col]
            ref = self.lam0[rows][:, col:] if self.lower else self.lam0[rows][:, [col]]
            g = np.linalg.lstsq(ref, (U @ coef)[rows], rcond=None)[0]
            if self.lower:
                G[col:, col] = g
            else:
                G[col, col] = g[0]
            E[:, col] = lam[:, col] - U @ coef
        r, c = self.gauge_index
        return E[active], G[r, c]


def gauge_pattern(k: int, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the free entries of the gauge matrix G (k, k)."""
    if lower:
        return np.tril_indices(k)
    return np.arange(k), np.arange(k)


def gauge_frame(lam0: np.ndarray, active: np.ndarray, lower: bool) -> GaugeFrame | None:
    """The reference and per-column bases of the split, or None when ``lam0`` is degenerate.

    Parameters
    ----------
    lam0 : (N, k) identified reference loadings, zero wherever ``active`` is False.
    active : (N, k) bool, the loadings that are parameters (free and anchors).
    lower : bool
        G lower triangular (no block restrictions) or diagonal (block restrictions,
        whose zeros a mixing of columns would break).
    """
    lam0 = np.where(active, np.asarray(lam0, dtype=float), 0.0)
    n, k = lam0.shape
    basis = np.zeros((k, n, k))
    for col in range(k):
        rows = active[:, col]
        ref = lam0[rows][:, col:] if lower else lam0[rows][:, [col]]
        if ref.shape[1] > ref.shape[0]:
            return None
        u, s, _ = np.linalg.svd(ref, full_matrices=False)
        if s.size == 0 or s[-1] <= _RANK_TOL * max(s[0], 1e-300):
            return None
        basis[col][rows, : ref.shape[1]] = u
    return GaugeFrame(lam0, basis, lower)


def fold_anchor_signs(
    loadings: np.ndarray, anchors, factor_ar: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Flip factor signs so every anchor's own loading is positive.

    Parameters
    ----------
    loadings : (..., N, k) draws.
    anchors : one series index per factor.
    factor_ar : (..., p, k, k) draws, optional; conjugated by the same signs.

    Returns
    -------
    (loadings, factor_ar, signs) with ``signs`` (..., k) in {-1, 1}.
    """
    k = loadings.shape[-1]
    signs = np.sign(loadings[..., list(anchors), range(k)])
    signs = np.where(signs == 0, 1.0, signs)
    out = loadings * signs[..., None, :]
    if factor_ar is not None:
        factor_ar = flip_var(factor_ar, signs)
    return out, factor_ar, signs


def flip_var(factor_ar: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """``S A_l S`` for (..., p, k, k) VAR arrays and signs (..., k): the factors' sign flip.

    Also right for the unconstrained VAR values: the map to a stationary VAR commutes
    with sign flips.
    """
    return factor_ar * signs[..., None, :, None] * signs[..., None, None, :]
