r"""Leave-future-out cross-validation: exact, and approximate by PSIS (Bürkner et al. 2020).

For every ``i = L, …, T − M`` the M-step-ahead score is the log predictive density of
the next block given the past only,

.. math::

    \mathrm{elpd}_i = \log \int p(y_{i+1:i+M} \mid y_{1:i}, θ)\, p(θ \mid y_{1:i})\, dθ .

*Exact* LFO refits the model on ``y_{1:i}`` for every ``i``. *Approximate* PSIS-LFO
(Bürkner, Gabry & Vehtari 2020, "Approximate leave-future-out cross-validation for
Bayesian time series models", J. Stat. Comput. Simul.) refits only at ``i* = L`` and
then reweights the draws of the last refit by the likelihood of the points seen since,

.. math::

    \log r_s = \sum_{j=i^*+1}^{i} \log p(y_j \mid y_{1:j-1}, θ_s),

smoothed by Pareto-smoothed importance sampling; when the Pareto shape k̂ exceeds a
threshold (0.7) it refits at ``i`` and starts again.

Both need, for a posterior fitted on a window, every draw's one-step terms
``log p(y_j | y_{1:j-1}, θ)`` on the **whole** sample: the Kalman filter is causal, so
one filter pass per draw gives all of them, and the joint M-step density is the sum of
M consecutive terms. They are evaluated in the fit's own scaling and converted to
original units, so refits on different windows (hence scalings) are comparable.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import logsumexp

from bdfm.inference.fitting import pointwise_loglik
from bdfm.model import DynamicFactorModel, min_dates
from bdfm.selection.parallel import fit_many
from bdfm.selection.refit import fit_options

__all__ = ["LFOResult", "lfo", "window_loglik"]

K_THRESHOLD = 0.7


@dataclass(frozen=True)
class LFOResult:
    """Leave-future-out scores of one specification.

    Attributes
    ----------
    pointwise : pandas.Series
        ``elpd_i`` indexed by the date of the first predicted point ``i + 1``.
    elpd, se : float
        Sum of the pointwise scores and its standard error ``sqrt(n var)``.
    refits : list of int
        Training-window lengths ``i`` at which the model was (re)fitted.
    pareto_k : pandas.Series
        k̂ of the importance weights used for each score (NaN right after a refit).
    min_train, steps : int
    exact : bool
    notes : list of str
        Warnings about reliability.
    """

    pointwise: pd.Series
    refits: list
    pareto_k: pd.Series
    min_train: int
    steps: int
    exact: bool
    notes: list = field(default_factory=list)

    @property
    def elpd(self) -> float:
        """Sum of the pointwise scores."""
        return float(self.pointwise.sum())

    @property
    def se(self) -> float:
        """Standard error of :attr:`elpd`, ``sqrt(n var(pointwise))``."""
        n = len(self.pointwise)
        return float(np.sqrt(n * self.pointwise.var(ddof=1))) if n > 1 else float("nan")

    def __repr__(self) -> str:
        kind = "exact" if self.exact else "PSIS"
        return (
            f"LFOResult({kind}, steps={self.steps}, min_train={self.min_train}, "
            f"elpd={self.elpd:.2f} (se {self.se:.2f}), refits={len(self.refits)})"
        )


def window_loglik(
    window_fit, data: pd.DataFrame, *, n_particles: int = 200, random_seed=None
) -> np.ndarray:
    """One-step log densities of all of ``data`` under a fit on a leading window of it.

    Returns an (S, T) array, S = chains x draws, in original units: the model of the
    full data is built with ``window_fit``'s scaling. With time-varying volatility
    the terms are particle-filter estimates (``n_particles`` per draw, see
    :func:`bdfm.inference.fitting.pointwise_loglik`).
    """

    model_kwargs, _ = fit_options(window_fit)
    full = DynamicFactorModel(data, **model_kwargs, scaling=window_fit.model.panel.scaling)
    ll = pointwise_loglik(
        full, window_fit.posterior, n_particles=n_particles, random_seed=random_seed
    )
    return ll.reshape(-1, full.n_time)


def _block(ll: np.ndarray, i: int, steps: int) -> np.ndarray:
    """log p(y_{i+1:i+M} | y_{1:i}, θ_s) per draw (i = training length)."""
    return ll[:, i : i + steps].sum(axis=1)


def _refits(fit, data, lengths, executor, refit_kwargs) -> dict:

    model_kwargs, fit_kwargs = fit_options(fit)
    fit_kwargs.update(refit_kwargs)
    specs = {f"train={i}": model_kwargs for i in lengths}
    windows = {f"train={i}": data.iloc[:i] for i in lengths}
    res = fit_many(specs, windows, executor=executor, progress=False, **fit_kwargs)
    res.raise_errors()
    return {i: res[f"train={i}"] for i in lengths}


def lfo(
    fit,
    min_train: int,
    steps: int = 1,
    *,
    exact: bool = False,
    k_threshold: float = K_THRESHOLD,
    executor="serial",
    n_particles: int = 200,
    **refit_kwargs,
) -> LFOResult:
    """Leave-future-out CV of ``fit``'s specification on ``fit``'s data.

    Parameters
    ----------
    fit : FitResult
        Gives the data, the specification, the priors, the structure (the same
        anchor series) and the sampler settings of every refit.
    min_train : int
        L, the minimum training window (number of time points); the first score
        predicts point L + 1.
    steps : int
        M, the horizon: score the joint density of the next M points.
    exact : bool
        Refit at every step (T − M − L + 1 fits, run through ``executor``) instead of
        PSIS-LFO.
    k_threshold : float
        Refit when the Pareto k̂ of the importance weights exceeds it (PSIS-LFO).
    executor : "serial", None or Executor
        Where exact refits run (see :func:`bdfm.fit_many`); PSIS refits are sequential.
    n_particles : int
        Specifications with time-varying volatility or Student-t shocks only: particles
        per draw of the filter that gives the one-step terms (the latent paths are
        integrated out given the past, never smoothed with the scored point). Their
        Monte Carlo error (O(1/n_particles) per term, see
        :meth:`bdfm.DynamicFactorModel.loglike_particle`) adds to the spread of the
        PSIS weights: rerun with more particles if the scores move.
    **refit_kwargs
        Override the fit options of the refits (``draws``, ``tune``, ``chains``,
        ``sampler``, ``random_seed``, ...).
    """
    if isinstance(n_particles, bool) or int(n_particles) != n_particles or n_particles < 2:
        raise ValueError(f"n_particles must be an integer >= 2, got {n_particles!r}")
    if fit.model.spec.idio_volatility == "sv":
        raise ValueError(
            "leave-future-out scoring needs the one-step predictive, which has no particle "
            "filter with per-series idiosyncratic stochastic volatility (idio_volatility='sv'); "
            "use idio_volatility='common_sv'"
        )
    data = fit.idata.observed_data["y"].to_pandas()
    data.columns.name = None
    T = len(data)
    least, _ = min_dates(fit.model.spec)  # the fewest dates a refit can be fitted to
    if not isinstance(min_train, int | np.integer) or not least <= min_train <= T - steps:
        raise ValueError(
            f"min_train must be an integer between {least} (the fewest dates this "
            f"specification can be fitted to) and T - steps = {T - steps}, got {min_train!r}"
        )
    if not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    points = range(min_train, T - steps + 1)
    scores = np.empty(len(points))
    kvals = np.full(len(points), np.nan)
    notes: list[str] = []

    def scored(window_fit, i):
        return window_loglik(window_fit, data, n_particles=n_particles, random_seed=i)

    if exact:
        fits = _refits(fit, data, list(points), executor, refit_kwargs)
        for n, i in enumerate(points):
            ll = scored(fits[i], i)
            scores[n] = logsumexp(_block(ll, i, steps)) - np.log(ll.shape[0])
        refits = list(points)
    else:
        refits = [min_train]
        ll = scored(_refits(fit, data, [min_train], "serial", refit_kwargs)[min_train], min_train)
        i_star = min_train
        for n, i in enumerate(points):
            if i > i_star:
                log_ratio = ll[:, i_star:i].sum(axis=1)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # k̂ is checked here
                    lw, k = az.psislw(log_ratio)
                kvals[n] = float(k)
                if k > k_threshold:
                    ll = scored(_refits(fit, data, [i], "serial", refit_kwargs)[i], i)
                    i_star = i
                    refits.append(i)
                    kvals[n] = np.nan
            if i == i_star:
                lw = np.full(ll.shape[0], -np.log(ll.shape[0]))
            scores[n] = logsumexp(lw + _block(ll, i, steps))
    n_draws = ll.shape[0]  # of the (last) refit
    if not exact and n_draws < 100:
        notes.append(f"only {n_draws} draws per refit; PSIS-LFO needs a few hundred")

    index = pd.DatetimeIndex(data.index[list(points)], name=data.index.name)
    return LFOResult(
        pointwise=pd.Series(scores, index=index, name="elpd"),
        refits=refits,
        pareto_k=pd.Series(kvals, index=index, name="pareto_k"),
        min_train=int(min_train),
        steps=int(steps),
        exact=exact,
        notes=notes,
    )
