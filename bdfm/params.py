"""Parameter dictionaries: names, shapes, validation and the VAR companion helpers.

A parameter set is a plain dict::

    {"loadings": (N, k), "factor_ar": (p, k, k), "idio_sd": (N,), "idio_ar": (N,)}

with ``factor_ar[l]`` the lag-(l+1) coefficient matrix (rows = equations) and
``idio_ar`` present only for AR(1) idiosyncratic errors. Factor innovations have
identity covariance.

Specifications with time-varying volatility add (:func:`volatility_names`)::

    factor_volatility="sv":         "factor_sv_phi" (k,), "factor_sv_sd" (k,)
    factor_volatility="garch":      "factor_garch_alpha", "factor_garch_beta",
                                    "factor_garch_gamma" (k,) each
    idio_volatility="common_sv":    "idio_sv_phi" (), "idio_sv_sd" ()
    idio_volatility="sv":           "idio_sv_phi" (N,), "idio_sv_sd" (N,)
    idio_volatility="garch":        "idio_garch_alpha", "idio_garch_beta",
                                    "idio_garch_gamma" (N,) each
    tails="student_t":              "tails_nu" ()

the AR(1) coefficients and innovation sds of the mean-zero log-variance paths
(``h_t = φ h_{t-1} + σ z_t``, stationary start) and the degrees of freedom ν of
the Student-t scale mixture; for ``"garch"`` the news and memory coefficients of
each factor's GJR-GARCH(1,1) variance and its leverage γ (:mod:`bdfm.statespace.garch`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bdfm.spec import DFMSpec
from bdfm.statespace.inputs import companion_matrix

__all__ = [
    "companion_matrix",
    "is_stationary",
    "param_shapes",
    "particle_arguments",
    "validate_params",
    "volatility_names",
]

#: the spec field (and value) that each volatility parameter needs
_NEEDS = {
    "factor_sv_phi": "factor_volatility='sv'",
    "factor_sv_sd": "factor_volatility='sv'",
    "factor_garch_alpha": "factor_volatility='garch'",
    "factor_garch_beta": "factor_volatility='garch'",
    "factor_garch_gamma": "factor_volatility='garch'",
    "idio_garch_alpha": "idio_volatility='garch'",
    "idio_garch_beta": "idio_volatility='garch'",
    "idio_garch_gamma": "idio_volatility='garch'",
    "idio_sv_phi": "idio_volatility='common_sv' or 'sv'",
    "idio_sv_sd": "idio_volatility='common_sv' or 'sv'",
    "tails_nu": "tails='student_t'",
}


_GARCH = ("alpha", "beta", "gamma")


def _volatility_shapes(spec: DFMSpec, n_series: int) -> dict[str, tuple[int, ...]]:
    k = spec.n_factors
    shapes: dict[str, tuple[int, ...]] = {}
    if spec.factor_volatility == "sv":
        shapes["factor_sv_phi"] = (k,)
        shapes["factor_sv_sd"] = (k,)
    elif spec.factor_volatility == "garch":
        shapes |= {f"factor_garch_{v}": (k,) for v in _GARCH}
    if spec.idio_volatility == "garch":
        shapes |= {f"idio_garch_{v}": (n_series,) for v in _GARCH}
    elif spec.idio_volatility != "constant":
        shape = () if spec.idio_volatility == "common_sv" else (n_series,)
        shapes["idio_sv_phi"] = shape
        shapes["idio_sv_sd"] = shape
    if spec.tails == "student_t":
        shapes["tails_nu"] = ()
    return shapes


def volatility_names(spec: DFMSpec) -> list[str]:
    """Names of the volatility parameters of ``spec`` (empty for constant Gaussian specs).

    Parameters
    ----------
    spec : DFMSpec

    Returns
    -------
    list of str
        In :func:`param_shapes` order: ``factor_sv_phi``, ``factor_sv_sd`` (factor
        SV) or ``factor_garch_alpha``, ``factor_garch_beta``, ``factor_garch_gamma`` (factor GARCH), ``idio_sv_phi``, ``idio_sv_sd`` (idiosyncratic SV) and ``tails_nu``
        (Student-t shocks), as the specification uses them.
    """
    return list(_volatility_shapes(spec, 1))


def param_shapes(spec: DFMSpec, n_series: int) -> dict[str, tuple[int, ...]]:
    """Expected shape of every parameter for ``spec`` and ``n_series`` series.

    Parameters
    ----------
    spec : DFMSpec
    n_series : int

    Returns
    -------
    dict
        ``loadings`` (N, k), ``factor_ar`` (p, k, k), ``idio_sd`` (N,), ``idio_ar``
        (N,) under AR(1) errors, then the volatility parameters of
        :func:`volatility_names` (0-d shapes are ``()``).
    """
    k, p = spec.n_factors, spec.factor_order
    shapes = {
        "loadings": (n_series, k),
        "factor_ar": (p, k, k),
        "idio_sd": (n_series,),
    }
    if spec.idiosyncratic == "ar1":
        shapes["idio_ar"] = (n_series,)
    shapes.update(_volatility_shapes(spec, n_series))
    return shapes


def particle_arguments(params: Mapping, spec: DFMSpec) -> dict:
    """The parameter keywords of :func:`bdfm.statespace.particle.particle_loglike`.

    Parameters
    ----------
    params : natural parameters of ``spec`` (one draw).
    spec : DFMSpec; ``idio_volatility="sv"`` (one path per series) has no particle filter.

    Returns
    -------
    dict
        ``loadings``, ``factor_ar``, ``idio_sd``, ``idio_ar`` (None for iid errors),
        ``factor_sv`` ((phi, sd) or None), ``factor_garch``, ``idio_garch`` ((alpha, beta, gamma) or None), ``idio_sv`` ((phi, sd) or None) and ``nu``
        (float or None): ``particle_loglike(y, mask, **particle_arguments(p, spec), ...)``.
    """
    if spec.idio_volatility == "sv":
        raise ValueError(
            "the one-step predictive with per-series idiosyncratic stochastic volatility "
            "(idio_volatility='sv') has N latent log-variance paths and no particle filter "
            "here; use idio_volatility='common_sv'"
        )
    return {
        "loadings": params["loadings"],
        "factor_ar": params["factor_ar"],
        "idio_sd": params["idio_sd"],
        "idio_ar": params.get("idio_ar"),
        "factor_sv": (
            (params["factor_sv_phi"], params["factor_sv_sd"])
            if spec.factor_volatility == "sv"
            else None
        ),
        "factor_garch": (
            tuple(params[f"factor_garch_{v}"] for v in _GARCH)
            if spec.factor_volatility == "garch"
            else None
        ),
        "idio_garch": (
            tuple(params[f"idio_garch_{v}"] for v in _GARCH)
            if spec.idio_volatility == "garch"
            else None
        ),
        "idio_sv": (
            (params["idio_sv_phi"], params["idio_sv_sd"])
            if spec.idio_volatility == "common_sv"
            else None
        ),
        "nu": float(params["tails_nu"]) if spec.tails == "student_t" else None,
    }


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
        ``factor_ar``; for volatility specs ``|*_sv_phi| >= 1``, negative
        ``*_sv_sd``, GARCH coefficients outside ``alpha, beta, gamma >= 0``,
        ``alpha + gamma/2 + beta < 1``, and ``tails_nu <= 2``.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    shapes = param_shapes(spec, n_series)
    problems = []
    unknown = sorted(set(params) - set(shapes))
    if unknown:
        hints = [f"'{n}' needs {_NEEDS[n]}" for n in unknown if n in _NEEDS]
        problems.append(
            f"unknown parameter name(s) {unknown}; valid names for this model are {sorted(shapes)}"
            + (
                " ('idio_ar' needs idiosyncratic='ar1')"
                if "idio_ar" in unknown and spec.idiosyncratic == "iid"
                else ""
            )
            + (f" ({'; '.join(hints)})" if hints else "")
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
    problems.extend(_volatility_problems(out))
    if problems:
        raise ValueError("Invalid parameters:\n- " + "\n- ".join(problems))
    return out


def _where(bad: np.ndarray) -> str:
    """'' for a 0-d check, else the failing positions."""
    return "" if bad.ndim == 0 else f"; not so at position(s) {np.flatnonzero(bad).tolist()}"


def _volatility_problems(out: Mapping[str, np.ndarray]) -> list[str]:
    """Admissibility of the (already finite, well-shaped) volatility parameters."""
    problems = []
    for name in ("factor_sv_phi", "idio_sv_phi"):
        if name in out and np.any(np.abs(out[name]) >= 1):
            problems.append(
                f"{name!r} must lie in (-1, 1) for a stationary log-variance path"
                + _where(np.abs(out[name]) >= 1)
            )
    for name in ("factor_sv_sd", "idio_sv_sd"):
        if name in out and np.any(out[name] < 0):
            problems.append(
                f"{name!r} (sd of the log-variance innovations) must be >= 0"
                + _where(out[name] < 0)
            )
    for part in ("factor", "idio"):
        garch = [out.get(f"{part}_garch_{v}") for v in _GARCH]
        if any(v is None for v in garch):
            continue
        alpha, beta, gamma = garch
        bad = (alpha < 0) | (beta < 0) | (gamma < 0) | (alpha + 0.5 * gamma + beta >= 1)
        if np.any(bad):
            problems.append(
                f"'{part}_garch_alpha', '{part}_garch_beta' and '{part}_garch_gamma' must be "
                ">= 0 with alpha + gamma/2 + beta < 1 (a stationary GARCH variance)" + _where(bad)
            )
    if "tails_nu" in out and not out["tails_nu"] > 2:
        problems.append(
            f"'tails_nu' (Student-t degrees of freedom) must be > 2 for finite variance, "
            f"got {float(out['tails_nu']):.4g}"
        )
    return problems
