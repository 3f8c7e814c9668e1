"""The dynamics of the factor VAR: impulse responses and persistence (numerics and plot)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bdfm.dims import CHAIN, DRAW, FACTOR, FACTOR_FROM, LAG
from bdfm.draws import stack_draws
from bdfm.report.plots._layout import DATA_COLOR, MAX_HEIGHT, PROBS, colors, fan, figure
from bdfm.statespace.inputs import companion_matrix

if TYPE_CHECKING:
    from bdfm.results import FitResult


def _companions(factor_ar: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
    """Batch shape and stacked companion matrices (S, kp, kp) of VAR draws (..., p, k, k)."""
    factor_ar = np.asarray(factor_ar, dtype=float)
    batch = factor_ar.shape[:-3]
    flat = factor_ar.reshape((-1, *factor_ar.shape[-3:]))
    return batch, np.stack([companion_matrix(a) for a in flat])


def impulse_responses(factor_ar: np.ndarray, steps: int) -> np.ndarray:
    r"""Responses of the factors to unit factor shocks, for one or many VAR draws.

    With companion matrix :math:`C` and selector :math:`J = [I_k, 0]`, the response
    at step :math:`h` is :math:`\Psi_h = J C^h J^\top` (the innovations have identity
    covariance, so the shocks are already orthogonal): ``out[..., h, i, j]`` is the
    response of factor ``i`` ``h`` steps after a unit shock to factor ``j``.

    Parameters
    ----------
    factor_ar : ndarray, shape (..., p, k, k)
        VAR coefficients, ``factor_ar[..., l, :, :] = A_{l+1}``.
    steps : int
        Largest horizon; the output holds ``h = 0 .. steps``.

    Returns
    -------
    ndarray, shape (..., steps + 1, k, k)
    """
    batch, comp = _companions(factor_ar)
    k = np.shape(factor_ar)[-1]
    state = np.broadcast_to(np.eye(comp.shape[-1])[:, :k], (*comp.shape[:-1], k)).copy()
    out = np.empty((comp.shape[0], steps + 1, k, k))
    for h in range(steps + 1):
        out[:, h] = state[:, :k, :]
        state = comp @ state
    return out.reshape((*batch, steps + 1, k, k))


def spectral_radius(factor_ar: np.ndarray) -> np.ndarray:
    """Largest companion-eigenvalue modulus (persistence) of one or many VAR draws.

    Parameters
    ----------
    factor_ar : ndarray, shape (..., p, k, k)

    Returns
    -------
    ndarray, shape (...)
    """
    batch, comp = _companions(factor_ar)
    return np.abs(np.linalg.eigvals(comp)).max(axis=-1).reshape(batch)


def half_life(radius: float) -> float:
    """Steps for a shock to halve at persistence ``radius``: ``log 0.5 / log radius``."""
    return math.log(0.5) / math.log(radius) if 0 < radius < 1 else math.inf


def plot_impulse_responses(
    fit: FitResult, *, steps: int = 20, probs: Sequence[float] = PROBS
) -> Figure:
    """Impulse responses of every factor to every factor shock, and the persistence.

    Parameters
    ----------
    fit : FitResult
    steps : int
        Largest horizon.
    probs : sequence of float
        Credible-band probabilities.

    Returns
    -------
    Figure
        A k × k grid (row: responding factor, column: shocked factor) of posterior
        medians with bands, and below it the posterior histogram of the spectral
        radius of the companion matrix (the persistence of the factor VAR).
    """
    ar = fit.posterior["factor_ar"].transpose(CHAIN, DRAW, LAG, FACTOR, FACTOR_FROM)
    labels = [str(f) for f in fit.posterior[FACTOR].values]
    k = len(labels)
    draws = stack_draws(ar)
    irf = impulse_responses(draws, steps)  # (S, h, k, k)
    radius = spectral_radius(draws)
    fig = figure(min(2.0 * k + 2.6, MAX_HEIGHT))
    grid = fig.add_gridspec(k + 1, k, height_ratios=[*([2.0] * k), 2.2])
    horizon = np.arange(steps + 1)
    palette = colors(k)
    for i in range(k):
        for j in range(k):
            ax = fig.add_subplot(grid[i, j])
            fan(ax, horizon, irf[:, :, i, j], color=palette[j], probs=probs)
            ax.axhline(0, color="0.6", lw=0.6)
            ax.set_title(f"{labels[i]} ← shock to {labels[j]}", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if i == k - 1:
                ax.set_xlabel("step", fontsize=8)
    ax = fig.add_subplot(grid[k, :])
    ax.hist(radius, bins=40, color=DATA_COLOR, alpha=0.8)
    med = float(np.median(radius))
    ax.axvline(med, color="black", lw=1)
    ax.set_xlabel("spectral radius of the companion matrix")
    ax.set_ylabel("draws")
    ax.set_title(f"persistence: median {med:.3f}, half-life {half_life(med):.1f} steps")
    return fig
