"""Priors as data: named, serialisable, overridable, defined outside any model.

A :class:`Prior` names a PyMC distribution and its parameters (numbers or nested
priors)::

    Prior("HalfNormal", sigma=0.5)
    Prior("Normal", mu=0, sigma=Prior("HalfNormal", sigma=1))

The priors of a Bayesian dynamic factor model are a dict from *prior names* to
``Prior`` objects. :func:`default_priors` gives the defaults for a configuration;
:func:`resolve_priors` merges a user's overrides over them (``defaults | overrides``)
and refuses unknown names with a message that lists the valid ones. Everything
round-trips through plain dicts (and JSON): :meth:`Prior.to_dict`,
:meth:`Prior.from_dict`, :func:`priors_to_json`, :func:`priors_from_json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "PRIOR_DOCS",
    "Prior",
    "default_priors",
    "priors_from_json",
    "priors_to_json",
    "resolve_priors",
    "volatility_priors",
]

#: What each prior name controls (shown in errors and docs).
PRIOR_DOCS = {
    "loading_scale": "per-factor scale tau_j of the loadings (shrinks unneeded factors)",
    "loadings": "loadings relative to their hierarchical location and scale; Normal(0, 1)",
    "group_loading_sd": "within-group spread of loadings around the group mean (groups=...)",
    "group_loading_mean": "group mean loadings, in units of loading_scale (groups=...)",
    "loading_local": "local horseshoe scales of each loading (loadings='horseshoe')",
    "slab_scale": "squared slab width c^2 of the regularised horseshoe (loadings='horseshoe')",
    "factor_ar": "unconstrained VAR parameters mapped to a stationary VAR (Ansley-Kohn)",
    "idio_sd": "idiosyncratic innovation standard deviations (model units)",
    "idio_ar": "AR(1) coefficients of the idiosyncratic errors (idiosyncratic='ar1')",
    "factor_sv_phi": "persistence of each factor's log-variance AR(1) (factor_volatility='sv')",
    "factor_sv_sd": "volatility of each factor's log-variance (factor_volatility='sv')",
    "factor_garch_persistence": "alpha + gamma/2 + beta of each factor's GARCH(1,1) variance, "
    "in (0, 1) "
    "(factor_volatility='garch')",
    "factor_garch_share": "(alpha + gamma/2) / persistence: the news share of each factor's GARCH "
    "persistence, in (0, 1) (factor_volatility='garch')",
    "factor_garch_leverage": "gamma / (2 alpha + gamma): the share of each factor's GARCH "
    "news that comes from falls only, in (0, 1) (factor_volatility='garch')",
    "idio_garch_persistence": "alpha + gamma/2 + beta of each series' idiosyncratic GARCH, "
    "in (0, 1) (idio_volatility='garch')",
    "idio_garch_share": "news share of each series' idiosyncratic GARCH persistence, in (0, 1) "
    "(idio_volatility='garch')",
    "idio_garch_leverage": "share of each series' idiosyncratic GARCH news from falls only, "
    "in (0, 1) (idio_volatility='garch')",
    "idio_sv_phi": "persistence of the idiosyncratic log-variance path(s) "
    "(idio_volatility='common_sv' or 'sv')",
    "idio_sv_sd": "volatility of the idiosyncratic log-variance path(s) "
    "(idio_volatility='common_sv' or 'sv')",
    "tails_nu": "degrees of freedom minus 2 of the Student-t shocks, nu - 2 > 0 "
    "(tails='student_t')",
}

#: Prior names whose parameter must be positive, and distributions with positive support.
POSITIVE = frozenset(
    {
        "idio_sd",
        "loading_scale",
        "loading_local",
        "slab_scale",
        "group_loading_sd",
        "factor_sv_sd",
        "idio_sv_sd",
        "tails_nu",
    }
)
POSITIVE_DISTS = frozenset(
    {
        "HalfNormal",
        "HalfStudentT",
        "HalfCauchy",
        "Gamma",
        "InverseGamma",
        "Exponential",
        "LogNormal",
        "Weibull",
        "ChiSquared",
    }
)
#: Prior names of AR(1) persistences: support inside (-1, 1).
PERSISTENCE = frozenset({"factor_sv_phi", "idio_sv_phi"})
#: Prior names of fractions: support inside (0, 1).
UNIT_INTERVAL = frozenset(
    f"{part}_garch_{name}"
    for part in ("factor", "idio")
    for name in ("persistence", "share", "leverage")
)
#: Distribution parameters that must be positive numbers.
_POSITIVE_PARAMS = ("sigma", "alpha", "beta", "lam", "tau", "nu", "b")


def _rebuild_prior(dist: str, params: dict) -> Prior:
    return Prior(dist, **params)


class Prior:
    """A PyMC distribution with fixed or hierarchical parameters.

    Parameters
    ----------
    dist : str
        Name of a PyMC distribution (``"Normal"``, ``"HalfNormal"``, ...).
    **params
        Its parameters: numbers, lists, or nested :class:`Prior` objects.
    """

    __slots__ = ("dist", "params")

    def __init__(self, dist: str, **params: Any):
        import pymc as pm

        cls = getattr(pm, dist, None) if isinstance(dist, str) else None
        if cls is None or not (isinstance(cls, type) and issubclass(cls, pm.Distribution)):
            raise ValueError(
                f"unknown distribution {dist!r}: use the name of a PyMC distribution, "
                "e.g. 'Normal', 'HalfNormal', 'StudentT', 'Beta'"
            )
        for key, value in params.items():
            if not isinstance(value, Prior | int | float | list | tuple | np.ndarray):
                raise TypeError(f"parameter {key!r} of {dist}: expected a number or a Prior")
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "params", dict(params))

    def __setattr__(self, name, value):
        raise AttributeError("Prior is immutable")

    def __reduce__(self):
        # pickled for worker processes (bdfm.fit_many): rebuilt through __init__
        return (_rebuild_prior, (self.dist, self.params))

    def __eq__(self, other) -> bool:
        return isinstance(other, Prior) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Prior({self.dist!r}{', ' if args else ''}{args})"

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict: ``{"dist": ..., param: value-or-dict}``."""
        out: dict[str, Any] = {"dist": self.dist}
        for key, value in self.params.items():
            if isinstance(value, Prior):
                out[key] = value.to_dict()
            else:
                out[key] = np.asarray(value).tolist()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prior:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, Mapping) or "dist" not in data:
            raise ValueError(f"a prior dict needs a 'dist' key, got {data!r}")
        params = {
            k: cls.from_dict(v) if isinstance(v, Mapping) else v
            for k, v in data.items()
            if k != "dist"
        }
        return cls(data["dist"], **params)

    # ---------------------------------------------------------------- model building
    def create(self, name: str, *, dims=None, shape=None):
        """Create the PyMC variable (and any nested hyper-priors) in the active model."""
        import pymc as pm

        kwargs = {}
        for key, value in self.params.items():
            kwargs[key] = value.create(f"{name}_{key}") if isinstance(value, Prior) else value
        return getattr(pm, self.dist)(name, **kwargs, dims=dims, shape=shape)

    def create_location_scale(self, name: str, loc, scale, *, dims=None):
        """Create the variable shifted by ``loc`` and with its ``sigma`` multiplied by ``scale``.

        Only for location-scale families with ``mu`` and ``sigma`` parameters
        (Normal, StudentT, ...): used for the hierarchical loadings.
        """
        import pymc as pm

        params = self._location_scale_params(name, loc, scale)
        try:
            return getattr(pm, self.dist)(name, **params, dims=dims)
        except TypeError as err:
            raise _not_location_scale(self.dist, err) from None

    def logp_location_scale(self, value, loc, scale):
        """Elementwise log-density at ``value`` of the prior shifted by ``loc``, scaled by ``scale``.

        The density of :meth:`create_location_scale`, for parameterisations that build
        the variable themselves (:mod:`bdfm.inference.gauge`).
        """
        import pymc as pm

        params = self._location_scale_params("loadings", loc, scale)
        try:
            dist = getattr(pm, self.dist).dist(**params)
        except TypeError as err:
            raise _not_location_scale(self.dist, err) from None
        return pm.logp(dist, value)

    def _location_scale_params(self, name: str, loc, scale) -> dict[str, Any]:
        if any(isinstance(v, Prior) for v in self.params.values()):
            raise ValueError(f"prior {name!r}: hyper-priors go in the scale priors, not here")
        params = dict(self.params)
        params["mu"] = params.get("mu", 0.0) + loc
        params["sigma"] = params.get("sigma", 1.0) * scale
        return params


