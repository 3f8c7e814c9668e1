"""Simulate panels from a dynamic factor model (for tests, examples, calibration)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bdfm.dims import factor_labels
from bdfm.params import companion_matrix, validate_params
from bdfm.spec import DFMSpec
from bdfm.statespace.garch import RIDGE
from bdfm.statespace.inputs import stationary_cov

__all__ = ["random_params", "simulate", "volatility_paths"]


def random_params(
    spec: DFMSpec, n_series: int, random_seed: int | np.random.Generator | None = None
) -> dict[str, np.ndarray]:
    """Draw a plausible stationary parameter set (for simulation studies).

    Loadings ~ N(0, 1); each factor VAR lag has diagonal coefficients drawn so the
    sum over lags lies in (0.3, 0.8), plus small off-diagonal terms; idiosyncratic
    sd ~ U(0.5, 1.2); AR(1) coefficients ~ U(0.2, 0.7). Volatility parameters (drawn
    after all the others, so the rest equals the constant spec's draw for the same
    seed): log-variance persistence ``*_sv_phi`` ~ U(0.9, 0.98), innovation sd
    ``*_sv_sd`` ~ U(0.15, 0.3); Student-t degrees of freedom ``tails_nu`` ~ U(5, 8).

    Parameters
    ----------
    spec : DFMSpec
    n_series : int
    random_seed : int, Generator or None

    Returns
    -------
    dict
        Every name of :func:`bdfm.params.param_shapes`.
    """
    rng = np.random.default_rng(random_seed)
    k, p = spec.n_factors, spec.factor_order
    while True:
        total = rng.uniform(0.3, 0.8, size=k)
        shares = rng.dirichlet(np.ones(p), size=k).T  # (p, k)
        factor_ar = np.stack([np.diag(total * shares[i]) for i in range(p)])
        factor_ar += 0.05 * rng.standard_normal((p, k, k)) * (1 - np.eye(k))
        if np.max(np.abs(np.linalg.eigvals(companion_matrix(factor_ar)))) < 0.95:
            break
    params = {
        "loadings": rng.standard_normal((n_series, k)),
        "factor_ar": factor_ar,
        "idio_sd": rng.uniform(0.5, 1.2, size=n_series),
    }
    if spec.idiosyncratic == "ar1":
        params["idio_ar"] = rng.uniform(0.2, 0.7, size=n_series)
    if spec.factor_volatility == "sv":
        params["factor_sv_phi"] = rng.uniform(0.9, 0.98, size=k)
        params["factor_sv_sd"] = rng.uniform(0.15, 0.3, size=k)
    elif spec.factor_volatility == "garch":
        params["factor_garch_alpha"] = rng.uniform(0.05, 0.12, size=k)
        params["factor_garch_beta"] = rng.uniform(0.8, 0.86, size=k)
        params["factor_garch_gamma"] = rng.uniform(0.0, 0.08, size=k)
    if spec.idio_volatility == "garch":
        params["idio_garch_alpha"] = rng.uniform(0.03, 0.1, size=n_series)
        params["idio_garch_beta"] = rng.uniform(0.8, 0.86, size=n_series)
        params["idio_garch_gamma"] = rng.uniform(0.0, 0.06, size=n_series)
    elif spec.idio_volatility != "constant":
        size = None if spec.idio_volatility == "common_sv" else n_series
        params["idio_sv_phi"] = np.asarray(rng.uniform(0.9, 0.98, size=size))
        params["idio_sv_sd"] = np.asarray(rng.uniform(0.15, 0.3, size=size))
    if spec.tails == "student_t":
        params["tails_nu"] = np.asarray(rng.uniform(5.0, 8.0))
    return params


def _log_var_path(rng: np.random.Generator, phi, sd, n_time: int) -> np.ndarray:
    """Mean-zero stationary AR(1) paths ``h_t = φ h_{t-1} + σ z_t``: (T,) + shape of φ."""
    phi, sd = np.asarray(phi, dtype=float), np.asarray(sd, dtype=float)
    z = rng.standard_normal((n_time, *phi.shape))
    h = np.empty_like(z)
    h[0] = sd / np.sqrt(1.0 - phi**2) * z[0]
    for t in range(1, n_time):
        h[t] = phi * h[t - 1] + sd * z[t]
    return h


def volatility_paths(
    spec: DFMSpec, params: dict[str, np.ndarray], n_time: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Draw the latent volatility paths of ``spec`` and the variances they imply.

    Parameters
    ----------
    spec : DFMSpec
    params : dict
        Validated parameters (the volatility names of :func:`bdfm.params.volatility_names`).
    n_time : int
    rng : numpy Generator

    Returns
    -------
    dict
        ``"factor_var"`` (T, k) and ``"obs_scale"`` (T, N): the per-date factor
        innovation variances ``exp(h_t)/λ_t`` and idiosyncratic variance multipliers
        ``exp(g_t)/λ_t`` in the convention of
        :func:`bdfm.statespace.assemble.dfm_loglike_pointwise`; plus, as the spec
        has them, ``"factor_log_var"`` h (T, k), ``"idio_log_var"`` g ((T,) common,
        (T, N) per series) and ``"tail_scale"`` λ (T,), ``λ_t ~ Gamma(ν/2, rate ν/2)``.
    """
    k, n_series = spec.n_factors, np.shape(params["loadings"])[0]
    out: dict[str, np.ndarray] = {}
    h = np.zeros((n_time, k))
    g = np.zeros((n_time, 1))
    lam = np.ones(n_time)
    if spec.factor_volatility == "sv":
        h = out["factor_log_var"] = _log_var_path(
            rng, params["factor_sv_phi"], params["factor_sv_sd"], n_time
        )
    if spec.idio_volatility in ("common_sv", "sv"):
        g = out["idio_log_var"] = _log_var_path(
            rng, params["idio_sv_phi"], params["idio_sv_sd"], n_time
        )
        if g.ndim == 1:
            g = g[:, None]
    if spec.tails == "student_t":
        nu = float(params["tails_nu"])
        lam = out["tail_scale"] = rng.gamma(0.5 * nu, 2.0 / nu, size=n_time)
    out["factor_var"] = np.exp(h) / lam[:, None]
    out["obs_scale"] = np.broadcast_to(np.exp(g) / lam[:, None], (n_time, n_series)).copy()
    return out


