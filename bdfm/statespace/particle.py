r"""Rao–Blackwellised particle filter for factor models with stochastic volatility and t tails.

The model is the dynamic factor model of :mod:`bdfm.statespace.assemble` with
time-varying variances (DESIGN.md section 6):

.. math::

    y_t = \Lambda f_t + u_t,\qquad
    f_t = A_1 f_{t-1} + \dots + A_p f_{t-p} + \eta_t,\quad
    \eta_t \sim N\!\big(0, \mathrm{diag}(e^{h_t}) / \lambda_t\big),\\
    \varepsilon_{it} \sim N(0, \sigma_i^2 e^{g_t} / \lambda_t),

with, independently,

- factor stochastic volatility :math:`h_{jt} = \mu_j + \phi_j (h_{j,t-1} - \mu_j) + s_j z_{jt}`,
  started from its stationary law :math:`N(\mu_j, s_j^2 / (1 - \phi_j^2))`;
- a common idiosyncratic log-variance :math:`g_t`, the same AR(1) law (scalars);
- Student-t shocks as a scale mixture, :math:`\lambda_t \sim \mathrm{Gamma}(\nu/2,\ \mathrm{rate}\ \nu/2)`
  iid over dates, dividing both variances at date t (so that, given h and g, the
  date-t shocks are jointly multivariate t with ν degrees of freedom).

``u_t = ε_t`` for iid errors; for AR(1) errors ``u_it = ρ_i u_{i,t-1} + ε_it``
and the observation is quasi-differenced exactly as in
:mod:`bdfm.statespace.stats`: the innovation variance is ``σ_i² e^{g_t}/λ_t``,
and a (re)start observation (first one of a series, or the first after a gap)
has variance ``σ_i² e^{g_t} / (λ_t (1 - ρ_i²))`` — the same convention as
``dfm_loglike_pointwise(..., obs_scale=...)`` given the path. Equivalently, a
series' error process starts at its first observation from
``N(0, σ_i² c / (1 - ρ_i²))`` with that date's multiplier ``c = e^{g_t}/λ_t``
(a convention: with time-varying innovation variances this is not the exact
stationary variance), then follows the AR(1) recursion; for that model the
likelihood is exact on ragged-edge panels (tested against the dense Gaussian
integrated over λ). Interior gaps restart the process as in :mod:`bdfm.statespace.stats`.

Given the volatility path :math:`v_{1:t} = (h, g, \lambda)_{1:t}` the factors
are integrated out exactly by the collapsed Kalman filter
(:mod:`bdfm.statespace.kernels`). The first factor state is drawn from the
stationary law of the factor VAR with innovation variances ``e^{h_1}/λ_1``
(``P0 = stationary_cov(top, factor_var[0])``, as in ``dfm_loglike_pointwise``).

**The filter.** Particles :math:`v^{(i)}_t` carry their own Kalman moments
:math:`(x^{(i)}, P^{(i)})` of the factor state. At each date:

1. *propagate* (bootstrap proposal): draw :math:`h_t, g_t` from their AR(1)
   transitions given the particle's past and :math:`\lambda_t` from its Gamma law;
2. *weight* by the exact Kalman predictive density
   :math:`w^{(i)}_t = p(y_t \mid y_{1:t-1}, v^{(i)}_{1:t})` (predict the factor
   state with innovation variances :math:`e^{h_t}/\lambda_t`, then the
   information-form update). A common observation multiplier
   :math:`c_t = e^{g_t}/\lambda_t` only rescales the collapsed statistics of
   the unit-variance model: :math:`C_t \to C_t / c_t`, :math:`b_t \to b_t / c_t`
   and the constant
   :math:`\kappa_t(c) = \kappa_t(1) + \tfrac12 S_t (1 - 1/c) - \tfrac12 n_t \log c`
   with :math:`S_t = \sum_i m_{it} \tilde y_{it}^2 / \tilde v_{i}` (the weighted
   sum of squares of the statistics) and :math:`n_t` the number of observed
   series. So the statistics are computed once, not per particle;
3. *estimate*: with the normalised weights :math:`W^{(i)}_{t-1}` carried from the
   previous date,

   .. math::

       \hat p(y_t \mid y_{1:t-1}) = \sum_i W^{(i)}_{t-1} w^{(i)}_t,\qquad
       \tilde W^{(i)}_t = W^{(i)}_{t-1} w^{(i)}_t / \hat p(y_t \mid y_{1:t-1});

4. *resample* (systematic) when the effective sample size
   :math:`1 / \sum_i (\tilde W^{(i)}_t)^2` falls below ``n/2``; the weights are
   then reset to ``1/n``.

**Monte Carlo error.** Treating the particles at date t as a weighted sample
from the predictive law of the volatility states, the delta method gives the
standard error of :math:`\log \hat p(y_t \mid y_{1:t-1})`

.. math::

    \mathrm{se}_t^2 \approx \frac{\sum_i (W^{(i)}_{t-1})^2 (w^{(i)}_t - \hat p)^2}{\hat p^2}
    = \sum_i \big(\tilde W^{(i)}_t - W^{(i)}_{t-1}\big)^2,

which for uniform previous weights is :math:`\mathrm{var}(w) / (n\,\overline{w}^2)`.
It ignores the error already present in the particle approximation of the
filtering law at t-1 (tested: on short panels the spread of the total across
seeds agrees with the reported error within a factor of two); the
total's ``sqrt(sum se_t²)`` likewise ignores the dependence across dates
(the product :math:`\prod_t \hat p(y_t \mid y_{1:t-1})` is unbiased for
:math:`p(y_{1:T})`; its log, and each log term, is biased low by about
``se²/2``, i.e. O(1/n)). Rerun with other seeds for an honest spread.

When nothing varies (no SV, Gaussian) every particle is the same Kalman filter,
and the result is the exact Kalman value with zero Monte Carlo error.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bdfm.statespace.assemble import n_state_lags
from bdfm.statespace.garch import factor_garch_variance, idio_garch_variance
from bdfm.statespace.inputs import obs_stats, portfolio_loading, transition_top
from bdfm.statespace.particle_step import propose_scale, weight_step
from bdfm.statespace.stats import ar1_inputs

__all__ = ["ParticleResult", "PortfolioPredictive", "particle_loglike"]


class PortfolioPredictive(NamedTuple):
    """The one-step predictive law of a portfolio return as a mixture over particles.

    ``w'y_t | y_{1:t-1}, θ`` ≈ Σ_i ``weight[t, i]`` N(``mean[t, i]``, ``sd[t, i]²``):
    each particle's volatility states at t (propagated from t-1, before y_t is
    seen) give a Gaussian by the Kalman filter; ``weight`` are the normalised
    particle weights carried from t-1. Model units.
    """

    mean: np.ndarray  #: (T, n, P) component means of the P portfolios
    sd: np.ndarray  #: (T, n, P) component standard deviations
    weight: np.ndarray  #: (T, n) component weights, each row sums to one


class ParticleResult(NamedTuple):
    """Output of :func:`particle_loglike`.

    Per date t (0-based), ``loglike[t]`` estimates log p(y_t | y_{1:t-1}, θ) by
    the Rao–Blackwellised particle filter; the filtered means are weighted
    averages over the particles *after* weighting by y_t, before resampling.
    A date with nothing observed has ``loglike == 0`` and ``se == 0`` exactly.
    If every particle's filter fails (a covariance not positive definite),
    ``loglike`` is -inf from that date on and ``se`` NaN.
    """

    loglike: np.ndarray  #: (T,) log p̂(y_t | y_{1:t-1}); -inf from the date every particle failed
    se: np.ndarray  #: (T,) Monte Carlo standard error of each ``loglike[t]`` (delta method)
    ess: np.ndarray  #: (T,) effective sample size of the weights at t (after weighting by y_t)
    resampled: np.ndarray  #: (T,) bool, True where the particles were resampled after date t
    factor_mean: np.ndarray  #: (T, k) filtered E[f_t | y_{1:t}]
    h_mean: np.ndarray | None  #: (T, k) filtered E[h_t | y_{1:t}], None without factor SV
    g_mean: np.ndarray | None  #: (T,) filtered E[g_t | y_{1:t}], None without idiosyncratic SV
    lam_mean: np.ndarray | None  #: (T,) filtered E[λ_t | y_{1:t}], None for Gaussian shocks
    n_particles: int  #: number of particles
    portfolio: PortfolioPredictive | None = None  #: the portfolio's predictive, when asked for

    @property
    def total(self) -> float:
        """log p̂(y_{1:T}) = Σ_t loglike[t] (biased low by about ``total_se² / 2``)."""
        return float(np.sum(self.loglike))

    @property
    def total_se(self) -> float:
        """sqrt(Σ_t se_t²): the total's Monte Carlo error, ignoring dependence across dates."""
        return float(np.sqrt(np.sum(self.se**2)))


