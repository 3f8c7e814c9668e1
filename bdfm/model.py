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
from bdfm.params import param_shapes, validate_params
from bdfm.spec import DFMSpec
from bdfm.statespace.assemble import dfm_loglike_pointwise, stationary_cov, transition_top
from bdfm.statespace.kalman import FilterResult, SmootherResult, filter_states, smooth_states
from bdfm.statespace.stats import ar1_inputs, obs_stats_ar1, obs_stats_iid
from bdfm.statespace.warmup import compile_with_warmup

__all__ = ["DynamicFactorModel"]

log = logging.getLogger(__name__)


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
    ) -> None:
        self.spec = DFMSpec(
            n_factors=n_factors,
            factor_order=factor_order,
            idiosyncratic=idiosyncratic,
            standardize=standardize,
        )
        self.scaling_given = scaling is not None
        self.panel: Panel = prepare_panel(
            data, standardize=standardize, min_time=factor_order + 2, scaling=scaling
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
            f"standardize={s.standardize})"
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
        return {n: pt.tensor(n, shape=s, dtype="float64") for n, s in self.param_shapes().items()}

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

    @cached_property
    def _filter_inputs_fn(self):
        sym = self._symbolic_params()
        c = self._data_constants
        top = transition_top(sym["factor_ar"], self.spec.n_state_lags)
        var = sym["idio_sd"] ** 2
        if self.spec.idiosyncratic == "ar1":
            stats = obs_stats_ar1(
                c["y"], c["y_lag"], c["m_diff"], c["m_start"], sym["loadings"], var, sym["idio_ar"]
            )
        else:
            stats = obs_stats_iid(c["y"], c["mask"], sym["loadings"], var)
        P0 = stationary_cov(top, pt.ones(self.spec.n_factors))
        return pytensor.function(list(sym.values()), [stats.C, stats.b, top, P0], trust_input=True)

    def _ordered(self, params: Mapping) -> list[np.ndarray]:
        checked = validate_params(params, self.spec, self.n_series)
        return [checked[n] for n in self.param_names]

    # ------------------------------------------------------------------ evaluation
    def loglike_pointwise(self, params: Mapping) -> np.ndarray:
        """log p(y_t | y_{1:t-1}) for every time point, shape (T,).

        Parameters
        ----------
        params : dict
            ``{"loadings": (N, k), "factor_ar": (p, k, k), "idio_sd": (N,),
            "idio_ar": (N,)}`` (``idio_ar`` for AR(1) errors only), in model
            units (standardised data when ``standardize=True``).
        """
        return np.asarray(self._pointwise_fn(*self._ordered(params)))

    def loglike(self, params: Mapping) -> float:
        """Exact log-likelihood log p(y_{1:T}) at ``params`` (see :meth:`loglike_pointwise`)."""
        return float(self.loglike_pointwise(params).sum())

    def loglike_and_grad(self, params: Mapping) -> tuple[float, dict[str, np.ndarray]]:
        """Log-likelihood and its gradient with respect to every parameter."""
        out = self._value_and_grad_fn(*self._ordered(params))
        return float(out[0]), dict(zip(self.param_names, out[1:], strict=True))

    def _filter_with_transition(self, params: Mapping) -> tuple[FilterResult, np.ndarray]:
        C, b, top, P0 = self._filter_inputs_fn(*self._ordered(params))
        q = np.ones((self.n_time, self.spec.n_factors))
        return filter_states(C, b, top, q, P0), top

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
