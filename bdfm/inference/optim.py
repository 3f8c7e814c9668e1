"""L-BFGS over a dict of array-valued parameters (shared by the MLE and the MAP fit)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

__all__ = ["OptimResult", "maximize"]


@dataclass
class OptimResult:
    """Maximiser (by name), the maximum, and how the optimiser ended."""

    x: dict[str, np.ndarray]
    value: float
    n_iter: int
    n_evals: int
    converged: bool
    message: str


def maximize(
    value_and_grad: Callable,
    start: Mapping[str, np.ndarray],
    *,
    scale: float = 1.0,
    maxiter: int = 1000,
    ftol: float = 1e-9,
    gtol: float = 1e-7,
) -> OptimResult:
    """Maximise ``f`` given ``value_and_grad(*arrays) -> (f, *grads)`` (arrays in ``start`` order).

    ``scale`` multiplies the objective (e.g. 1 / n_obs) so tolerances are per observation.
    """
    names = list(start)
    shapes = [np.shape(start[n]) for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    splits = np.cumsum(sizes)[:-1]
    evals = [0]

    def unpack(theta):
        return [p.reshape(s) for p, s in zip(np.split(theta, splits), shapes, strict=True)]

    def objective(theta):
        evals[0] += 1
        out = value_and_grad(*unpack(theta))
        if not np.isfinite(out[0]):
            return np.inf, np.zeros_like(theta)
        grad = np.concatenate([np.ravel(g) for g in out[1:]])
        return -float(out[0]) * scale, -grad * scale

    theta0 = np.concatenate([np.ravel(np.asarray(start[n], dtype=float)) for n in names])
    res = minimize(
        objective,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": maxiter, "ftol": ftol, "gtol": gtol, "maxcor": 20},
    )
    message = res.message if isinstance(res.message, str) else str(res.message)
    return OptimResult(
        x=dict(zip(names, unpack(res.x), strict=True)),
        value=-float(res.fun) / scale,
        n_iter=int(res.nit),
        n_evals=evals[0],
        converged=bool(res.success),
        message=message,
    )
