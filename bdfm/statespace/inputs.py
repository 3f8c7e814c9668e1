"""The numpy inputs of the filter, built in one place: companion matrices and friends."""

from __future__ import annotations

import numpy as np

__all__ = ["companion_matrix"]


def companion_matrix(factor_ar: np.ndarray) -> np.ndarray:
    """(p, k, k) VAR coefficients -> (kp, kp) companion matrix."""
    p, k, _ = factor_ar.shape
    top = np.concatenate(list(factor_ar), axis=1)
    bottom = np.eye(k * (p - 1), k * p)
    return np.vstack([top, bottom])