def simulate(
    spec: DFMSpec,
    params: dict[str, np.ndarray] | None = None,
    n_time: int = 500,
    random_seed: int | np.random.Generator | None = None,
    *,
    n_series: int | None = None,
    start: str = "2000-01-03",
    freq: str = "B",
) -> tuple[pd.DataFrame, dict]:
    """Simulate ``n_time`` periods from the model, started in its stationary distribution.

    Parameters
    ----------
    spec : DFMSpec
    params : dict, optional
        True parameters (``loadings``, ``factor_ar``, ``idio_sd``, ``idio_ar`` and the
        volatility parameters of :func:`bdfm.params.volatility_names`);
        default: :func:`random_params` for ``n_series`` series.
    n_time : int
    random_seed : int or Generator, optional
    n_series : int, optional
        Needed only when ``params`` is not given.

    Returns
    -------
    data : DataFrame (dates x series ``y1..yN``), no missing values.
    truth : dict
        The true parameters and ``"factors"`` (DataFrame, dates x ``f1..fk``); for
        specs with time-varying volatility also the latent paths, indexed by date:
        ``"factor_log_var"`` h (DataFrame, dates x ``f1..fk``, factor SV),
        ``"idio_log_var"`` g (Series for ``idio_volatility="common_sv"``, DataFrame
        dates x ``y1..yN`` for ``"sv"``) and ``"tail_scale"`` λ (Series, Student-t).

    Notes
    -----
    With time-varying volatility (``spec.constant_gaussian`` False) the factor
    shock entering ``f_t`` has variances ``factor_var[t] = exp(h_t)/λ_t`` and the
    first state is drawn from the stationary law under ``factor_var[0]``; the
    idiosyncratic innovations have variances ``idio_sd² obs_scale[t]`` with
    ``obs_scale[t] = exp(g_t)/λ_t``, and an AR(1) error starts from variance
    ``idio_sd² obs_scale[0] / (1 - ρ²)`` — the conventions of
    :func:`bdfm.statespace.assemble.dfm_loglike_pointwise`. The paths are drawn
    from a generator spawned from the seed's, so the remaining draws use the
    same stream as a constant spec: with every ``*_sv_sd`` zero and Gaussian
    tails the data equal the constant model's bit for bit.
    """
    rng = np.random.default_rng(random_seed)
    if params is None:
        if n_series is None:
            raise ValueError("simulate needs params or n_series")
        params = random_params(spec, n_series, rng)
    n_series = np.shape(params["loadings"])[0]
    p = validate_params(params, spec, n_series)
    if spec.constant_gaussian:
        return _simulate_constant(spec, p, n_time, rng, start, freq)
    k, order = spec.n_factors, spec.factor_order
    paths = volatility_paths(spec, p, n_time, rng.spawn(1)[0])
    if "garch" in (spec.factor_volatility, spec.idio_volatility):
        f, u = _simulate_garch(spec, p, paths, rng)
        return _volatility_frames(f, f @ p["loadings"].T + u, p, paths, start, freq)
    u_sd = p["idio_sd"] * np.sqrt(paths["obs_scale"])
    f_sd = np.sqrt(paths["factor_var"])
    Tm = companion_matrix(p["factor_ar"])
    cov0 = stationary_cov(Tm[:k], paths["factor_var"][0])
    state = rng.multivariate_normal(np.zeros(k * order), cov0)
    f = np.empty((n_time, k))
    for t in range(n_time):
        if t > 0:
            state = Tm @ state
            state[:k] += rng.standard_normal(k) * f_sd[t]
        f[t] = state[:k]
    u = _idio_errors(spec, p, u_sd, rng)
    return _volatility_frames(f, f @ p["loadings"].T + u, p, paths, start, freq)


