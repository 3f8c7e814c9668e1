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
from scipy.special import xlogy
from scipy.stats import chi2, norm

from bdfm.inference.fitting import fit_map
from bdfm.inference.mle import fit_mle
from bdfm.model import DynamicFactorModel
from bdfm.posterior.forecast import posterior_draws
from bdfm.posterior.moments import kalman_filter
from bdfm.posterior.risk import Weights, confidence_levels, parse_weights
from bdfm.selection.parallel import fit_many, model_options
from bdfm.spec import DFMSpec

__all__ = [
    "BacktestResult",
    "TestResult",
    "backtest_var",
    "christoffersen",
    "kupiec",
    "mixture_var_es",
    "one_step_portfolio",
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
    w = np.asarray(weights, dtype=float)
    y = np.asarray(y, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    lam_all = np.asarray(draws["loadings"], dtype=float)
    D, _, k = lam_all.shape
    T = y.shape[0]
    prev = np.zeros_like(mask)
    prev[1:] = mask[:-1]
    y_lag = np.zeros_like(y)
    y_lag[1:] = np.where(mask[:-1], y[:-1], 0.0)
    mean = np.empty((D, T))
    sd = np.empty((D, T))
    for d in range(D):
        one = {name: np.asarray(v[d]) for name, v in draws.items()}
        _, x_pred, P_pred, _, _ = kalman_filter(y, mask, one, n_lags)
        m = x_pred.shape[1]
        lam = lam_all[d]
        var = np.asarray(one["idio_sd"], dtype=float) ** 2
        a = np.zeros((T, m))
        a[:, :k] = w @ lam
        if one.get("idio_ar") is None:
            const = np.zeros(T)
            noise = np.full(T, np.sum(w**2 * var))
        else:
            rho = np.asarray(one["idio_ar"], dtype=float)
            wr = w * rho * prev  # (T, N)
            a[:, k : 2 * k] = -wr @ lam
            const = np.sum(wr * y_lag, axis=1)
            noise = (w**2 * np.where(prev, var, var / (1 - rho**2))).sum(axis=1)
        mean[d] = np.einsum("tm,tm->t", a, x_pred) + const
        sd[d] = np.sqrt(np.einsum("ti,tij,tj->t", a, P_pred, a) + noise)
    return mean, sd


def mixture_var_es(
    mean: np.ndarray, sd: np.ndarray, alpha: float, n_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES (positive losses) of an equal-weight Gaussian mixture over the first axis.

    The ``1 − α`` quantile q solves ``mean_d Φ((q − μ_d)/σ_d) = 1 − α`` (bisection to
    machine precision); ``ES = −E[r | r ≤ q] = −mean_d[μ_d Φ(z_d) − σ_d φ(z_d)] / (1 − α)``
    with ``z_d = (q − μ_d)/σ_d``.

    Parameters
    ----------
    mean, sd : (D, ...) component means and sds (one component per posterior draw).
    alpha : confidence level.
    n_iter : bisection steps.

    Returns
    -------
    var, es : (...) arrays.
    """
    a = float(confidence_levels(alpha)[0])
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    target = 1 - a
    lo = np.min(mean - 40 * sd, axis=0)
    hi = np.max(mean + 40 * sd, axis=0)
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        below = np.mean(norm.cdf((mid - mean) / sd), axis=0) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    q = 0.5 * (lo + hi)
    z = (q - mean) / sd
    es = -np.mean(mean * norm.cdf(z) - sd * norm.pdf(z), axis=0) / target
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
        and ``es`` (positive losses), ``return`` (realised, NaN where a weighted
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
    """``[(draws, n_lags, scaling), ...]`` for every training frame in ``blocks``."""

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
            out.append((draws, fit.model.spec.n_state_lags, fit.model.panel.scaling))
        return out
    for frame in blocks:
        model = DynamicFactorModel(frame, **model_kwargs)
        point = fit_map(model, **fit_kwargs) if method == "map" else fit_mle(model, **fit_kwargs)
        draws = {n: np.asarray(v)[None] for n, v in point.params.items()}
        out.append((draws, model.spec.n_state_lags, model.panel.scaling))
    return out


def backtest_var(
    data: pd.DataFrame,
    model: DFMSpec | dict,
    window: int,
    alpha: float = 0.99,
    refit_every: int = 20,
    expanding: bool = False,
    weights: Weights | None = None,
    method: str = "bayes",
    executor: str | Executor | None = None,
    max_draws: int | None = 200,
    **fit_kwargs,
) -> BacktestResult:
    """Backtest one-step-ahead portfolio VaR forecasts over ``data``.

    Parameters
    ----------
    data : DataFrame (dates x series), original units (e.g. returns).
    model : DFMSpec or dict of :class:`~bdfm.DynamicFactorModel` options.
    window : int
        Length of the first (rolling: every) training window; the out-of-sample
        period is ``data.index[window:]``.
    alpha : VaR confidence level.
    refit_every : int
        Refit after this many out-of-sample dates; between refits the parameter
        draws are kept and the filter runs forward over the new data.
    expanding : bool
        Train on all data up to the refit date instead of the last ``window`` dates.
    weights : Series/dict/array, optional
        One portfolio on the original series (default: equal weights).
    method : {"bayes", "map", "mle"}
        Refit by NUTS (parallel via :func:`bdfm.selection.parallel.fit_many` and ``executor``),
        or by a point estimate used as a single draw (fast; ignores parameter uncertainty).
    executor : passed to :func:`bdfm.selection.parallel.fit_many` (``"serial"``, None or an Executor).
    max_draws : int or None
        Posterior draws kept per refit (evenly thinned); cost is linear in it.
    **fit_kwargs
        Options of the fit (``draws``, ``tune``, ``chains``, ``random_seed``, ... for
        "bayes"; ``priors``, ``maxiter`` for "map"; fit_mle's options for "mle").

    Returns
    -------
    BacktestResult
        The forecasts and realised returns per date, with the coverage tests.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    alpha = float(confidence_levels(alpha)[0])
    model_kwargs = model_options(model)
    DFMSpec(**{k: v for k, v in model_kwargs.items() if k != "scaling"}).require_constant_gaussian(
        "backtest_var"
    )
    T = data.shape[0]
    if int(window) != window or not 2 <= window < T:
        raise ValueError(f"window must be an integer in [2, {T - 1}] for {T} dates, got {window!r}")
    if int(refit_every) != refit_every or refit_every < 1:
        raise ValueError(f"refit_every must be a positive integer, got {refit_every!r}")
    w = weights if weights is not None else np.full(data.shape[1], 1.0 / data.shape[1])
    frame_w = parse_weights(w, data.columns)
    if len(frame_w) != 1:
        raise ValueError("backtest_var takes one portfolio; pass a Series or an (N,) array")
    w = frame_w.to_numpy()[0]
    starts = list(range(int(window), T, int(refit_every)))
    train = [data.iloc[(0 if expanding else s - window) : s] for s in starts]
    fitted = _fit_blocks(train, model_kwargs, method, executor, max_draws, fit_kwargs)
    raw = data.to_numpy(dtype=float)
    rows = []
    for s, (draws, n_lags, scaling) in zip(starts, fitted, strict=True):
        lo = 0 if expanding else s - window
        hi = min(s + int(refit_every), T)
        seg = scaling.to_model(raw[lo:hi])
        mask = np.isfinite(seg)
        mean, sd = one_step_portfolio(
            np.where(mask, seg, 0.0), mask, draws, n_lags, w * scaling.scale
        )
        mean = mean[:, s - lo :] + w @ scaling.mean
        var, es = mixture_var_es(mean, sd[:, s - lo :], alpha)
        rows.append(pd.DataFrame({"mean": mean.mean(axis=0), "var": var, "es": es}))
    out = pd.concat(rows, ignore_index=True)
    out.index = data.index[window:]
    complete = np.isfinite(raw[window:][:, w != 0]).all(axis=1)
    out["return"] = np.where(complete, np.nan_to_num(raw[window:]) @ w, np.nan)
    out["violation"] = out["return"] < -out["var"]
    _log.info("backtest: %d dates, %d refits", len(out), len(starts))
    return BacktestResult(out, alpha, method, pd.DatetimeIndex(data.index[starts]), frame_w.iloc[0])
