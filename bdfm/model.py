"""The user-facing :class:`DynamicFactorModel`: data + specification + likelihood."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt

from bdfm.data import Panel, Scaling, prepare_panel
from bdfm.dims import factor_labels
from bdfm.params import param_shapes, particle_arguments, validate_params, volatility_names
from bdfm.spec import DFMSpec
from bdfm.statespace.assemble import dfm_loglike_pointwise
from bdfm.statespace.inputs import filter_inputs
from bdfm.statespace.kalman import FilterResult, SmootherResult, filter_states, smooth_states
from bdfm.statespace.particle import ParticleResult, particle_loglike
from bdfm.statespace.stats import ar1_inputs
from bdfm.statespace.warmup import compile_with_warmup

__all__ = ["MIN_DATES_VOLATILITY", "DynamicFactorModel", "min_dates"]

log = logging.getLogger(__name__)

#: fewest dates with data for a spec with time-varying volatility (latent paths)
MIN_DATES_VOLATILITY = 50


def min_dates(spec: DFMSpec) -> tuple[int, str]:
    """Fewest dates with data that ``spec`` can be fitted to, and why (for the error).

    Every series regresses on the k factors with k loadings and an idiosyncratic sd
    (and an AR coefficient under "ar1"); every equation of the factor VAR(p) has p*k
    coefficients on the p lagged dates. With no more dates than those parameters the
    fit is exact: the idiosyncratic variances go to zero and the optimiser or sampler
    "converges" to a degenerate answer. So at least one date more than each needs.

    With time-varying volatility (``spec.constant_gaussian`` False) at least
    :data:`MIN_DATES_VOLATILITY` dates: the latent log-variance paths and their
    persistence, or a GARCH recursion's memory, are not informed by a handful of dates.
    """
    k, p = spec.n_factors, spec.factor_order
    per_series = k + 1 + (spec.idiosyncratic == "ar1")
    per_equation = p * k
    need = max(per_series + 1, p + per_equation + 1)
    why = (
        f"with n_factors={k}, factor_order={p} and idiosyncratic={spec.idiosyncratic!r}, "
        f"each series has {per_series} parameters and each factor VAR equation "
        f"{per_equation} coefficients on {p} lagged date(s), and the dates must outnumber "
        "them or the fit is exact with zero idiosyncratic variance; use more dates, fewer "
        "factors or a lower factor_order"
    )
    if not spec.constant_gaussian and need < MIN_DATES_VOLATILITY:
        need = MIN_DATES_VOLATILITY
        why = (
            f"time-varying volatility (factor_volatility={spec.factor_volatility!r}, "
            f"idio_volatility={spec.idio_volatility!r}, tails={spec.tails!r}) has latent "
            f"volatility paths or GARCH memories that a handful of dates do not inform, so it "
            f"needs at least "
            f"{MIN_DATES_VOLATILITY} dates; use more dates or constant volatility with "
            "normal tails"
        )
    return need, why


class DynamicFactorModel:
    r"""Dynamic factor model with the factors integrated out by a Kalman filter.

    .. math::

        y_t = Λ f_t + u_t,\qquad f_t = \sum_{l=1}^p A_l f_{t-l} + η_t,\ η_t \sim N(0, I),

    with idiosyncratic errors u_it iid N(0, σ_i²) or AR(1):
    u_it = ρ_i u_{i,t-1} + ε_it. The likelihood is exact and Gaussian; missing
    values (NaN) are skipped; the recursion runs on the k-dimensional factor
    state only, so its cost does not grow with the number of series.

    Parameters
    ----------
    data : pandas.DataFrame
        Dates (DatetimeIndex) x series; NaN marks a missing value.
    n_factors : int
        Number of factors k (< number of series).
    factor_order : int
        Order p of the factor VAR.
    idiosyncratic : {"iid", "ar1"}
        Idiosyncratic error model. Under "ar1", an interior gap restarts the
        series' error process (see :mod:`bdfm.statespace.stats`).
    standardize : bool
        Demean and scale every series (recorded in ``model.panel.scaling``);
        False uses the data as given with no intercept.
    scaling : bdfm.data.Scaling, optional
        Use this mean and scale per series instead of the data's own (e.g. a fit's
        scaling, to evaluate later data in that fit's model units).
    factor_volatility : {"constant", "sv", "garch"}
        ``"sv"``: stochastic volatility of the factor innovations; ``"garch"``: a
        GARCH(1,1) of each factor's estimated shocks (observation driven, no latent path).
    idio_volatility : {"constant", "common_sv", "sv", "garch"}
        Stochastic volatility of the idiosyncratic errors: one common path or one per
        series; ``"garch"``: a GJR-GARCH(1,1) per series of its estimated innovations.
    tails : {"normal", "student_t"}
        Student-t shocks (a Gaussian scale mixture per date).
        Any of these three non-default makes the likelihood intractable: see
        :meth:`loglike_particle`; such a model needs at least
        :data:`MIN_DATES_VOLATILITY` dates with data.

    Notes
    -----
    Estimation lives in :mod:`bdfm.inference` and :mod:`bdfm.results`; :mod:`bdfm.api`
    attaches it here as ``fit`` (NUTS, a :class:`bdfm.results.FitResult`), ``fit_mle``,
    ``fit_map`` and ``build_model`` (the PyMC model), so this module imports no part
    above it.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        n_factors: int,
        factor_order: int = 1,
        idiosyncratic: str = "iid",
        standardize: bool = True,
        scaling: Scaling | None = None,
        factor_volatility: str = "constant",
        idio_volatility: str = "constant",
        tails: str = "normal",
    ) -> None:
        self.spec = DFMSpec(
            n_factors=n_factors,
            factor_order=factor_order,
            idiosyncratic=idiosyncratic,
            standardize=standardize,
            factor_volatility=factor_volatility,
            idio_volatility=idio_volatility,
            tails=tails,
        )
        self.scaling_given = scaling is not None
        min_time, why = min_dates(self.spec)
        self.panel: Panel = prepare_panel(
            data,
            standardize=standardize,
            min_time=min_time,
            scaling=scaling,
            min_time_reason=why,
        )
        if n_factors >= self.panel.n_series:
            raise ValueError(
                f"n_factors={n_factors} must be smaller than the number of series "
                f"({self.panel.n_series}); use fewer factors or more series"
            )

    # ------------------------------------------------------------------ basics
    @property
    def n_series(self) -> int:
        """Number of series N."""
        return self.panel.n_series

    @property
    def n_time(self) -> int:
        """Number of time points T."""
        return self.panel.n_time

    @property
    def n_obs(self) -> int:
        """Number of observed (non-missing) values."""
        return int(self.panel.mask.sum())

    @property
    def param_names(self) -> list[str]:
        """Names of the parameters in the order the compiled functions take them."""
        return list(param_shapes(self.spec, self.n_series))

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Expected shape of every parameter."""
        return param_shapes(self.spec, self.n_series)

    def __repr__(self) -> str:
        s = self.spec
        return (
            f"DynamicFactorModel(N={self.n_series}, T={self.n_time}, n_factors={s.n_factors}, "
            f"factor_order={s.factor_order}, idiosyncratic={s.idiosyncratic!r}, "
            f"standardize={s.standardize}"
            + (
                ""
                if s.constant_gaussian
                else f", factor_volatility={s.factor_volatility!r}, "
                f"idio_volatility={s.idio_volatility!r}, tails={s.tails!r}"
            )
            + ")"
        )

    # ------------------------------------------------------------------ graph
    @cached_property
    def _data_constants(self) -> dict[str, np.ndarray]:
        y = self.panel.filled
        mask = self.panel.mask
        out = {"y": y, "mask": np.ascontiguousarray(mask, dtype=float)}
        if self.spec.idiosyncratic == "ar1":
            out.update(ar1_inputs(y, mask))
        return out

    def loglike_graph(
        self, loadings, factor_ar, idio_sd, idio_ar=None, *, factor_var=None, obs_scale=None
    ):
        """Pointwise log p(y_t | y_{1:t-1}) as a (T,) pytensor tensor, differentiable.

        This is the likelihood the samplers use. ``factor_var`` (T, k) gives
        per-time factor innovation variances and ``obs_scale`` (T, N) per-time
        multipliers of the idiosyncratic variances; both optional.
        """
        c = self._data_constants
        ar1 = self.spec.idiosyncratic == "ar1"
        if ar1 and idio_ar is None:
            raise ValueError("this model has AR(1) idiosyncratic errors: pass idio_ar")
        if not ar1 and idio_ar is not None:
            raise ValueError("idio_ar given but idiosyncratic='iid'; use idiosyncratic='ar1'")
        kwargs = {"factor_var": factor_var, "obs_scale": obs_scale}
        if ar1:
            kwargs.update(y_lag=c["y_lag"], m_diff=c["m_diff"], m_start=c["m_start"])
        return dfm_loglike_pointwise(
            c["y"], c["mask"], loadings, factor_ar, idio_sd, idio_ar, **kwargs
        )

    def _symbolic_params(self) -> dict[str, pt.TensorVariable]:
        # the constant-variance Gaussian graph: the volatility parameters do not enter it
        vol = volatility_names(self.spec)
        return {
            n: pt.tensor(n, shape=s, dtype="float64")
            for n, s in self.param_shapes().items()
            if n not in vol
        }

    def _graph_from(self, sym: Mapping[str, pt.TensorVariable]):
        return self.loglike_graph(
            sym["loadings"], sym["factor_ar"], sym["idio_sd"], sym.get("idio_ar")
        )

    @cached_property
    def _pointwise_fn(self):
        sym = self._symbolic_params()
        return self._compile(list(sym.values()), self._graph_from(sym))

    @cached_property
    def _value_and_grad_fn(self):
        sym = self._symbolic_params()
        total = self._graph_from(sym).sum()
        inputs = list(sym.values())
        return self._compile(inputs, [total, *pytensor.grad(total, inputs)])

    def _compile(self, inputs, outputs):
        # numba compiles the kernels in a thread while pytensor compiles the graph
        return compile_with_warmup(inputs, outputs, self.spec.idiosyncratic, trust_input=True)

    def _ordered(self, params: Mapping) -> list[np.ndarray]:
        checked = validate_params(params, self.spec, self.n_series)
        return [checked[n] for n in self.param_names]

    # ------------------------------------------------------------------ evaluation
    def loglike_pointwise(
        self, params: Mapping, *, n_particles: int = 500, random_seed=None
    ) -> np.ndarray:
        """log p(y_t | y_{1:t-1}) for every time point, shape (T,).

        Parameters
        ----------
        params : dict
            ``{"loadings": (N, k), "factor_ar": (p, k, k), "idio_sd": (N,),
            "idio_ar": (N,)}`` (``idio_ar`` for AR(1) errors only), plus the
            volatility parameters of :func:`bdfm.params.volatility_names`, in model
            units (standardised data when ``standardize=True``).
        n_particles, random_seed
            Time-varying volatility only (ignored otherwise): the particle filter's
            options, see :meth:`loglike_particle`.

        Returns
        -------
        (T,) ndarray
            Exact (Kalman filter) for constant volatility with normal tails; otherwise
            the particle-filter estimate of :meth:`loglike_particle` (its ``loglike``).
        """
        if not self.spec.constant_gaussian:
            return self.loglike_particle(
                params, n_particles=n_particles, random_seed=random_seed
            ).loglike
        return np.asarray(self._pointwise_fn(*self._ordered(params)))

    def loglike(self, params: Mapping, *, n_particles: int = 500, random_seed=None) -> float:
        """Log-likelihood log p(y_{1:T}) at ``params`` (see :meth:`loglike_pointwise`).

        Exact for constant volatility with normal tails; otherwise a particle-filter
        estimate (its Monte Carlo error: :meth:`loglike_particle`).
        """
        return float(
            self.loglike_pointwise(params, n_particles=n_particles, random_seed=random_seed).sum()
        )

    def loglike_particle(
        self, params: Mapping, n_particles: int = 500, random_seed=None
    ) -> ParticleResult:
        """Particle-filter estimate of log p(y_t | y_{1:t-1}) with Monte Carlo errors.

        A Rao-Blackwellised particle filter
        (:func:`bdfm.statespace.particle.particle_loglike`) on the model's data in
        model units: particles for the volatility paths, the factors integrated out
        exactly given each path.

        Parameters
        ----------
        params : dict
            Natural parameters including the volatility ones (``factor_sv_phi``,
            ``factor_sv_sd`` or ``factor_garch_alpha``, ``_beta``, ``_gamma``,
            ``idio_sv_phi``, ``idio_sv_sd``, ``tails_nu``, as the specification uses them).
        n_particles : int
            Number of particles (>= 2).
        random_seed : int, numpy Generator or None
            The same seed gives the same estimate.

        Returns
        -------
        ParticleResult
            ``loglike`` (T,) and its standard errors ``se``, ``total`` and
            ``total_se``, effective sample sizes and filtered means (``factor_mean``
            (T, k), ``h_mean``, ``g_mean``, ``lam_mean``). For a constant Gaussian
            model every particle is the exact Kalman filter (zero error).

        Raises
        ------
        ValueError
            Invalid parameters, or ``idio_volatility="sv"``: one log-variance path
            per series is beyond the particle filter.
        """
        s = self.spec
        if s.idio_volatility == "sv":
            raise ValueError(
                "the likelihood with per-series idiosyncratic stochastic volatility "
                "(idio_volatility='sv') has N latent log-variance paths and no particle-filter "
                "estimate here; it needs the per-date paths: evaluate "
                "loglike_graph(..., obs_scale=exp(g) / lambda) given them (the samplers do), "
                "or use idio_volatility='common_sv'"
            )
        p = validate_params(params, s, self.n_series)
        c = self._data_constants
        return particle_loglike(
            c["y"],
            self.panel.mask,
            **particle_arguments(p, s),
            n_particles=n_particles,
            random_seed=random_seed,
        )

    def loglike_and_grad(self, params: Mapping) -> tuple[float, dict[str, np.ndarray]]:
        """Log-likelihood and its gradient with respect to every parameter.

        Constant volatility with normal tails only (the exact likelihood).
        """
        self.spec.require_constant_gaussian(
            "loglike_and_grad",
            "differentiate loglike_graph(..., factor_var=, obs_scale=) given the paths, "
            "or use loglike_particle for a (non-differentiable) estimate",
        )
        out = self._value_and_grad_fn(*self._ordered(params))
        return float(out[0]), dict(zip(self.param_names, out[1:], strict=True))

    def _filter_with_transition(self, params: Mapping) -> tuple[FilterResult, np.ndarray]:
        self.spec.require_constant_gaussian(
            "filter/smooth/smoothed_factors",
            "use loglike_particle(params).factor_mean for the filtered factor means, or "
            "the posterior factors of a fit (which samples the volatility paths)",
        )
        c = self._data_constants
        p = dict(zip(self.param_names, self._ordered(params), strict=True))
        inputs = filter_inputs(
            c["y"],
            c["mask"],
            p["loadings"],
            p["factor_ar"],
            p["idio_sd"],
            p.get("idio_ar"),
            n_lags=self.spec.n_state_lags,
            ar1=c if self.spec.idiosyncratic == "ar1" else None,
        )
        filtered = filter_states(inputs.C, inputs.b, inputs.top, inputs.q, inputs.P0)
        return filtered, inputs.top

    def filter(self, params: Mapping) -> FilterResult:
        """Predicted and filtered moments of the state (f_t, f_{t-1}, ...) at ``params``."""
        return self._filter_with_transition(params)[0]

    def smooth(self, params: Mapping) -> SmootherResult:
        """Smoothed moments of the state given all data, at ``params``."""
        filtered, top = self._filter_with_transition(params)
        return smooth_states(filtered, top)

    def smoothed_factors(self, params: Mapping) -> pd.DataFrame:
        """E[f_t | y_{1:T}] as a DataFrame (dates x factors)."""
        sm = self.smooth(params)
        k = self.spec.n_factors
        cols = factor_labels(k)
        return pd.DataFrame(sm.x_smooth[:, :k], index=self.panel.index, columns=cols)