def _idio_errors(spec, p, u_sd, rng) -> np.ndarray:
    """Idiosyncratic errors (T, N) with per-date innovation sds ``u_sd``."""
    n_time, n_series = u_sd.shape
    if spec.idiosyncratic != "ar1":
        return rng.standard_normal((n_time, n_series)) * u_sd
    rho = p["idio_ar"]
    u = np.empty((n_time, n_series))
    u[0] = rng.standard_normal(n_series) * u_sd[0] / np.sqrt(1 - rho**2)
    for t in range(1, n_time):
        u[t] = rho * u[t - 1] + rng.standard_normal(n_series) * u_sd[t]
    return u


def _garch_step(prev, news, coefs):
    """One GJR-GARCH(1,1) update: ``ω + news + β prev``."""
    alpha, beta, gamma = coefs
    return (1.0 - alpha - 0.5 * gamma - beta) + news + beta * prev


def _garch_news(x, coefs):
    alpha, _, gamma = coefs
    return (alpha + gamma * (x < 0)) * x**2


def _simulate_garch(spec, p, paths, rng) -> tuple[np.ndarray, np.ndarray]:
    """Factors and idiosyncratic errors under factor and/or idiosyncratic GARCH, date by date.

    The GARCH recursions of :mod:`bdfm.statespace.garch` run on the estimates from
    the simulated ``y_{1:t-1}`` (complete data): the GLS factor shocks for the factor
    variances ``q_t/λ_t``, the standardised innovation estimates for the idiosyncratic
    variances ``σ_i² r_{i,t}/λ_t``. Overwrites ``paths["factor_var"]`` /
    ``paths["obs_scale"]`` and adds ``"factor_log_var"`` / ``"idio_log_var"``.
    """
    k, order = spec.n_factors, spec.factor_order
    n_time, n_series = paths["obs_scale"].shape
    lam = paths.get("tail_scale", np.ones(n_time))
    L, A, sd = p["loadings"], p["factor_ar"], p["idio_sd"]
    rho = p.get("idio_ar", np.zeros(n_series))
    w = L / sd[:, None] ** 2
    gls = np.linalg.solve(L.T @ w + RIDGE * np.eye(k), w.T)  # (k, N): f̂_t = gls @ y_t
    fg = spec.factor_volatility == "garch"
    ig = spec.idio_volatility == "garch"
    fc = tuple(p[f"factor_garch_{v}"] for v in ("alpha", "beta", "gamma")) if fg else None
    ic = tuple(p[f"idio_garch_{v}"] for v in ("alpha", "beta", "gamma")) if ig else None
    fvar, ovar = paths["factor_var"].copy(), paths["obs_scale"].copy()
    q, r = np.ones((n_time, k)), np.ones((n_time, n_series))
    Tm = companion_matrix(A)
    f, fhat = np.empty((n_time, k)), np.empty((n_time, k))
    u, e = np.empty((n_time, n_series)), np.empty((n_time, n_series))
    for t in range(n_time):
        if t > 0 and fg:
            news = fc[0] + 0.5 * fc[2]
            if t - 1 >= order:
                eta = fhat[t - 1] - sum(A[j] @ fhat[t - 2 - j] for j in range(order))
                news = _garch_news(eta, fc)
            q[t] = _garch_step(q[t - 1], news, fc)
            fvar[t] = q[t] / lam[t]
        if t > 0 and ig:
            eps = e[t - 1] - (rho * e[t - 2] if t >= 2 else 0.0)
            ok = spec.idiosyncratic != "ar1" or t >= 2
            news = _garch_news(eps / sd, ic) if ok else ic[0] + 0.5 * ic[2]
            r[t] = _garch_step(r[t - 1], news, ic)
            ovar[t] = r[t] / lam[t]
        if t == 0:
            state = rng.multivariate_normal(np.zeros(k * order), stationary_cov(Tm[:k], fvar[0]))
        else:
            state = Tm @ state
            state[:k] += rng.standard_normal(k) * np.sqrt(fvar[t])
        f[t] = state[:k]
        shock = rng.standard_normal(n_series) * sd * np.sqrt(ovar[t])
        if spec.idiosyncratic == "ar1":
            u[t] = shock / np.sqrt(1 - rho**2) if t == 0 else rho * u[t - 1] + shock
        else:
            u[t] = shock
        y = L @ f[t] + u[t]
        fhat[t] = gls @ y
        e[t] = y - L @ fhat[t]
    paths["factor_var"], paths["obs_scale"] = fvar, ovar
    if fg:
        paths["factor_log_var"] = np.log(q)
    if ig:
        paths["idio_log_var"] = np.log(r)
    return f, u