# ---------------------------------------------------------------------------- validation
def _ar_law(spec, size, name):
    """Validate ``(phi, sd[, mean])`` of an AR(1) log-variance; arrays of length ``size``."""
    if len(spec) not in (2, 3):
        raise ValueError(f"{name} must be (phi, sd) or (phi, sd, mean), got {len(spec)} items")
    out = []
    for label, val in zip(("phi", "sd", "mean"), spec):
        arr = np.asarray(val, dtype=float)
        if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != size):
            raise ValueError(f"{name} {label} must be a scalar or have length {size}")
        arr = np.broadcast_to(arr, (size,)).astype(float)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} {label} must be finite")
        out.append(arr)
    phi, sd = out[0], out[1]
    mean = out[2] if len(out) == 3 else np.zeros(size)
    if np.any(np.abs(phi) >= 1.0):
        raise ValueError(f"{name}: |phi| must be < 1 (stationary log-variance), got {phi}")
    if np.any(sd < 0.0):
        raise ValueError(f"{name}: sd must be >= 0, got {sd}")
    return phi, sd, mean


def _sum_of_squares(y, mask, idio_sd, idio_ar, ar1, obs_scale=None):
    """``(S_t, n_t)``: the weighted sum of squares of the unit-multiplier statistics."""
    var = np.asarray(idio_sd, dtype=float) ** 2
    if obs_scale is not None:
        var = var * obs_scale
    if idio_ar is None:
        return (mask * y**2 / var).sum(axis=1), mask.sum(axis=1)
    rho = np.asarray(idio_ar, dtype=float)
    ys = y - rho * ar1["y_lag"]
    ssq = (ar1["m_diff"] * ys**2 + ar1["m_start"] * (1.0 - rho**2) * y**2) / var
    return ssq.sum(axis=1), (ar1["m_diff"] + ar1["m_start"]).sum(axis=1)