def _not_location_scale(dist: str, err: Exception) -> ValueError:
    return ValueError(
        f"the loadings prior must be a location-scale distribution with mu and sigma "
        f"(Normal, StudentT), got {dist}: {err}"
    )


def _as_prior(name: str, value) -> Prior:
    if isinstance(value, Prior):
        return value
    if isinstance(value, Mapping):
        return Prior.from_dict(value)
    raise TypeError(f"prior {name!r}: expected a bdfm.Prior or a dict, got {type(value).__name__}")


def default_priors(loadings: str, idiosyncratic: str, grouped: bool) -> dict[str, Prior]:
    """The default priors of a configuration (every name it uses, nothing else)."""
    priors = {
        "loadings": Prior("Normal", mu=0.0, sigma=1.0),
        "factor_ar": Prior("Normal", mu=0.0, sigma=1.0),
        "idio_sd": Prior("HalfNormal", sigma=1.0),
    }
    if loadings == "horseshoe":
        priors["loading_scale"] = Prior("HalfStudentT", nu=3.0, sigma=0.5)
        priors["loading_local"] = Prior("HalfStudentT", nu=1.0, sigma=1.0)
        priors["slab_scale"] = Prior("InverseGamma", alpha=2.0, beta=2.0)
    elif loadings == "shrinkage":
        priors["loading_scale"] = Prior("HalfNormal", sigma=1.0)
    if grouped:
        priors["group_loading_mean"] = Prior("Normal", mu=0.0, sigma=1.0)
        priors["group_loading_sd"] = Prior("HalfNormal", sigma=0.5)
    if idiosyncratic == "ar1":
        priors["idio_ar"] = Prior("Uniform", lower=-0.99, upper=0.99)
    return priors


