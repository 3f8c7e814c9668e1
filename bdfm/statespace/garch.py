r"""Observation-driven variances: GJR-GARCH(1,1) recursions on estimated factor and idiosyncratic shocks.

``factor_volatility="garch"`` gives factor ``j`` the innovation variance

.. math::

    q_{j,0} = 1,\qquad
    q_{j,t} = \omega_j + (\alpha_j + \gamma_j 1[\hat\eta_{j,t-1} < 0])\, \hat\eta_{j,t-1}^2
    + \beta_j\, q_{j,t-1} \quad (t \ge 1),

with ``α_j, β_j, γ_j ≥ 0``, ``α_j + γ_j/2 + β_j < 1`` and
``ω_j = 1 - α_j - γ_j/2 - β_j`` (unconditional variance 1, the factors' scale; γ is the
leverage of Glosten, Jagannathan & Runkle 1993: a fall raises the variance more than
a rise, γ = 0 the symmetric GARCH). :math:`\hat\eta_t = \hat f_t - \sum_l A_l \hat f_{t-l}`
is the factor shock implied by the cross-sectional GLS estimates of the factors,

.. math::

    \hat f_t = C_t^{-1} b_t,\qquad
    C_t = \sum_{i\ \mathrm{observed}} \lambda_i \lambda_i' / \sigma_i^2 + 10^{-12} I,\qquad
    b_t = \sum_{i\ \mathrm{observed}} \lambda_i\, y_{it} / \sigma_i^2 .

The sign of a factor is that of its anchor loadings (positive), so γ > 0 on a market
factor is the equity leverage effect. ``q_t`` is a function of ``y_{1:t-1}`` and the
parameters only, so given the parameters the Kalman filter with ``factor_var = q`` is
the exact predictive density p(y_t | y_{1:t-1}, θ): no latent path, and the path
reacts to a large shock the next day, as a univariate GARCH does
(``docs/volatility.md`` measures why the latent log-variance AR(1) of ``"sv"`` reacts
too slowly in a crash). The GLS weights use the constant ``idio_sd`` (a common
idiosyncratic variance multiplier cancels out of ``C_t⁻¹ b_t``). A date whose estimate
is undefined — fewer than k observed series at ``t`` or at one of its ``p`` lags, or
``t < p`` — contributes the mean news ``α + γ/2``.

``idio_volatility="garch"`` gives series ``i`` the idiosyncratic variance
``σ_i² r_{i,t}`` with the same recursion (its own ``α_i, γ_i, β_i``, ``r_{i,0} = 1``) on
the standardised innovation estimates ``ε̂_it/σ_i``: ``ê_it = y_it − λ_i'f̂_t`` (iid
errors) or ``ê_it − ρ_i ê_{i,t-1}`` (AR(1) errors); an entry that is missing, or whose
date (or, for AR(1), previous date) has fewer than k observed series, contributes its
mean news.

:func:`garch_log_var` and :func:`idio_garch_log_var` are the pytensor graphs the PyMC model samples through
(one batched SPD solve, :func:`bdfm.statespace.small_linalg.spd_solve`, the
recursion through :func:`bdfm.statespace.ar1_path.ar1_path` with ``φ = β``);
:func:`factor_garch_variance` and :func:`idio_garch_variance` are the numpy versions
the particle filter uses. The tests compare the two and both against independent oracles.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from bdfm.statespace.ar1_path import ar1_path
from bdfm.statespace.small_linalg import spd_solve

__all__ = [
    "estimable_dates",
    "factor_garch_variance",
    "garch_log_var",
    "garch_news",
    "garch_variance",
    "idio_garch_log_var",
    "idio_garch_variance",
    "residual_estimates",
    "shock_estimates",
]


def estimable_dates(mask: np.ndarray, n_factors: int, n_lags: int) -> np.ndarray:
    """(T,) bool: dates whose shock estimate exists (≥ k series observed at t and its lags).

    Parameters
    ----------
    mask : (T, N) observation mask.
    n_factors : k; n_lags : the VAR order p.
    """
    full = _observed_enough(mask, n_factors)
    ok = full.copy()
    for lag in range(1, n_lags + 1):
        ok[lag:] &= full[:-lag]
    ok[:n_lags] = False
    return ok


def _observed_enough(mask, n_factors: int) -> np.ndarray:
    """(T,) bool: at least k series observed (the GLS estimate of f_t exists)."""
    return np.asarray(mask, dtype=bool).sum(axis=1) >= n_factors


#: added to the diagonal of C_t: a zero loadings column (e.g. a sampler's starting
#: point) then gives a zero estimate instead of a singular system
RIDGE = 1e-12


def _gls_design(mask, loadings, idio_sd, k: int):
    """(T, k, k) C_t + RIDGE I and the (T, N) weights mask/σ² (numpy or pytensor by input)."""
    lib = pt if isinstance(loadings, pt.TensorVariable) else np
    w = mask / idio_sd[None, :] ** 2
    outer = (loadings[:, :, None] * loadings[:, None, :]).reshape((loadings.shape[0], -1))
    C = lib.dot(w, outer).reshape((w.shape[0], k, k)) + RIDGE * np.eye(k)
    return C, w


def _gls_factors_np(y, mask, loadings, idio_sd) -> np.ndarray:
    """GLS factor estimates f̂_t (T, k), zero where fewer than k series are observed."""
    k = loadings.shape[1]
    full = _observed_enough(mask, k)
    C, w = _gls_design(mask, loadings, np.asarray(idio_sd, dtype=float), k)
    C[~full] = np.eye(k)  # placeholder: its estimate is discarded
    fhat = np.linalg.solve(C, ((w * y) @ loadings)[..., None])[..., 0]
    return np.where(full[:, None], fhat, 0.0)


def shock_estimates(y, mask, loadings, factor_ar, idio_sd) -> tuple[np.ndarray, np.ndarray]:
    """GLS factor shocks :math:`\\hat\\eta_t` (T, k) and the dates where they exist (numpy).

    Parameters
    ----------
    y : (T, N) model-unit data (missing entries 0); mask : (T, N).
    loadings : (N, k); factor_ar : (p, k, k); idio_sd : (N,).

    Returns
    -------
    eta : (T, k), zero where not estimable; ok : (T,) bool, :func:`estimable_dates`.
    """
    loadings = np.asarray(loadings, dtype=float)
    factor_ar = np.asarray(factor_ar, dtype=float)
    mask = np.asarray(mask, dtype=float)
    p, k = factor_ar.shape[0], loadings.shape[1]
    ok = estimable_dates(mask, k, p)
    fhat = _gls_factors_np(y, mask, loadings, idio_sd)
    eta = fhat.copy()
    for lag in range(1, p + 1):
        eta[lag:] -= fhat[:-lag] @ factor_ar[lag - 1].T
    return np.where(ok[:, None], eta, 0.0), ok


def residual_estimates(y, mask, loadings, idio_sd, idio_ar=None) -> tuple[np.ndarray, np.ndarray]:
    """Standardised idiosyncratic innovations ε̂_it / σ_i (T, N) and where they exist (numpy).

    ``ê_it = y_it − λ_i'f̂_t`` at dates with at least k observed series; iid errors:
    ``ε̂ = ê``; AR(1) errors: ``ε̂_t = ê_t − ρ ê_{t-1}`` (both observed).

    Returns
    -------
    eps : (T, N), zero where not estimable; ok : (T, N) bool.
    """
    loadings = np.asarray(loadings, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    sd = np.asarray(idio_sd, dtype=float)
    ok = mask & _observed_enough(mask, loadings.shape[1])[:, None]
    e = np.where(ok, y - _gls_factors_np(y, mask, loadings, sd) @ loadings.T, 0.0)
    if idio_ar is not None:
        e[1:] = e[1:] - np.asarray(idio_ar, dtype=float) * e[:-1]
        ok[1:] &= ok[:-1]
        ok[0] = False
    return np.where(ok, e / sd, 0.0), ok


def garch_news(eta, ok, alpha, gamma=0.0) -> np.ndarray:
    """The news terms ``α η² + γ η² 1[η < 0]`` (T, J); their mean ``α + γ/2`` where ``not ok``.

    ``ok`` is (T,) (one flag per date) or (T, J).
    """
    eta = np.asarray(eta, dtype=float)
    alpha, gamma = np.asarray(alpha, dtype=float), np.asarray(gamma, dtype=float)
    ok = np.asarray(ok, dtype=bool)
    ok = ok[:, None] if ok.ndim == 1 else ok
    news = (alpha + gamma * (eta < 0)) * eta**2
    return np.where(ok, news, alpha + 0.5 * gamma)


def garch_variance(news, alpha, beta, gamma=0.0) -> tuple[np.ndarray, np.ndarray]:
    """The GJR-GARCH(1,1) variances ``q`` (T, J) and the next one ``q_T`` (J,) (numpy).

    Parameters
    ----------
    news : (T, J) news terms (:func:`garch_news`).
    alpha, beta, gamma : (J,) with ``alpha, beta, gamma >= 0`` and
        ``alpha + gamma/2 + beta < 1``.

    Returns
    -------
    q : (T, J), ``q[t]`` the variance multiplier at ``t`` (``q[0] = 1``).
    q_next : (J,), the multiplier one step past the data.
    """
    news = np.asarray(news, dtype=float)
    alpha, beta, gamma = (
        np.broadcast_to(np.asarray(v, dtype=float), news.shape[1:]) for v in (alpha, beta, gamma)
    )
    persistence = alpha + 0.5 * gamma + beta
    if np.any(alpha < 0) or np.any(beta < 0) or np.any(gamma < 0) or np.any(persistence >= 1):
        raise ValueError(
            "GARCH needs alpha, beta, gamma >= 0 and alpha + gamma/2 + beta < 1 "
            f"(got alpha={alpha.tolist()}, beta={beta.tolist()}, gamma={gamma.tolist()})"
        )
    omega = 1.0 - persistence
    q = np.empty_like(news)
    prev = np.ones(news.shape[1])
    for t in range(news.shape[0]):
        q[t] = prev
        prev = omega + news[t] + beta * prev
    return q, prev


def factor_garch_variance(
    y, mask, loadings, factor_ar, idio_sd, alpha, beta, gamma=0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Factor ``q`` (T, k) and ``q_T`` (k,) of the data ``y`` (numpy)."""
    eta, ok = shock_estimates(y, mask, loadings, factor_ar, idio_sd)
    return garch_variance(garch_news(eta, ok, alpha, gamma), alpha, beta, gamma)


