"""Parameter dictionaries: names, shapes, validation and the VAR companion helpers.

A parameter set is a plain dict::

    {"loadings": (N, k), "factor_ar": (p, k, k), "idio_sd": (N,), "idio_ar": (N,)}

with ``factor_ar[l]`` the lag-(l+1) coefficient matrix (rows = equations) and
``idio_ar`` present only for AR(1) idiosyncratic errors. Factor innovations have
identity covariance.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bdfm.spec import DFMSpec
from bdfm.statespace.inputs import companion_matrix

__all__ = ["companion_matrix", "is_stationary", "param_shapes", "validate_params"]


def param_shapes(spec: DFMSpec, n_series: int) -> dict[str, tuple[int, ...]]:
    """Expected shape of every parameter for ``spec`` and ``n_series`` series."""
    k, p = spec.n_factors, spec.factor_order
    shapes = {
        "loadings": (n_series, k),
        "factor_ar": (p, k, k),
        "idio_sd": (n_series,),
    }
    if spec.idiosyncratic == "ar1":
        shapes["idio_ar"] = (n_series,)
    return shapes


def is_stationary(factor_ar: np.ndarray, tol: float = 1e-10) -> bool:
    """True if all eigenvalues of the companion matrix lie inside the unit circle."""
    return bool(np.max(np.abs(np.linalg.eigvals(companion_matrix(factor_ar)))) < 1.0 - tol)


def validate_params(params: Mapping, spec: DFMSpec, n_series: int) -> dict[str, np.ndarray]:
    """Check names, shapes and admissibility; return float arrays.

    Raises
    ------
    ValueError
        Listing every problem: unknown or missing names, wrong shapes, non-finite
        values, non-positive ``idio_sd``, ``|idio_ar| >= 1``, non-stationary
        ``factor_ar``.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    shapes = param_shapes(spec, n_series)
    problems = []
    unknown = sorted(set(params) - set(shapes))
    if unknown:
        problems.append(
            f"unknown parameter name(s) {unknown}; valid names for this model are {sorted(shapes)}"
            + (
                " ('idio_ar' needs idiosyncratic='ar1')"
                if "idio_ar" in unknown and spec.idiosyncratic == "iid"
                else ""
            )
        )
    missing = [n for n in shapes if n not in params]
    if missing:
        problems.append(f"missing parameter(s) {missing}")
    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        if name not in params:
            continue
        try:
            arr = np.asarray(params[name], dtype=float)
        except (TypeError, ValueError):
            problems.append(f"{name!r} must be numeric")
            continue
        if arr.shape != shape:
            problems.append(f"{name!r} has shape {arr.shape}, expected {shape}")
            continue
        if not np.all(np.isfinite(arr)):
            problems.append(f"{name!r} contains NaN or infinite values")
            continue
        out[name] = arr
    if "idio_sd" in out and np.any(out["idio_sd"] <= 0):
        bad = np.flatnonzero(out["idio_sd"] <= 0)
        problems.append(f"'idio_sd' must be > 0; not so for series at position(s) {bad.tolist()}")
    if "idio_ar" in out and np.any(np.abs(out["idio_ar"]) >= 1):
        bad = np.flatnonzero(np.abs(out["idio_ar"]) >= 1)
        problems.append(
            f"'idio_ar' must lie in (-1, 1) for a stationary AR(1); not so at position(s) {bad.tolist()}"
        )
    if "factor_ar" in out and not is_stationary(out["factor_ar"]):
        rad = np.max(np.abs(np.linalg.eigvals(companion_matrix(out["factor_ar"]))))
        problems.append(
            f"'factor_ar' is not stationary (largest companion eigenvalue modulus {rad:.4g} >= 1); "
            "the stationary initial distribution does not exist — shrink the coefficients"
        )
    if problems:
        raise ValueError("Invalid parameters:\n- " + "\n- ".join(problems))
    return out