def _volatility_frames(f, y, p, paths, start, freq) -> tuple[pd.DataFrame, dict]:
    """Data and truth frames with the volatility paths of ``paths``, indexed by date."""
    k = f.shape[1]
    data, truth = _frames(f, y, p, start, freq)
    index, series = data.index, data.columns
    if "factor_log_var" in paths:
        truth["factor_log_var"] = pd.DataFrame(
            paths["factor_log_var"], index=index, columns=factor_labels(k)
        )
    if "idio_log_var" in paths:
        g = paths["idio_log_var"]
        truth["idio_log_var"] = (
            pd.Series(g, index=index, name="idio_log_var")
            if g.ndim == 1
            else pd.DataFrame(g, index=index, columns=series)
        )
    if "tail_scale" in paths:
        truth["tail_scale"] = pd.Series(paths["tail_scale"], index=index, name="tail_scale")
    return data, truth


def _frames(f, y, p, start, freq) -> tuple[pd.DataFrame, dict]:
    n_time, n_series = y.shape
    index = pd.date_range(start, periods=n_time, freq=freq, name="date")
    data = pd.DataFrame(y, index=index, columns=[f"y{i + 1}" for i in range(n_series)])
    factors = pd.DataFrame(f, index=index, columns=factor_labels(f.shape[1]))
    return data, {**p, "factors": factors}


def _simulate_constant(spec, p, n_time, rng, start, freq) -> tuple[pd.DataFrame, dict]:
    """Constant variances, Gaussian shocks (the original random stream, unchanged)."""
    n_series = p["loadings"].shape[0]
    k, order = spec.n_factors, spec.factor_order
    Tm = companion_matrix(p["factor_ar"])
    state = rng.multivariate_normal(np.zeros(k * order), stationary_cov(Tm[:k]))
    f = np.empty((n_time, k))
    for t in range(n_time):
        if t > 0:
            state = Tm @ state
            state[:k] += rng.standard_normal(k)
        f[t] = state[:k]
    sd = p["idio_sd"]
    if spec.idiosyncratic == "ar1":
        rho = p["idio_ar"]
        u = np.empty((n_time, n_series))
        u[0] = rng.standard_normal(n_series) * sd / np.sqrt(1 - rho**2)
        for t in range(1, n_time):
            u[t] = rho * u[t - 1] + rng.standard_normal(n_series) * sd
    else:
        u = rng.standard_normal((n_time, n_series)) * sd
    return _frames(f, f @ p["loadings"].T + u, p, start, freq)