# ---------------------------------------------------------------------------- the filter
def particle_loglike(
    y,
    mask,
    loadings,
    factor_ar,
    idio_sd,
    idio_ar=None,
    *,
    factor_sv=None,
    idio_sv=None,
    nu=None,
    factor_log_var=None,
    factor_garch=None,
    idio_garch=None,
    n_particles: int = 500,
    random_seed=None,
    portfolio=None,
) -> ParticleResult:
    r"""One-step log predictive densities under stochastic volatility / t shocks (RBPF).

    Estimates :math:`\log p(y_t \mid y_{1:t-1}, \theta)` for every t by a
    Rao–Blackwellised bootstrap particle filter: particles for the volatility
    states :math:`(h_t, g_t, \lambda_t)`, and for each particle the exact
    collapsed Kalman filter of the factors (see the module docstring for the
    model and the algorithm).

    Parameters
    ----------
    y : (T, N) data in model units; entries where ``mask`` is False are ignored (NaN allowed).
    mask : (T, N) bool or 0/1, True where observed.
    loadings : (N, k); factor_ar : (p, k, k) with ``factor_ar[l] = A_{l+1}``.
    idio_sd : (N,) idiosyncratic innovation sds σ (positive).
    idio_ar : (N,) AR(1) coefficients ρ of the idiosyncratic errors, or None (iid).
    factor_sv : tuple, optional
        ``(phi, sd)`` or ``(phi, sd, mean)``, each a scalar or (k,): the AR(1) laws
        of the factor log-variances :math:`h_{jt}`. None: constant unit variance.
    idio_sv : tuple, optional
        ``(phi, sd)`` or ``(phi, sd, mean)``, scalars: the AR(1) law of the common
        idiosyncratic log-multiplier :math:`g_t`. None: constant multiplier one.
    nu : float, optional
        Degrees of freedom (> 2) of the Student-t scale mixture; None: Gaussian.
    factor_log_var : (T, k) array, optional
        A *known* path of the factor log-variances :math:`h_t` (e.g. an
        observation-driven variance computed from y_{1:t-1}, or a fixed path for
        an oracle test), used in place of factor SV; exclusive with ``factor_sv``.
        Every particle shares it, so with Gaussian shocks and no idiosyncratic SV
        the filter is the exact Kalman filter given the path.
    factor_garch : tuple, optional
        ``(alpha, beta)`` or ``(alpha, beta, gamma)``, each a scalar or (k,): the
        factor variances are the GJR-GARCH(1,1) path of :mod:`bdfm.statespace.garch` computed from ``y``
        (``factor_volatility="garch"``), then used as ``factor_log_var``; exclusive
        with ``factor_sv`` and ``factor_log_var``.
    idio_garch : tuple, optional
        ``(alpha, beta)`` or ``(alpha, beta, gamma)``, each a scalar or (N,): the
        idiosyncratic variances are ``idio_sd² r`` with ``r`` the GJR-GARCH(1,1)
        multipliers of :mod:`bdfm.statespace.garch` computed from ``y``
        (``idio_volatility="garch"``), known given the parameters; exclusive with
        ``idio_sv``.
    n_particles : int
        Number of particles (at least 2).
    random_seed : int, numpy Generator or None
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same result.
    portfolio : (N,) or (P, N) array, optional
        Weights of one or P portfolios of the (model-unit) series: the result's
        ``portfolio`` then holds the one-step predictive law of each ``w'y_t`` at
        every date, a mixture of Gaussians over the particles
        (:class:`PortfolioPredictive`, with a portfolio axis of length P, 1 for a
        1-D ``portfolio``).

    Returns
    -------
    ParticleResult
        ``loglike`` (T,), its Monte Carlo ``se`` (T,), ``ess`` (T,), ``resampled``
        (T,), filtered means of the factors and of the volatility states;
        ``.total`` and ``.total_se``. The log estimates are biased low by about
        ``se²/2`` (O(1/n_particles)).

    Raises
    ------
    ValueError
        For inconsistent shapes, ``n_particles < 2``, ``nu <= 2``, ``|phi| >= 1``,
        a negative or non-finite sd, or a non-positive ``idio_sd``.

    Notes
    -----
    AR(1) idiosyncratic errors are supported exactly: a common multiplier
    :math:`c_t` scales every weight of the quasi-differenced statistics by
    :math:`1/c_t` (start observations included), so the same rescaling applies.
    Cost: O(T·N·k²) once for the statistics plus O(T·n·m³) for the particles
    (m the state dimension), compiled with numba.
    """
    y = np.asarray(y, dtype=float)
    mask = np.asarray(mask).astype(bool)
    if y.ndim != 2 or mask.shape != y.shape:
        raise ValueError(
            f"y and mask must be (T, N) arrays of one shape, got {y.shape}, {mask.shape}"
        )
    T, N = y.shape
    loadings = np.ascontiguousarray(loadings, dtype=float)
    factor_ar = np.asarray(factor_ar, dtype=float)
    if loadings.ndim != 2 or loadings.shape[0] != N:
        raise ValueError(f"loadings must be (N, k) with N = {N}, got {loadings.shape}")
    k = loadings.shape[1]
    if factor_ar.ndim != 3 or factor_ar.shape[1:] != (k, k):
        raise ValueError(f"factor_ar must be (p, {k}, {k}), got {factor_ar.shape}")
    idio_sd = np.asarray(idio_sd, dtype=float)
    if idio_sd.shape != (N,) or not np.all(idio_sd > 0) or not np.all(np.isfinite(idio_sd)):
        raise ValueError(f"idio_sd must be ({N},) positive and finite")
    if idio_ar is not None:
        idio_ar = np.asarray(idio_ar, dtype=float)
        if idio_ar.shape != (N,) or not np.all(np.abs(idio_ar) < 1):
            raise ValueError(f"idio_ar must be ({N},) with |rho| < 1")
    if isinstance(n_particles, bool) or int(n_particles) != n_particles or n_particles < 2:
        raise ValueError(f"n_particles must be an integer >= 2, got {n_particles!r}")
    n = int(n_particles)
    if nu is not None:
        nu = float(nu)
        if not (np.isfinite(nu) and nu > 2.0):
            raise ValueError(f"nu must be finite and > 2 (finite variance), got {nu}")
    fsv = None if factor_sv is None else _ar_law(factor_sv, k, "factor_sv")
    given = [
        n
        for n, v in (
            ("factor_sv", factor_sv),
            ("factor_log_var", factor_log_var),
            ("factor_garch", factor_garch),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise ValueError(
            f"give one of factor_sv (latent stochastic volatility), factor_log_var (a known "
            f"path) or factor_garch (a GARCH path computed from y), got {given}"
        )
    if factor_garch is not None:
        q, _ = factor_garch_variance(
            np.where(mask, y, 0.0), mask, loadings, factor_ar, idio_sd, *factor_garch
        )
        factor_log_var = np.log(q)
    if factor_log_var is not None:
        factor_log_var = np.asarray(factor_log_var, dtype=float)
        if factor_log_var.shape != (T, k) or not np.all(np.isfinite(factor_log_var)):
            raise ValueError(f"factor_log_var must be a finite ({T}, {k}) array")
    isv = None if idio_sv is None else _ar_law(idio_sv, 1, "idio_sv")
    obs_scale = None
    if idio_garch is not None:
        if isv is not None:
            raise ValueError(
                "give one of idio_sv (a latent common path) or idio_garch (GARCH multipliers "
                "computed from y), not both"
            )
        obs_scale, _ = idio_garch_variance(
            np.where(mask, y, 0.0), mask, loadings, idio_sd, idio_ar, *idio_garch
        )

    # statistics of the unit-multiplier model, once
    y0 = np.ascontiguousarray(np.where(mask, y, 0.0))
    ar1 = None if idio_ar is None else ar1_inputs(y0, mask)
    C, b, kappa1 = obs_stats(
        y0, mask.astype(float), loadings, idio_sd, idio_ar, ar1, obs_scale=obs_scale
    )
    ssq, n_obs = _sum_of_squares(y0, mask, idio_sd, idio_ar, ar1, obs_scale)
    top = transition_top(
        factor_ar, n_state_lags(factor_ar.shape[0], "iid" if ar1 is None else "ar1")
    )
    m = top.shape[1]
    n_port = 0
    if portfolio is not None:
        portfolio = np.atleast_2d(np.asarray(portfolio, dtype=float))
        if portfolio.ndim != 2 or portfolio.shape[1] != N or not np.all(np.isfinite(portfolio)):
            raise ValueError(
                f"portfolio must be ({N},) or (P, {N}) finite weights, got {portfolio.shape}"
            )
        n_port = portfolio.shape[0]
        loads = [
            portfolio_loading(y0, mask, loadings, idio_sd, idio_ar, w, m, obs_scale)
            for w in portfolio
        ]
        pa = np.ascontiguousarray(np.stack([pl.a for pl in loads], axis=1))  # (T, P, m)
        pconst = np.stack([pl.const for pl in loads], axis=1)  # (T, P)
        pnoise = np.ascontiguousarray(np.stack([pl.noise for pl in loads], axis=1))
        pred = PortfolioPredictive(
            np.full((T, n, n_port), np.nan),
            np.full((T, n, n_port), np.nan),
            np.full((T, n), np.nan),
        )
    a_none, noise_none = np.zeros((0, m)), np.zeros(0)

    rng = np.random.default_rng(random_seed)
    h = np.zeros((n, k))
    g = np.zeros(n)
    q = np.ones((n, k))
    c = np.ones(n)
    lam = np.ones(n)
    xu = np.zeros((n, m))
    Pu = np.zeros((n, m, m))
    logw = np.empty(n)
    pm = np.zeros((n, n_port))
    pv = np.zeros((n, n_port))
    ratio = np.ones(n)
    W = np.full(n, 1.0 / n)  # normalised weights carried over from t-1

    loglike = np.full(T, -np.inf)
    se = np.full(T, np.nan)
    ess = np.zeros(T)
    resampled = np.zeros(T, dtype=bool)
    factor_mean = np.full((T, k), np.nan)
    h_mean = None if fsv is None else np.full((T, k), np.nan)
    g_mean = None if isv is None else np.full(T, np.nan)
    lam_mean = None if nu is None else np.full(T, np.nan)
    offsets = np.arange(n)

    for t in range(T):
        # 1. propagate the volatility states (bootstrap proposal)
        if factor_log_var is not None:
            h = np.broadcast_to(factor_log_var[t], (n, k))
        elif fsv is not None:
            phi, sd, mu = fsv
            z = rng.standard_normal((n, k))
            if t == 0:
                h = mu + sd / np.sqrt(1.0 - phi**2) * z
            else:
                h = mu + phi * (h - mu) + sd * z
        if isv is not None:
            phi, sd, mu = isv
            z = rng.standard_normal(n)
            if t == 0:
                g = mu[0] + sd[0] / np.sqrt(1.0 - phi[0] ** 2) * z
            else:
                g = mu[0] + phi[0] * (g - mu[0]) + sd[0] * z
        correction = None
        if nu is not None:
            # the portfolio predictive takes a scale from the prior (y_t unseen); the
            # update one from a proposal adapted to y_t, with importance weights
            lam_prior = rng.gamma(0.5 * nu, 2.0 / nu, size=n)
            lam = lam_prior
            if n_obs[t] > 0:
                lam, correction = propose_scale(
                    C[t], b[t], top, np.exp(h), np.exp(g), kappa1[t], ssq[t], n_obs[t],
                    t == 0, xu, Pu, nu, rng,
                )  # fmt: skip
            ratio = lam / lam_prior
        if fsv is not None or nu is not None or factor_log_var is not None:
            q = np.exp(h) / lam[:, None]
        if isv is not None or nu is not None:
            c = np.exp(g) / lam
        # 2. weight by the exact Kalman predictive density given each path
        a_t, noise_t = (a_none, noise_none) if n_port == 0 else (pa[t], pnoise[t])
        weight_step(
            C[t], b[t], top, q, c, kappa1[t], ssq[t], n_obs[t], t == 0, xu, Pu, logw,
            a_t, noise_t, ratio, pm, pv,
        )  # fmt: skip
        if correction is not None:
            logw += correction
        if n_port:
            pred.mean[t] = pm + pconst[t]
            pred.sd[t] = np.sqrt(pv)
            pred.weight[t] = W
        # 3. estimate p(y_t | y_{1:t-1}) = sum_i W_{t-1,i} w_{t,i}
        live = W > 0.0
        w_live = logw[live]
        if np.all(w_live == w_live[0]) and np.isfinite(w_live[0]):
            # every weight equal (e.g. nothing random, or nothing observed at t):
            # the estimate is exact given the particles, and the weights do not move
            loglike[t] = w_live[0]
            Wt = W
            se[t] = 0.0
        else:
            with np.errstate(divide="ignore"):
                a = np.log(W) + logw
            top_a = a.max()
            if not np.isfinite(top_a):
                break  # every particle failed: -inf from here on
            r = np.exp(a - top_a)
            total = r.sum()
            loglike[t] = top_a + np.log(total)
            Wt = r / total
            se[t] = np.sqrt(np.sum((Wt - W) ** 2))
        ess[t] = 1.0 / np.sum(Wt**2)
        factor_mean[t] = Wt @ xu[:, :k]
        if h_mean is not None:
            h_mean[t] = Wt @ h
        if g_mean is not None:
            g_mean[t] = Wt @ g
        if lam_mean is not None:
            lam_mean[t] = Wt @ lam
        # 4. systematic resampling when the ESS drops below n/2
        if ess[t] < 0.5 * n and t + 1 < T:
            cdf = np.cumsum(Wt)
            idx = np.searchsorted(cdf, (rng.random() + offsets) / n, side="right")
            idx = np.minimum(idx, n - 1)
            h, g = h[idx], g[idx]
            xu, Pu = np.ascontiguousarray(xu[idx]), np.ascontiguousarray(Pu[idx])
            W = np.full(n, 1.0 / n)
            resampled[t] = True
        else:
            W = Wt

    return ParticleResult(
        loglike, se, ess, resampled, factor_mean, h_mean, g_mean, lam_mean, n,
        pred if n_port else None,
    )  # fmt: skip
