"""The per-date particle step of :mod:`bdfm.statespace.particle` and its tail-scale proposal.

:func:`weight_step` advances every particle's collapsed Kalman filter by one date and
returns its log predictive density (a numba kernel); :func:`propose_scale` draws the
Student-t scales from a proposal adapted to y_t and returns the exact weight corrections.
Split from :mod:`bdfm.statespace.particle`, which validates the inputs and runs the filter.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.special import gammaln

from bdfm.statespace.kernels import _predict, _update
from bdfm.statespace.stats_kernels import lyapunov

__all__ = ["DEFENSIVE", "propose_scale", "weight_step"]


@njit(cache=True, nogil=True, error_model="numpy")
def weight_step(
    C_t, b_t, top, q, c, kappa1, ssq, n_obs, first, xu, Pu, logw, a_t, noise_t, ratio, pm, pv
):
    """Predict and update every particle's Kalman moments at one date, in place.

    Parameters
    ----------
    C_t : (d, d), b_t : (d,) the collapsed statistics of the unit-multiplier model at t.
    top : (k, m) top rows of the companion transition.
    q : (n, k) factor innovation variances of each particle at t.
    c : (n,) observation-noise multipliers of each particle at t.
    kappa1, ssq, n_obs : the constant at multiplier 1, the weighted sum of squares
        and the number of observed series at t.
    first : bool, the first date (the state starts from its stationary law).
    xu, Pu : (n, m), (n, m, m) filtered moments at t-1 on entry, at t on return.
    logw : (n,) output, log p(y_t | y_{1:t-1}, particle path); -inf where the
        filter failed (a covariance not positive definite).
    a_t : (P, m), noise_t : (P,) portfolios' loadings on the state and their noise
        variances (:class:`bdfm.statespace.inputs.PortfolioLoading`; P = 0 when unused).
    ratio : (n,) ``λ / λ̃`` per particle: the portfolio predictive is computed with the
        tail scale ``λ̃`` drawn from its prior (independent of y_t), the update with the
        proposal's ``λ`` (q and c are divided by λ); ones for Gaussian shocks.
    pm, pv : (n, P) outputs, the portfolios' predictive means (without the known
        part) and variances under each particle: ``a_t'x``, ``a_t'P a_t + c noise_t``
        at the prior scale ``λ̃``.
    """
    n, m = xu.shape
    d = b_t.shape[0]
    k = top.shape[0]
    x = np.zeros(m)
    P = np.zeros((m, m))
    L = np.zeros((m, m))
    G = np.empty((m, m))
    K = np.zeros((m, m))
    W = np.empty((m, m))
    CL = np.empty((d, m))
    Cs = np.empty((d, d))
    bs = np.empty(d)
    ld = np.zeros(1)
    qi = np.empty(k)
    for i in range(n):
        for j in range(k):
            qi[j] = q[i, j]
        if first:
            P0 = lyapunov(top, qi)
            for a in range(m):
                x[a] = 0.0
                for bb in range(m):
                    P[a, bb] = P0[a, bb]
        else:
            _predict(top, qi, xu[i], Pu[i], x, P)
        ci = c[i]
        r = ratio[i]
        for j in range(a_t.shape[0]):
            mu = 0.0
            va = 0.0
            shock = 0.0
            for a in range(m):
                mu += a_t[j, a] * x[a]
                for bb in range(m):
                    va += a_t[j, a] * P[a, bb] * a_t[j, bb]
            for a in range(k):
                shock += a_t[j, a] * a_t[j, a] * qi[a]
            pm[i, j] = mu
            if first:  # the stationary P0 is linear in the shock variances
                pv[i, j] = r * va + r * ci * noise_t[j]
            else:  # only the new shock's variance scales with the tail scale
                pv[i, j] = va + (r - 1.0) * shock + r * ci * noise_t[j]
        inv = 1.0 / ci
        for a in range(d):
            bs[a] = b_t[a] * inv
            for bb in range(d):
                Cs[a, bb] = C_t[a, bb] * inv
        v = _update(Cs, bs, x, P, L, G, K, W, CL, xu[i], Pu[i], ld, False)
        if ci == 1.0:
            w = v + kappa1
        else:
            w = v + kappa1 + 0.5 * ssq * (1.0 - inv) - 0.5 * n_obs * np.log(ci)
        logw[i] = w if np.isfinite(w) else -np.inf


# ---------------------------------------------------------------------------- tail scales
DEFENSIVE = 0.1  #: share of the tail-scale proposal drawn from the prior


def _gamma_logpdf(x, shape, rate):
    return shape * np.log(rate) - gammaln(shape) + (shape - 1.0) * np.log(x) - rate * x


def propose_scale(C_t, b_t, top, e_h, e_g, kappa1, ssq, n_obs, first, xu, Pu, nu, rng):
    r"""Tail scales λ_t drawn from a proposal adapted to y_t, and their log weight corrections.

    If every variance at t scaled with 1/λ, ``p(y_t | λ) ∝ λ^{n/2} exp(−λ Q/2)`` and the
    posterior of λ would be Gamma((ν + n)/2, rate (ν + Q)/2). The carried-over state
    uncertainty does not scale, so this is only a proposal: Q is read off each
    particle's exact log densities at λ = 1 and 2 (``Q = n log 2 − 2 (ℓ(2) − ℓ(1))``), the
    draw is mixed with the prior (share :data:`DEFENSIVE`, which bounds the weights), and
    ``log p(λ) − log q(λ)`` corrects the particle weight exactly.
    """
    n = e_g.shape[0]
    m = top.shape[1]
    ll = np.empty((2, n))
    none_a, none_noise, ones = np.zeros((0, m)), np.zeros(0), np.ones(n)
    pm0, pv0 = np.zeros((n, 0)), np.zeros((n, 0))
    for j, lam in enumerate((1.0, 2.0)):
        weight_step(
            C_t, b_t, top, e_h / lam, e_g / lam, kappa1, ssq, n_obs, first, xu.copy(),
            Pu.copy(), ll[j], none_a, none_noise, ones, pm0, pv0,
        )  # fmt: skip
    with np.errstate(invalid="ignore"):
        quad = n_obs * np.log(2.0) - 2.0 * (ll[1] - ll[0])
    ok = np.isfinite(quad)
    quad = np.where(ok, np.maximum(quad, 0.0), 0.0)
    shape, rate = 0.5 * (nu + n_obs), 0.5 * (nu + quad)
    fitted = rng.gamma(shape, 1.0 / rate)
    prior = rng.gamma(0.5 * nu, 2.0 / nu, size=n)
    lam = np.where((rng.random(n) < DEFENSIVE) | ~ok, prior, fitted)
    log_prior = _gamma_logpdf(lam, 0.5 * nu, 0.5 * nu)
    log_q = np.logaddexp(
        np.log(DEFENSIVE) + log_prior, np.log1p(-DEFENSIVE) + _gamma_logpdf(lam, shape, rate)
    )
    return lam, np.where(ok, log_prior - log_q, 0.0)
