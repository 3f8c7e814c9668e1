r"""Value-at-Risk backtests: rolling one-step-ahead VaR, Kupiec and Christoffersen tests.

For a fixed parameter draw θ the Kalman filter gives the one-step predictive
``y_t | y_{1:t-1}, θ`` for *every* t in one pass: with ``s_t | y_{1:t-1} ~ N(x_t, P_t)``
and a portfolio ``w``, the return ``w'y_t`` is Gaussian with mean ``a_t'x_t + c_t``
and variance ``a_t' P_t a_t + Σ_i w_i² v_it`` (iid errors: ``a_t = (Λ'w, 0)``;
AR(1) errors, where y_{i,t-1} is observed: ``y_it = λ_i'f_t − ρ_i λ_i'f_{t-1} +
ρ_i y_{i,t-1} + ε_it``, otherwise the stationary error — the likelihood's own
treatment, :mod:`bdfm.statespace.stats`). So the model is refitted only every
``refit_every`` dates; in between the posterior draws are kept and the filter runs
on forward over the new data. The predictive of a posterior is the mixture of these
Gaussians over the draws; its VaR is found by bisection on the mixture CDF and its
expected shortfall in closed form.

Fit methods (``method``):

- ``"bayes"``: NUTS through :func:`bdfm.selection.parallel.fit_many` (refits in parallel on
  an executor); keeps up to ``max_draws`` posterior draws — the full parameter
  uncertainty, at the price of one Bayesian fit per refit;
- ``"map"``: the posterior mode (:meth:`~bdfm.DynamicFactorModel.fit_map`) as a single
  draw; ``"mle"``: the maximum-likelihood estimate. Seconds per refit instead of
  minutes, so long windows and frequent refits are cheap, but the VaR ignores
  parameter uncertainty and tends to be slightly too small (more violations) in
  short windows.

Tests (Christoffersen 1998): with ``x`` violations in ``n`` dates and ``p = 1 − α``,

.. math::

    LR_{uc} = -2\log\frac{(1-p)^{n-x} p^x}{(1-\hat p)^{n-x}\hat p^x} \sim χ²_1,\quad
    LR_{ind} = -2\log\frac{(1-\hat π)^{n_{00}+n_{10}}\hat π^{n_{01}+n_{11}}}
    {(1-\hat π_0)^{n_{00}}\hat π_0^{n_{01}}(1-\hat π_1)^{n_{10}}\hat π_1^{n_{11}}} \sim χ²_1,

``n_ij`` counting transitions from state i (violation yesterday) to j, and
``LR_cc = LR_uc + LR_ind ~ χ²_2``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import logsumexp, ndtr, xlogy
from scipy.stats import chi2, norm

from bdfm.inference.fitting import fit_map
from bdfm.inference.mle import fit_mle
from bdfm.model import DynamicFactorModel
from bdfm.params import particle_arguments
from bdfm.posterior.forecast import posterior_draws
from bdfm.posterior.moments import kalman_filter
from bdfm.posterior.risk import Weights, confidence_levels, parse_weights
from bdfm.selection.parallel import fit_many, model_options
from bdfm.spec import DFMSpec
from bdfm.statespace.inputs import portfolio_loading
from bdfm.statespace.particle import particle_loglike

__all__ = [
    "BacktestResult",
    "TestResult",
    "backtest_var",
    "christoffersen",
    "kupiec",
    "mixture_var_es",
    "one_step_portfolio",
    "segment_predictive",
]

_log = logging.getLogger(__name__)
METHODS = ("bayes", "map", "mle")


# ---------------------------------------------------------------------------- numerics
def one_step_portfolio(
    y: np.ndarray, mask: np.ndarray, draws: Mapping, n_lags: int, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One-step predictive mean and sd of ``w'y_t | y_{1:t-1}, θ_d`` for every t and draw.

    Parameters
    ----------
    y : (T, N) model-unit data, missing entries zero; mask : (T, N) bool.
    draws : parameter draws with a leading axis D.
    n_lags : factor lags in the state; weights : (N,) weights on the model-unit series.

    Returns
    -------
    mean, sd : (D, T) arrays.
    """
    y = np.asarray(y, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    D = np.shape(draws["loadings"])[0]
    T = y.shape[0]
    mean = np.empty((D, T))
    sd = np.empty((D, T))
    for d in range(D):
        one = {name: np.asarray(v[d]) for name, v in draws.items()}
        _, x_pred, P_pred, _, _ = kalman_filter(y, mask, one, n_lags)
        pl = portfolio_loading(
            y, mask, one["loadings"], one["idio_sd"], one.get("idio_ar"), weights, x_pred.shape[1]
        )
        mean[d] = np.einsum("tm,tm->t", pl.a, x_pred) + pl.const
        sd[d] = np.sqrt(np.einsum("ti,tij,tj->t", pl.a, P_pred, pl.a) + pl.noise)
    return mean, sd


def mixture_var_es(
    mean: np.ndarray,
    sd: np.ndarray,
    alpha: float,
    n_iter: int = 64,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES (positive losses) of a Gaussian mixture over the first axis.

    The ``1 − α`` quantile q solves ``Σ_d π_d Φ((q − μ_d)/σ_d) = 1 − α`` (64 bisection
    steps: to ~1e-17 of the bracket, ±40 component sds); ``ES = −E[r | r ≤ q] = −Σ_d π_d [μ_d Φ(z_d) − σ_d φ(z_d)] / (1 − α)``
    with ``z_d = (q − μ_d)/σ_d``.

    Parameters
    ----------
    mean, sd : (D, ...) component means and sds (e.g. one per posterior draw).
    alpha : confidence level.
    n_iter : bisection steps.
    weights : (D, ...) component weights π summing to one over the first axis
        (broadcast against ``mean``); default equal weights ``1/D``.

    Returns
    -------
    var, es : (...) arrays.
    """
    a = float(confidence_levels(alpha)[0])
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    pi = (
        np.full(mean.shape, 1.0 / mean.shape[0])
        if weights is None
        else np.broadcast_to(np.asarray(weights, dtype=float), mean.shape)
    )
    live = pi > 0
    target = 1 - a
    lo = np.min(np.where(live, mean - 40 * sd, np.inf), axis=0)
    hi = np.max(np.where(live, mean + 40 * sd, -np.inf), axis=0)
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        below = np.sum(pi * ndtr((mid - mean) / sd), axis=0) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    q = 0.5 * (lo + hi)
    z = (q - mean) / sd
    es = -np.sum(pi * (mean * ndtr(z) - sd * norm.pdf(z)), axis=0) / target
    return -q, es


class TestResult(NamedTuple):
    """A likelihood-ratio test: statistic, p-value and degrees of freedom."""

    statistic: float
    p_value: float
    df: int


def _violations(violations: Sequence[bool] | np.ndarray) -> np.ndarray:
    v = np.asarray(violations)
    if v.ndim != 1 or v.size == 0:
        raise ValueError("violations must be a non-empty 1-D sequence of booleans")
    if v.dtype != bool and not np.isin(v, (0, 1)).all():
        raise ValueError("violations must be booleans (or 0/1)")
    return v.astype(bool)


def kupiec(violations: Sequence[bool] | np.ndarray, alpha: float) -> TestResult:
    """Kupiec's unconditional-coverage LR test: is the violation rate ``1 − α``?

    Parameters
    ----------
    violations : 1-D booleans (or 0/1), True where the loss exceeded the VaR.
    alpha : the VaR's confidence level.
    """
    v = _violations(violations)
    p = 1 - float(confidence_levels(alpha)[0])
    n, x = v.size, int(v.sum())
    phat = x / n
    ll0 = xlogy(n - x, 1 - p) + xlogy(x, p)
    ll1 = xlogy(n - x, 1 - phat) + xlogy(x, phat)
    stat = float(-2 * (ll0 - ll1))
    return TestResult(stat, float(chi2.sf(stat, 1)), 1)


def _transitions(v: np.ndarray) -> tuple[int, int, int, int]:
    prev, cur = v[:-1], v[1:]
    return (
        int(np.sum(~prev & ~cur)),
        int(np.sum(~prev & cur)),
        int(np.sum(prev & ~cur)),
        int(np.sum(prev & cur)),
    )


def christoffersen(violations: Sequence[bool] | np.ndarray, alpha: float) -> dict[str, TestResult]:
    """Christoffersen's independence test and the conditional-coverage test.

    Parameters
    ----------
    violations : 1-D booleans (or 0/1), True where the loss exceeded the VaR.
    alpha : the VaR's confidence level.

    Returns
    -------
    dict with ``"independence"`` (LR_ind, χ²₁), ``"conditional_coverage"``
    (LR_uc + LR_ind, χ²₂) and ``"unconditional"`` (Kupiec).
    """
    v = _violations(violations)
    n00, n01, n10, n11 = _transitions(v)

    def ratio(a, b):
        return a / b if b else 0.0

    pi0, pi1 = ratio(n01, n00 + n01), ratio(n11, n10 + n11)
    pi = ratio(n01 + n11, n00 + n01 + n10 + n11)
    ll0 = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
    ll1 = xlogy(n00, 1 - pi0) + xlogy(n01, pi0) + xlogy(n10, 1 - pi1) + xlogy(n11, pi1)
    ind = float(-2 * (ll0 - ll1))
    uc = kupiec(v, alpha)
    cc = uc.statistic + ind
    return {
        "independence": TestResult(ind, float(chi2.sf(ind, 1)), 1),
        "conditional_coverage": TestResult(cc, float(chi2.sf(cc, 2)), 2),
        "unconditional": uc,
    }


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True)
class BacktestResult:
    """Out-of-sample one-step VaR forecasts against realised portfolio returns.

    Attributes
    ----------
    frame : DataFrame indexed by date: ``mean`` (predictive mean return), ``var``
        and ``es`` (positive losses), ``log_score`` (log posterior predictive density
        of the whole panel at the date, original units; NaN where nothing is
        observed) and its Monte Carlo error ``log_score_mc_se`` (particle filter;
        zero for constant Gaussian models), ``return`` (realised, NaN where a weighted
        series is missing), ``violation`` (``return < −var``).
    alpha : confidence level; method : fit method; refits : dates of the refits.
    """

    frame: pd.DataFrame
    alpha: float
    method: str
    refits: pd.DatetimeIndex
    weights: pd.Series = field(default=None)

    @property
    def _evaluated(self) -> pd.DataFrame:
        return self.frame.dropna(subset=["return"])

    @property
    def violations(self) -> pd.DatetimeIndex:
        """Dates on which the loss exceeded the VaR."""
        ev = self._evaluated
        return pd.DatetimeIndex(ev.index[ev["violation"].astype(bool)])

    @property
    def violation_rate(self) -> float:
        """Share of the evaluated dates with a violation."""
        return float(self._evaluated["violation"].astype(bool).mean())

    def kupiec(self) -> TestResult:
        """Unconditional coverage (see :func:`kupiec`)."""
        return kupiec(self._evaluated["violation"].astype(bool), self.alpha)

    def christoffersen(self) -> dict[str, TestResult]:
        """Independence and conditional coverage (see :func:`christoffersen`)."""
        return christoffersen(self._evaluated["violation"].astype(bool), self.alpha)

    def tick_loss(self) -> float:
        """Mean quantile (tick) loss of the VaR as the ``1 − α`` quantile of the return.

        ``mean_t (1{r_t < q_t} − (1 − α)) (q_t − r_t)`` with ``q_t = −VaR_t``: a
        strictly consistent scoring function for the quantile (lower is better),
        comparable across models on the same dates.
        """
        ev = self._evaluated
        q = -ev["var"].to_numpy()
        r = ev["return"].to_numpy()
        return float(np.mean(((r < q) - (1 - self.alpha)) * (q - r)))

    def elpd(self) -> tuple[float, float]:
        """Summed one-step log scores and their standard error ``sqrt(n var)`` over dates."""
        ls = self.frame["log_score"].dropna().to_numpy()
        return float(ls.sum()), float(np.sqrt(ls.size * ls.var(ddof=1)))

    def elpd_difference(self, other: BacktestResult) -> tuple[float, float]:
        """``elpd(self) − elpd(other)`` over their common scored dates and its paired SE.

        A rolling-origin leave-future-out comparison: both backtests score each date
        with a posterior fitted to earlier data only. Run both on the same data,
        windows and refit dates.
        """
        both = pd.concat(
            [self.frame["log_score"], other.frame["log_score"]], axis=1, join="inner"
        ).dropna()
        if both.empty:
            raise ValueError("the two backtests have no scored date in common")
        diff = both.iloc[:, 0].to_numpy() - both.iloc[:, 1].to_numpy()
        return float(diff.sum()), float(np.sqrt(diff.size * diff.var(ddof=1)))

    def __repr__(self) -> str:
        ev = self._evaluated
        return (
            f"BacktestResult(alpha={self.alpha}, method={self.method!r}, n={len(ev)}, "
            f"violations={int(ev['violation'].sum())}, rate={self.violation_rate:.4f})"
        )


# ---------------------------------------------------------------------------- driver
def _thin(draws: dict, max_draws: int | None) -> dict:
    D = next(iter(draws.values())).shape[0]
    if max_draws is None or D <= max_draws:
        return draws
    keep = np.linspace(0, D - 1, max_draws).round().astype(int)
    return {n: v[keep] for n, v in draws.items()}


def _fit_blocks(blocks, model_kwargs, method, executor, max_draws, fit_kwargs):
    """``[(draws, spec, scaling), ...]`` for every training frame in ``blocks``."""

    out = []
    if method == "bayes":
        names = [f"refit{i}" for i in range(len(blocks))]
        fits = fit_many(
            dict.fromkeys(names, model_kwargs),
            dict(zip(names, blocks, strict=True)),
            executor,
            **fit_kwargs,
        )
        fits.raise_errors()
        for name in names:
            fit = fits[name]
            draws = _thin(posterior_draws(fit), max_draws)
            out.append((draws, fit.model.spec, fit.model.panel.scaling))
        return out
    for frame in blocks:
        model = DynamicFactorModel(frame, **model_kwargs)
        point = fit_map(model, **fit_kwargs) if method == "map" else fit_mle(model, **fit_kwargs)
        draws = {n: np.asarray(v)[None] for n, v in point.params.items()}
        out.append((draws, model.spec, model.panel.scaling))
    return out


class SegmentPredictive(NamedTuple):
    """One-step predictives of a segment's last S dates under D parameter draws."""

    mean: np.ndarray  #: (D·n, S, P) component means of the P portfolio returns (model units)
    sd: np.ndarray  #: (D·n, S, P) component sds
    weight: np.ndarray  #: (D·n, S, 1) component weights (summing to one over the first axis)
    loglike: np.ndarray  #: (D, S) log p(y_t | y_{1:t-1}, θ_d) of the whole panel, model units
    loglike_se: np.ndarray  #: (D, S) its Monte Carlo error (zero for constant Gaussian models)


def segment_predictive(
    y: np.ndarray,
    mask: np.ndarray,
    draws: Mapping,
    spec: DFMSpec,
    weights: np.ndarray,
    start: int,
    n_particles: int = 200,
    random_seed=None,
) -> SegmentPredictive:
    """Filter a segment with every draw and keep the one-step predictives from ``start`` on.

    Each draw runs the Rao–Blackwellised particle filter
    (:func:`bdfm.statespace.particle.particle_loglike`) from the segment's first date:
    particles for the volatility and Student-t scale states, the factors integrated
    out exactly given them. The predictive of a portfolio at t is then a Gaussian
    mixture over draws × particles, weighted by the particle weights carried from
    t − 1 (so y_t never informs its own forecast). For a constant Gaussian model
    every particle is the exact Kalman filter and two particles are used.

    Parameters
    ----------
    y : (T, N) model-unit data, missing entries zero; mask : (T, N) bool.
    draws : parameter draws of ``spec`` with a leading axis D.
    spec : the specification the draws belong to.
    weights : (N,) or (P, N) weights of P portfolios on the model-unit series.
    start : the first date kept (earlier dates only warm the filter up).
    n_particles : particles per draw for models with time-varying volatility.
    random_seed : seed of :func:`numpy.random.default_rng` (one stream for all draws).
    """
    rng = np.random.default_rng(random_seed)
    n = 2 if spec.constant_gaussian else int(n_particles)
    D = np.shape(draws["loadings"])[0]
    S = y.shape[0] - start
    weights = np.atleast_2d(weights)
    P = weights.shape[0]
    mean, sd = np.empty((D, n, S, P)), np.empty((D, n, S, P))
    pi = np.empty((D, n, S))
    ll, se = np.empty((D, S)), np.empty((D, S))
    for d in range(D):
        one = {name: np.asarray(v[d]) for name, v in draws.items()}
        res = particle_loglike(
            y,
            mask,
            **particle_arguments(one, spec),
            n_particles=n,
            random_seed=rng,
            portfolio=weights,
        )
        pred = res.portfolio
        mean[d] = pred.mean[start:].transpose(1, 0, 2)
        sd[d] = pred.sd[start:].transpose(1, 0, 2)
        pi[d] = pred.weight[start:].T / D
        ll[d], se[d] = res.loglike[start:], res.se[start:]
    return SegmentPredictive(
        mean.reshape(D * n, S, P), sd.reshape(D * n, S, P), pi.reshape(D * n, S, 1), ll, se
    )


def backtest_var(
    data: pd.DataFrame,
    model: DFMSpec | dict,
    window: int,
    alpha: float | Sequence[float] = 0.99,
    refit_every: int = 20,
    expanding: bool = False,
    weights: Weights | None = None,
    method: str = "bayes",
    executor: str | Executor | None = None,
    max_draws: int | None = 200,
    n_particles: int = 200,
    **fit_kwargs,
) -> BacktestResult | dict[tuple[str, float], BacktestResult]:
    """Backtest one-step-ahead portfolio VaR forecasts over ``data``.

    Parameters
    ----------
    data : DataFrame (dates x series), original units (e.g. returns).
    model : DFMSpec or dict of :class:`~bdfm.DynamicFactorModel` options.
    window : int
        Length of the first (rolling: every) training window; the out-of-sample
        period is ``data.index[window:]``.
    alpha : VaR confidence level, or several (one set of fits serves them all).
    refit_every : int
        Refit after this many out-of-sample dates; between refits the parameter
        draws are kept and the filter runs forward over the new data.
    expanding : bool
        Train on all data up to the refit date instead of the last ``window`` dates.
    weights : Series/dict/array/DataFrame, optional
        Portfolios on the original series (default: one, equal weights): one as a
        Series, dict or (N,) array; several as a DataFrame (one row per portfolio)
        or a (P, N) array (:func:`bdfm.posterior.risk.parse_weights`).
    method : {"bayes", "map", "mle"}
        Refit by NUTS (parallel via :func:`bdfm.selection.parallel.fit_many` and ``executor``),
        or by a point estimate used as a single draw (fast; ignores parameter
        uncertainty; constant-volatility Gaussian models only).
    executor : passed to :func:`bdfm.selection.parallel.fit_many` (``"serial"``, None or an Executor).
    max_draws : int or None
        Posterior draws kept per refit (evenly thinned); cost is linear in it.
    n_particles : int
        Particles per draw of the filter that carries the volatility states forward
        (``factor_volatility``, ``idio_volatility="common_sv"``, ``tails``); unused
        for constant Gaussian models, whose filter is exact.
    **fit_kwargs
        Options of the fit (``draws``, ``tune``, ``chains``, ``random_seed``, ... for
        "bayes"; ``priors``, ``maxiter`` for "map"; fit_mle's options for "mle").

    Returns
    -------
    BacktestResult or dict
        The forecasts, realised returns and one-step log scores per date, with the
        coverage tests and :meth:`BacktestResult.elpd`; for several portfolios or
        levels a dict ``{(portfolio name, alpha): BacktestResult}`` from one set of fits.

    Notes
    -----
    Each refit's draws filter the training window and the following out-of-sample
    block from the window's first date (:func:`segment_predictive`): the forecast
    for t uses the data up to t − 1 only. With time-varying volatility the filter is
    a Rao–Blackwellised particle filter (``n_particles`` per draw); the predictive
    is the mixture over draws and particles. ``log_score`` is the log posterior
    predictive density of the whole panel at t, ``log mean_d p(y_t | y_{<t}, θ_d)``
    in original units, with the posterior of the last refit: summed over dates it
    is a rolling-origin leave-future-out elpd with refits every ``refit_every``
    dates (:meth:`BacktestResult.elpd_difference` compares two models).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    alphas = confidence_levels(alpha)
    model_kwargs = model_options(model)
    spec = DFMSpec(**{k: v for k, v in model_kwargs.items() if k != "scaling"})
    if method != "bayes":
        spec.require_constant_gaussian(
            f"backtest_var(method={method!r})",
            instead="use method='bayes': a point estimate has no posterior of the volatility "
            "paths to carry forward",
        )
    if spec.idio_volatility == "sv":
        raise ValueError(
            "backtest_var needs the one-step predictive, which has no particle filter with "
            "per-series idiosyncratic stochastic volatility (idio_volatility='sv'); use "
            "idio_volatility='common_sv'"
        )
    T = data.shape[0]
    if int(window) != window or not 2 <= window < T:
        raise ValueError(f"window must be an integer in [2, {T - 1}] for {T} dates, got {window!r}")
    if int(refit_every) != refit_every or refit_every < 1:
        raise ValueError(f"refit_every must be a positive integer, got {refit_every!r}")
    if isinstance(n_particles, bool) or int(n_particles) != n_particles or n_particles < 2:
        raise ValueError(f"n_particles must be an integer >= 2, got {n_particles!r}")
    w = weights if weights is not None else np.full(data.shape[1], 1.0 / data.shape[1])
    frame_w = parse_weights(w, data.columns)
    w = frame_w.to_numpy()  # (P, N)
    starts = list(range(int(window), T, int(refit_every)))
    train = [data.iloc[(0 if expanding else s - window) : s] for s in starts]
    fitted = _fit_blocks(train, model_kwargs, method, executor, max_draws, fit_kwargs)
    raw = data.to_numpy(dtype=float)
    seeds = np.random.SeedSequence(fit_kwargs.get("random_seed")).spawn(len(starts))
    var, es, mean, score, score_se = ([] for _ in range(5))
    for s, (draws, fspec, scaling), seed in zip(starts, fitted, seeds, strict=True):
        lo = 0 if expanding else s - window
        hi = min(s + int(refit_every), T)
        seg = scaling.to_model(raw[lo:hi])
        mask = np.isfinite(seg)
        pred = segment_predictive(
            np.where(mask, seg, 0.0), mask, draws, fspec, w * scaling.scale, s - lo,
            n_particles, seed,
        )  # fmt: skip
        comp = pred.mean + w @ scaling.mean  # (D·n, S, P)
        mean.append(np.sum(pred.weight * comp, axis=0))
        var_es = [mixture_var_es(comp, pred.sd, a, weights=pred.weight) for a in alphas]
        var.append(np.stack([v for v, _ in var_es]))  # (A, S, P)
        es.append(np.stack([e for _, e in var_es]))
        D = pred.loglike.shape[0]
        ls = logsumexp(pred.loglike, axis=0) - np.log(D) - mask[s - lo :] @ np.log(scaling.scale)
        score.append(np.where(mask[s - lo :].any(axis=1), ls, np.nan))
        score_se.append(np.sqrt(np.mean(pred.loglike_se**2, axis=0) / D))
    var, es, mean = (np.concatenate(x, axis=-2) for x in (var, es, mean))
    score, score_se = np.concatenate(score), np.concatenate(score_se)
    index = data.index[window:]
    refits = pd.DatetimeIndex(data.index[starts])
    results = {}
    for j, name in enumerate(frame_w.index):
        complete = np.isfinite(raw[window:][:, w[j] != 0]).all(axis=1)
        realised = np.where(complete, np.nan_to_num(raw[window:]) @ w[j], np.nan)
        for i, a in enumerate(alphas):
            out = pd.DataFrame(
                {
                    "mean": mean[:, j],
                    "var": var[i, :, j],
                    "es": es[i, :, j],
                    "log_score": score,
                    "log_score_mc_se": score_se,
                    "return": realised,
                },
                index=index,
            )
            out["violation"] = out["return"] < -out["var"]
            results[(name, float(a))] = BacktestResult(
                out, float(a), method, refits, frame_w.iloc[j]
            )
    _log.info("backtest: %d dates, %d refits", len(index), len(starts))
    if len(results) == 1:
        return next(iter(results.values()))
    return results