def idio_garch_variance(
    y, mask, loadings, idio_sd, idio_ar, alpha, beta, gamma=0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Idiosyncratic multipliers ``r`` (T, N) and ``r_T`` (N,) of the data ``y`` (numpy)."""
    eps, ok = residual_estimates(y, mask, loadings, idio_sd, idio_ar)
    return garch_variance(garch_news(eps, ok, alpha, gamma), alpha, beta, gamma)


# ----------------------------------------------------------------------------- graphs
def _static_k(loadings) -> int:
    k = loadings.type.shape[1]
    if k is None:
        raise ValueError("the GARCH graphs need a static number of factors (loadings shape)")
    return int(k)


def _gls_factors_pt(y, mask, loadings, idio_sd, k: int):
    """GLS factor estimates (T, k) as a graph; zero where fewer than k series are observed."""
    full = _observed_enough(mask, k).astype(float)
    C, w = _gls_design(pt.as_tensor(mask), loadings, idio_sd, k)
    # dates with fewer than k series get C = I and b = 0: a finite placeholder
    # (gradient 0) whose estimate is discarded
    C = C * full[:, None, None] + (1.0 - full)[:, None, None] * np.eye(k)[None]
    b = pt.dot(w * np.asarray(y, dtype=float), loadings) * full[:, None]
    return spd_solve(C, b)


def _garch_path_pt(eta, ok: np.ndarray, alpha, beta, gamma):
    """``(log q, log q_T)`` of the recursion on the shocks ``eta`` (T, J); ``ok`` (T, J) bool."""
    news = pt.switch(
        ok,
        (alpha[None] + gamma[None] * pt.lt(eta, 0.0)) * eta**2,
        (alpha + 0.5 * gamma)[None],
    )
    omega = 1.0 - alpha - 0.5 * gamma - beta
    # q_t = β q_{t-1} + z_t with z_0 = 1 (through the AR(1) start σ z_0 / sqrt(1-φ²), σ = 1)
    z0 = pt.sqrt((1.0 - beta) * (1.0 + beta))
    z = pt.concatenate([z0[None], omega[None] + news[:-1]], axis=0)
    q = ar1_path(z, beta, pt.ones_like(beta))
    q_next = omega + news[-1] + beta * q[-1]
    return pt.log(q), pt.log(q_next)


def garch_log_var(y, mask, loadings, factor_ar, idio_sd, alpha, beta, gamma, *, n_lags: int):
    """Factor log GARCH variances ``log q`` (T, k) and ``log q_T`` (k,) as pytensor graphs.

    Parameters
    ----------
    y, mask : (T, N) numpy arrays (the data; constants of the graph).
    loadings : (N, k); factor_ar : (p, k, k); idio_sd : (N,);
    alpha, beta, gamma : (k,) tensors (news, memory, leverage).
    n_lags : p, the static VAR order.

    Returns
    -------
    (log_q, log_q_next) : the (T, k) path and the (k,) value one step past the data;
    differentiable in every parameter.
    """
    mask = np.asarray(mask, dtype=float)
    k = _static_k(loadings)
    fhat = _gls_factors_pt(y, mask, loadings, idio_sd, k)
    eta = fhat
    for lag in range(1, n_lags + 1):
        shifted = pt.dot(fhat[:-lag], factor_ar[lag - 1].T)
        eta = pt.inc_subtensor(eta[lag:], -shifted)
    ok = estimable_dates(mask, k, n_lags)[:, None]
    return _garch_path_pt(eta, ok, alpha, beta, gamma)


def idio_garch_log_var(y, mask, loadings, idio_sd, idio_ar, alpha, beta, gamma):
    """Idiosyncratic log GARCH multipliers (T, N) and their next values (N,) as graphs.

    Parameters
    ----------
    y, mask : (T, N) numpy arrays; loadings : (N, k); idio_sd : (N,);
    idio_ar : (N,) or None (iid errors); alpha, beta, gamma : (N,) tensors.
    """
    mask = np.asarray(mask, dtype=float)
    k = _static_k(loadings)
    fhat = _gls_factors_pt(y, mask, loadings, idio_sd, k)
    ok = mask.astype(bool) & _observed_enough(mask, k)[:, None]
    e = (np.asarray(y, dtype=float) - pt.dot(fhat, loadings.T)) * ok
    if idio_ar is not None:
        e = pt.inc_subtensor(e[1:], -idio_ar[None] * e[:-1])
        ok = ok.copy()
        ok[1:] &= ok[:-1]
        ok[0] = False
    return _garch_path_pt(e / idio_sd[None], ok, alpha, beta, gamma)
