"""The model specification: a frozen, validated, JSON-serialisable dataclass."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = [
    "FACTOR_VOLATILITY_CHOICES",
    "IDIOSYNCRATIC_CHOICES",
    "IDIO_VOLATILITY_CHOICES",
    "TAILS_CHOICES",
    "DFMSpec",
]

IDIOSYNCRATIC_CHOICES = ("iid", "ar1")
FACTOR_VOLATILITY_CHOICES = ("constant", "sv", "garch")
IDIO_VOLATILITY_CHOICES = ("constant", "common_sv", "sv", "garch")
TAILS_CHOICES = ("normal", "student_t")


@dataclass(frozen=True)
class DFMSpec:
    """Specification of a dynamic factor model.

    Parameters
    ----------
    n_factors : int
        Number of latent factors k (>= 1).
    factor_order : int
        Order p of the factor VAR (>= 1).
    idiosyncratic : {"iid", "ar1"}
        Idiosyncratic error model.
    standardize : bool
        Demean and scale each series before fitting (the scaling is recorded).
    factor_volatility : {"constant", "sv", "garch"}
        ``"sv"``: each factor's innovation log-variance follows a stationary AR(1)
        with mean 0 (stochastic volatility; the mean is fixed by the factors' scale).
        ``"garch"``: each factor's innovation variance is a GARCH(1,1) of its
        estimated shocks, unconditional variance 1 (observation driven: no latent
        path, exact likelihood; :mod:`bdfm.statespace.garch`).
    idio_volatility : {"constant", "common_sv", "sv", "garch"}
        ``"common_sv"``: every idiosyncratic variance is scaled by one common
        stochastic-volatility path; ``"sv"``: one path per series (N x T latent
        values: for small panels); ``"garch"``: each series' idiosyncratic variance
        is a GJR-GARCH(1,1) of its estimated innovations (observation driven).
    tails : {"normal", "student_t"}
        ``"student_t"``: the shocks of each date are a Gaussian scale mixture,
        ``λ_t ~ Gamma(ν/2, ν/2)`` dividing every variance at ``t`` (multivariate t
        shocks, ν estimated).
    """

    n_factors: int
    factor_order: int = 1
    idiosyncratic: Literal["iid", "ar1"] = "iid"
    standardize: bool = True
    factor_volatility: Literal["constant", "sv", "garch"] = "constant"
    idio_volatility: Literal["constant", "common_sv", "sv", "garch"] = "constant"
    tails: Literal["normal", "student_t"] = "normal"

    def __post_init__(self) -> None:
        errors = []
        if (
            not isinstance(self.n_factors, int)
            or isinstance(self.n_factors, bool)
            or self.n_factors < 1
        ):
            errors.append(f"n_factors must be a positive integer, got {self.n_factors!r}")
        if (
            not isinstance(self.factor_order, int)
            or isinstance(self.factor_order, bool)
            or self.factor_order < 1
        ):
            errors.append(f"factor_order must be a positive integer, got {self.factor_order!r}")
        if self.idiosyncratic not in IDIOSYNCRATIC_CHOICES:
            errors.append(
                f"idiosyncratic must be one of {IDIOSYNCRATIC_CHOICES}, got {self.idiosyncratic!r}"
            )
        if not isinstance(self.standardize, bool):
            errors.append(f"standardize must be True or False, got {self.standardize!r}")
        for name, choices in (
            ("factor_volatility", FACTOR_VOLATILITY_CHOICES),
            ("idio_volatility", IDIO_VOLATILITY_CHOICES),
            ("tails", TAILS_CHOICES),
        ):
            if getattr(self, name) not in choices:
                errors.append(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if errors:
            raise ValueError("Invalid model specification:\n- " + "\n- ".join(errors))

    @property
    def constant_gaussian(self) -> bool:
        """True for constant variances and Gaussian shocks (the exact Kalman likelihood)."""
        return (
            self.factor_volatility == "constant"
            and self.idio_volatility == "constant"
            and self.tails == "normal"
        )

    def require_constant_gaussian(self, what: str, instead: str | None = None) -> None:
        """Raise a ValueError saying that ``what`` needs constant Gaussian variances.

        ``instead`` says what to use; by default, that ``what`` is not available yet.
        """
        if self.constant_gaussian:
            return
        options = (
            f"factor_volatility={self.factor_volatility!r}, "
            f"idio_volatility={self.idio_volatility!r}, tails={self.tails!r}"
        )
        if instead is not None:
            raise ValueError(
                f"{what} needs constant volatility and normal tails, but this model has "
                f"{options}: the state-space moments depend on the latent volatility paths; "
                f"{instead}"
            )
        raise ValueError(
            f"{what} is not available yet for models with time-varying volatility or "
            f"Student-t shocks ({options}); it needs the predictive distribution over the "
            "volatility paths, which bdfm does not yet compute. Fit the constant Gaussian "
            "model for this, or use the posterior volatility paths "
            "(fit.posterior['factor_log_var'], 'idio_log_var', 'tail_scale')"
        )

    @property
    def n_state_lags(self) -> int:
        """Number of factor lags in the state vector (AR(1) errors need f_{t-1})."""
        return max(self.factor_order, 2 if self.idiosyncratic == "ar1" else 1)

    @property
    def state_dim(self) -> int:
        """Dimension of the Kalman state (never depends on the number of series)."""
        return self.n_factors * self.n_state_lags

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields."""
        return asdict(self)

    def to_json(self) -> str:
        """JSON string of the fields."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DFMSpec:
        """Rebuild from :meth:`to_dict`; unknown keys are an error."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"Unknown specification field(s) {sorted(unknown)}; "
                f"valid fields are {sorted(cls.__dataclass_fields__)}"
            )
        return cls(**d)

    @classmethod
    def from_json(cls, s: str) -> DFMSpec:
        """Rebuild from :meth:`to_json`."""
        return cls.from_dict(json.loads(s))