def _garch_priors(part: str) -> dict[str, Prior]:
    return {
        f"{part}_garch_persistence": Prior("Beta", alpha=20.0, beta=1.5),
        f"{part}_garch_share": Prior("Beta", alpha=2.0, beta=10.0),
        f"{part}_garch_leverage": Prior("Beta", alpha=1.0, beta=1.0),
    }


def volatility_priors(factor_volatility: str, idio_volatility: str, tails: str) -> dict:
    """Default priors of the volatility and tail options (empty for the constant Gaussian).

    Persistences ~ Beta(20, 1.5) (mean 0.93, as in the stochastic-volatility literature;
    also the GARCH α + γ/2 + β); the GARCH news share ~ Beta(2, 10) (mean 0.17) and its
    leverage share ~ Beta(1, 1);
    volatilities of the log-variances ~ HalfNormal(0.5); ν - 2 ~ Gamma(2, 0.1) (mean
    ν = 22, keeps ν away from 2 where the variance is infinite).
    """
    priors: dict[str, Prior] = {}
    if factor_volatility == "sv":
        priors["factor_sv_phi"] = Prior("Beta", alpha=20.0, beta=1.5)
        priors["factor_sv_sd"] = Prior("HalfNormal", sigma=0.5)
    elif factor_volatility == "garch":
        priors |= _garch_priors("factor")
    if idio_volatility == "garch":
        priors |= _garch_priors("idio")
    elif idio_volatility in ("common_sv", "sv"):
        priors["idio_sv_phi"] = Prior("Beta", alpha=20.0, beta=1.5)
        priors["idio_sv_sd"] = Prior("HalfNormal", sigma=0.5)
    if tails == "student_t":
        priors["tails_nu"] = Prior("Gamma", alpha=2.0, beta=0.1)
    return priors


def _support_problems(name: str, prior: Prior) -> list[str]:
    """What makes ``prior`` impossible for ``name`` (empty if nothing)."""
    problems = []
    for key in _POSITIVE_PARAMS:
        value = prior.params.get(key)
        if isinstance(value, int | float) and not value > 0:
            problems.append(f"prior {name!r}: {prior.dist} needs {key} > 0, got {value!r}")
    if name in POSITIVE and prior.dist not in POSITIVE_DISTS:
        problems.append(
            f"prior {name!r} must have positive support (e.g. HalfNormal, Gamma, "
            f"InverseGamma, LogNormal), got {prior.dist}"
        )
    for names, low, what in ((PERSISTENCE, -1, "a persistence"), (UNIT_INTERVAL, 0, "a fraction")):
        if name not in names:
            continue
        lower, upper = prior.params.get("lower"), prior.params.get("upper")
        inside = prior.dist == "Beta" or (
            prior.dist in ("Uniform", "TruncatedNormal")
            and isinstance(lower, int | float)
            and isinstance(upper, int | float)
            and low <= lower < upper <= 1
        )
        if not inside:
            problems.append(
                f"prior {name!r} is {what} and needs support inside ({low}, 1): "
                f"use Beta(...) or Uniform/TruncatedNormal with {low} <= lower < upper <= 1, "
                f"got {prior!r}"
            )
    return problems


def resolve_priors(defaults: Mapping[str, Prior], overrides: Mapping | None) -> dict[str, Prior]:
    """``defaults | overrides``, refusing names the model does not use."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        valid = "\n".join(f"  {n}: {PRIOR_DOCS.get(n, '')}" for n in sorted(defaults))
        raise ValueError(
            f"unknown prior name(s) {unknown}. This model's priors are:\n{valid}\n"
            "Check the spelling, or the model options that use a prior "
            "(loadings='horseshoe', groups=..., idiosyncratic='ar1', factor_volatility='sv', "
            "idio_volatility='common_sv' or 'sv', tails='student_t')."
        )
    resolved = {**defaults, **{k: _as_prior(k, v) for k, v in overrides.items()}}
    problems = [p for k in overrides for p in _support_problems(k, resolved[k])]
    if problems:
        raise ValueError("impossible prior(s):\n- " + "\n- ".join(problems))
    return resolved


def priors_to_json(priors: Mapping[str, Prior]) -> str:
    """Serialise a priors dict to a JSON string."""
    return json.dumps({k: v.to_dict() for k, v in priors.items()}, sort_keys=True)


def priors_from_json(text: str) -> dict[str, Prior]:
    """Inverse of :func:`priors_to_json`."""
    return {k: Prior.from_dict(v) for k, v in json.loads(text).items()}
