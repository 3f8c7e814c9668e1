"""The numpy inputs of the Kalman filter, built from the natural parameters in one place.

The model's natural parameters are the loadings Λ (N, k), the factor VAR
coefficients ``factor_ar`` (p, k, k), the idiosyncratic innovation sds σ (N,) and,
for AR(1) errors, their coefficients ρ (N,). The filter
(:func:`bdfm.statespace.kernels.filter_full`, :func:`bdfm.statespace.kalman.filter_states`)
takes instead

- the collapsed observation statistics ``C`` (T, d, d), ``b`` (T, d) and the
  constant ``const`` (T,) (:mod:`bdfm.statespace.stats`; ``d = k`` for iid errors,
  ``2k`` for AR(1) errors);
- the top rows ``top`` (k, m) of the companion transition, ``m = k n_lags``, lags
  beyond p zero-padded (:func:`transition_top`; the full matrix is
  :func:`state_companion`);
- the factor innovation variances ``q`` (T, k) (ones in the model);
- ``P0`` (m, m), the stationary covariance of the companion state (:func:`stationary_cov`).

:func:`filter_inputs` builds them all; every numpy caller (the model's filter and
smoother, forecasts, backtests, the simulation smoother, simulation, the MLE summary,
the dynamics plots) goes through these functions. The pytensor graph of the
likelihood (:mod:`bdfm.statespace.assemble`) builds the same quantities
symbolically, through the same numba kernels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bdfm.statespace import stats_kernels as sk
from bdfm.statespace.stats import ar1_inputs

__all__ = [
    "FilterInputs",
    "PortfolioLoading",
    "companion_matrix",
    "filter_inputs",
    "obs_b",
    "obs_stats",
    "portfolio_loading",
    "state_companion",
    "stationary_cov",
    "transition_top",
]


class FilterInputs(NamedTuple):
    """Inputs of the Kalman filter at one parameter draw (see the module docstring)."""

    C: np.ndarray  #: (T, d, d) observation precision statistics
    b: np.ndarray  #: (T, d) observation score statistics
    const: np.ndarray  #: (T,) the part of log p(y_t | y_{1:t-1}) outside the filter
    top: np.ndarray  #: (k, m) top rows of the companion transition
    q: np.ndarray  #: (T, k) factor innovation variances
    P0: np.ndarray  #: (m, m) covariance of the first state


def companion_matrix(factor_ar: np.ndarray) -> np.ndarray:
    """(p, k, k) VAR coefficients -> (kp, kp) companion matrix.

    Parameters
    ----------
    factor_ar : (p, k, k) array, ``factor_ar[l]`` the lag-(l+1) coefficient matrix.

    Returns
    -------
    (kp, kp) array: ``[A_1 ... A_p]`` on top of a shift ``[I, 0]``.
    """
    factor_ar = np.asarray(factor_ar, dtype=float)
    p, k, _ = factor_ar.shape
    top = np.concatenate(list(factor_ar), axis=1)
    bottom = np.eye(k * (p - 1), k * p)
    return np.vstack([top, bottom])


def state_companion(factor_ar: np.ndarray, n_lags: int) -> np.ndarray:
    """(p, k, k) VAR coefficients -> (k n_lags, k n_lags) companion, lags beyond p zero.

    Parameters
    ----------
    factor_ar : (p, k, k) array.
    n_lags : factor lags in the state (at least p; :func:`bdfm.statespace.assemble.n_state_lags`).
    """
    factor_ar = np.asarray(factor_ar, dtype=float)
    p, k, _ = factor_ar.shape
    padded = np.zeros((max(p, n_lags), k, k))
    padded[:p] = factor_ar
    return companion_matrix(padded)


def transition_top(factor_ar: np.ndarray, n_lags: int) -> np.ndarray:
    """(p, k, k) VAR coefficients -> (k, k n_lags) top rows of :func:`state_companion`.

    C-contiguous, as the numba kernels take it.
    """
    k = np.shape(factor_ar)[1]
    return np.ascontiguousarray(state_companion(factor_ar, n_lags)[:k])


def stationary_cov(top: np.ndarray, shock_var: np.ndarray | None = None) -> np.ndarray:
    """Stationary covariance of the companion state (discrete Lyapunov equation).

    Solves ``P = T P T' + R diag(q) R'`` with :func:`bdfm.statespace.stats_kernels.lyapunov`
    (the kernel the likelihood graph uses, so both give the same numbers).

    Parameters
    ----------
    top : (k, m) top rows of the companion transition (:func:`transition_top`).
    shock_var : (k,) factor innovation variances q, or (J, k) for J sets of them;
        default ones (the model's).

    Returns
    -------
    (m, m), or (J, m, m) for J sets of shock variances. NaN if not stationary.
    """
    top = np.ascontiguousarray(top, dtype=float)
    k = top.shape[0]
    q = np.ones(k) if shock_var is None else np.ascontiguousarray(shock_var, dtype=float)
    if q.ndim == 1:
        return sk.lyapunov(top, q)
    return np.stack([sk.lyapunov(top, np.ascontiguousarray(row)) for row in q])


def _kernel_args(y, loadings, idio_sd, obs_scale):
    """Contiguous float ``(y, loadings, σ², scale)``; an empty scale means all ones."""
    y = np.ascontiguousarray(y, dtype=float)
    lam = np.ascontiguousarray(loadings, dtype=float)
    var = np.ascontiguousarray(idio_sd, dtype=float) ** 2
    scale = np.zeros((0, 0)) if obs_scale is None else np.ascontiguousarray(obs_scale, dtype=float)
    return y, lam, var, scale


def _call_kernel(iid_kernel, ar1_kernel, y, mask, loadings, idio_sd, idio_ar, ar1, obs_scale):
    """The statistics kernel for the error model (iid or AR(1)) on contiguous float inputs."""
    y, lam, var, scale = _kernel_args(y, loadings, idio_sd, obs_scale)
    if idio_ar is None:
        return iid_kernel(y, np.ascontiguousarray(mask, dtype=float), lam, var, scale)
    if ar1 is None:
        ar1 = ar1_inputs(y, np.asarray(mask, dtype=bool))
    rho = np.ascontiguousarray(idio_ar, dtype=float)
    return ar1_kernel(y, ar1["y_lag"], ar1["m_diff"], ar1["m_start"], lam, var, rho, scale)


def obs_stats(
    y: np.ndarray,
    mask: np.ndarray,
    loadings: np.ndarray,
    idio_sd: np.ndarray,
    idio_ar: np.ndarray | None = None,
    ar1: dict[str, np.ndarray] | None = None,
    obs_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Collapsed observation statistics ``(C, b, const)`` of one parameter draw.

    Parameters
    ----------
    y : (T, N) data in model units, missing entries zero; mask : (T, N), True/1.0 where observed.
    loadings : (N, k); idio_sd : (N,) idiosyncratic innovation sds.
    idio_ar : (N,) AR(1) coefficients, or None for iid errors.
    ar1 : dict, optional
        ``y_lag``, ``m_diff``, ``m_start`` of ``y`` (:func:`bdfm.statespace.stats.ar1_inputs`),
        computed when not given; AR(1) errors only.
    obs_scale : (T, N), optional
        Per-date multipliers of the idiosyncratic variances (see
        :func:`bdfm.statespace.assemble.dfm_loglike_pointwise`); None for ones.
    """
    args = (y, mask, loadings, idio_sd, idio_ar, ar1, obs_scale)
    return _call_kernel(sk.iid_stats, sk.ar1_stats, *args)


def obs_b(
    y: np.ndarray,
    mask: np.ndarray,
    loadings: np.ndarray,
    idio_sd: np.ndarray,
    idio_ar: np.ndarray | None = None,
    ar1: dict[str, np.ndarray] | None = None,
    obs_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Only ``b`` of :func:`obs_stats` (same arguments): for another data set with the
    same mask, whose precision terms ``C`` are those already computed."""
    args = (y, mask, loadings, idio_sd, idio_ar, ar1, obs_scale)
    return _call_kernel(sk.iid_b, sk.ar1_b, *args)


def filter_inputs(
    y: np.ndarray,
    mask: np.ndarray,
    loadings: np.ndarray,
    factor_ar: np.ndarray,
    idio_sd: np.ndarray,
    idio_ar: np.ndarray | None = None,
    *,
    n_lags: int,
    ar1: dict[str, np.ndarray] | None = None,
    factor_var: np.ndarray | None = None,
    obs_scale: np.ndarray | None = None,
) -> FilterInputs:
    """All inputs of the Kalman filter at one parameter draw, from the natural parameters.

    Parameters
    ----------
    y : (T, N) data in model units, missing entries zero; mask : (T, N), True/1.0 where observed.
    loadings : (N, k); factor_ar : (p, k, k); idio_sd : (N,); idio_ar : (N,) or None (iid).
    n_lags : factor lags in the state (:attr:`bdfm.spec.DFMSpec.n_state_lags`).
    ar1 : dict, optional
        Precomputed :func:`bdfm.statespace.stats.ar1_inputs` of ``y`` (AR(1) errors only).
    factor_var : (T, k), optional
        Per-date factor innovation variances (row 0 sets the stationary ``P0``); None for ones.
    obs_scale : (T, N), optional
        Per-date multipliers of the idiosyncratic variances; None for ones.

    Returns
    -------
    FilterInputs
        ``filter_states(C, b, top, q, P0)`` runs the filter; ``const + ll_state`` is
        the pointwise log-likelihood.
    """
    C, b, const = obs_stats(y, mask, loadings, idio_sd, idio_ar, ar1, obs_scale)
    top = transition_top(factor_ar, n_lags)
    if factor_var is None:
        q = np.ones((np.shape(y)[0], top.shape[0]))
        return FilterInputs(C, b, const, top, q, stationary_cov(top))
    q = np.ascontiguousarray(factor_var, dtype=float)
    return FilterInputs(C, b, const, top, q, stationary_cov(top, q[0]))


class PortfolioLoading(NamedTuple):
    """How a portfolio return ``w'y_t`` depends on the filter's predicted state.

    ``w'y_t | y_{1:t-1}`` is Gaussian with mean ``a_t' x_t + const_t`` and variance
    ``a_t' P_t a_t + noise_t`` given the predicted state ``s_t ~ N(x_t, P_t)``;
    with a per-date multiplier ``c_t`` of the idiosyncratic variances the last term
    is ``c_t noise_t``.
    """

    a: np.ndarray  #: (T, m) loading of the portfolio on the companion state
    const: np.ndarray  #: (T,) the part known at t-1 (AR(1) errors: w_i ρ_i y_{i,t-1})
    noise: np.ndarray  #: (T,) idiosyncratic innovation variance of the portfolio


def portfolio_loading(
    y: np.ndarray,
    mask: np.ndarray,
    loadings: np.ndarray,
    idio_sd: np.ndarray,
    idio_ar: np.ndarray | None,
    weights: np.ndarray,
    m: int,
    obs_scale: np.ndarray | None = None,
) -> PortfolioLoading:
    """The portfolio's loading on the state, known part and noise variance per date.

    iid errors: ``a_t = (Λ'w, 0)``, ``noise_t = Σ_i w_i² σ_i²``. AR(1) errors, where
    ``y_{i,t-1}`` is observed: ``y_it = λ_i'f_t − ρ_i λ_i'f_{t-1} + ρ_i y_{i,t-1} + ε_it``;
    otherwise the stationary error, variance ``σ_i² / (1 − ρ_i²)`` — the likelihood's
    own treatment (:mod:`bdfm.statespace.stats`).

    Parameters
    ----------
    y : (T, N) model-unit data, missing entries zero; mask : (T, N) bool.
    loadings : (N, k); idio_sd : (N,); idio_ar : (N,) or None (iid errors).
    weights : (N,) portfolio weights on the model-unit series.
    m : the state dimension (``k`` times the lags in the state).
    obs_scale : (T, N), optional
        Known per-date multipliers of the idiosyncratic variances (the likelihood's
        convention: an AR(1) start has variance ``σ² obs_scale[t] / (1 − ρ²)``).
    """
    w = np.asarray(weights, dtype=float)
    y = np.asarray(y, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    lam = np.asarray(loadings, dtype=float)
    k = lam.shape[1]
    T = y.shape[0]
    var = np.asarray(idio_sd, dtype=float) ** 2
    var = np.broadcast_to(var if obs_scale is None else var * obs_scale, (T, len(var)))
    a = np.zeros((T, m))
    a[:, :k] = w @ lam
    if idio_ar is None:
        return PortfolioLoading(a, np.zeros(T), np.sum(w**2 * var, axis=1))
    prev = np.zeros_like(mask)
    prev[1:] = mask[:-1]
    y_lag = np.zeros_like(y)
    y_lag[1:] = np.where(mask[:-1], y[:-1], 0.0)
    rho = np.asarray(idio_ar, dtype=float)
    wr = w * rho * prev  # (T, N)
    a[:, k : 2 * k] = -wr @ lam
    const = np.sum(wr * y_lag, axis=1)
    noise = (w**2 * np.where(prev, var, var / (1 - rho**2))).sum(axis=1)
    return PortfolioLoading(a, const, noise)
