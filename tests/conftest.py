"""Shared fixtures and independent oracles for the tests.

- Oracles: covariances, likelihoods and conditional moments from the dense joint
  Gaussian (``dense_*``), independent of bdfm's filters.
- A known model (:data:`LAM`, :data:`FACTOR_AR`, :data:`SD`, :data:`RHO`; two factors,
  VAR(2), four series) with :func:`true_params`, data simulated from it
  (:func:`simulate_known`, :func:`draw_panel`) and :func:`known_fit`, a FitResult whose
  posterior sits at given parameters (no sampling).
- :func:`dense_original_terms`: one-step log densities of data in original units (the oracle
  of a fit's stored log-likelihood and of LFO scores).
- :func:`small_ar1_fit`, one small sampled (PyMC) fit shared by the plot, report, results and
  forecast tests.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy.linalg import solve_discrete_lyapunov, solve_triangular
from scipy.stats import multivariate_normal

import bdfm
from bdfm.dims import FACTOR, FACTOR_FROM, LAG, SERIES, TIME
from bdfm.params import companion_matrix
from bdfm.results import FitResult
from bdfm.spec import DFMSpec
from bdfm.statespace.simsmoother import simulation_smoother


def dense_factor_cov(T, factor_ar):
    """Cov(vec f_{1:T}) (Tk x Tk) of a stationary VAR(p) with identity innovations."""
    k = factor_ar.shape[1]
    Tm = companion_matrix(factor_ar)
    Q = np.zeros_like(Tm)
    Q[:k, :k] = np.eye(k)
    gamma0 = solve_discrete_lyapunov(Tm, Q)
    # Cov(f_s, f_t) for s >= t = top-left block of Tm^(s-t) gamma0; Cov(f_t, f_s) its transpose
    lag_blocks = np.empty((T, k, k))
    power = np.eye(Tm.shape[0])
    for h in range(T):
        lag_blocks[h] = (power @ gamma0)[:k, :k]
        power = Tm @ power
    d = np.subtract.outer(np.arange(T), np.arange(T))
    blocks = lag_blocks[np.abs(d)]
    blocks = np.where((d >= 0)[..., None, None], blocks, np.swapaxes(blocks, -1, -2))
    return blocks.transpose(0, 2, 1, 3).reshape(T * k, T * k)


def dense_idio_cov(obs, idio_sd, idio_ar=None, restart_after_gaps=True):
    """Cov(vec u) (TN x TN, time-major) of iid or AR(1) idiosyncratic errors."""
    T, N = obs.shape
    cov = np.zeros((T * N, T * N))
    for i in range(N):
        idx = np.arange(T) * N + i
        if idio_ar is None:
            cov[idx, idx] += idio_sd[i] ** 2
            continue
        rho = idio_ar[i]
        seg = np.zeros(T, dtype=int)
        if restart_after_gaps:
            # a new segment starts at every observed point whose predecessor is missing
            starts = obs[:, i] & ~np.r_[False, obs[:-1, i]]
            seg = np.cumsum(starts)
        lags = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
        same = seg[:, None] == seg[None, :]
        cov[np.ix_(idx, idx)] += same * idio_sd[i] ** 2 * rho**lags / (1 - rho**2)
    return cov


def dense_loglike(y, loadings, factor_ar, idio_sd, idio_ar=None, restart_after_gaps=True):
    """Log-density of the observed entries of y from the full NT x NT covariance.

    Independent of bdfm's filter: builds Cov(vec y) from the VAR autocovariances
    and the idiosyncratic covariance, drops missing entries and calls scipy.
    With AR(1) errors and ``restart_after_gaps``, the idiosyncratic process of a
    series restarts (independent stationary draw) after every interior gap —
    bdfm's documented treatment; otherwise the true AR(1) covariance is used.
    """
    T = y.shape[0]
    obs = ~np.isnan(y)
    big_lam = np.kron(np.eye(T), loadings)
    cov = big_lam @ dense_factor_cov(T, factor_ar) @ big_lam.T
    cov += dense_idio_cov(obs, idio_sd, idio_ar, restart_after_gaps)
    keep = obs.ravel()
    yv = y.ravel()[keep]
    return multivariate_normal(mean=np.zeros(keep.sum()), cov=cov[np.ix_(keep, keep)]).logpdf(yv)


def dense_original_terms(y, params, mean, scale):
    """One-step log densities ``log p(y_t | y_{1:t-1})`` (T,) of data in ORIGINAL units.

    ``y`` (T, N) is in original units, NaN where missing; ``params`` are in the model
    units of the scaling ``original = mean + scale * model``. Cov(vec y) is the dense
    joint Gaussian of :func:`dense_loglike` (AR(1) errors restart after interior gaps)
    scaled by ``scale``; in time-major order the Cholesky factor of the observed
    entries' covariance gives each entry's conditional density given all earlier
    entries (``-z_j**2 / 2 - log L_jj - log(2 pi) / 2``), summed here per date.
    Independent of bdfm's filters and of its Jacobian bookkeeping.
    """
    T, N = y.shape
    obs = ~np.isnan(y)
    big_lam = np.kron(np.eye(T), params["loadings"])
    cov = big_lam @ dense_factor_cov(T, params["factor_ar"]) @ big_lam.T
    cov += dense_idio_cov(obs, params["idio_sd"], params.get("idio_ar"), True)
    s = np.tile(scale, T)
    cov *= np.outer(s, s)
    keep = obs.ravel()
    chol = np.linalg.cholesky(cov[np.ix_(keep, keep)])
    z = solve_triangular(chol, (y - mean).ravel()[keep], lower=True)
    per_entry = -0.5 * z**2 - np.log(np.diag(chol)) - 0.5 * np.log(2 * np.pi)
    rows = np.repeat(np.arange(T), N)[keep]
    return np.bincount(rows, weights=per_entry, minlength=T)


def dense_factor_posterior(y, loadings, factor_ar, idio_sd, idio_ar=None):
    """E[vec f | y] (T, k) and Cov(vec f | y) (Tk, Tk) by brute-force Gaussian conditioning."""
    T = y.shape[0]
    obs = ~np.isnan(y)
    cov_f = dense_factor_cov(T, factor_ar)
    H = np.kron(np.eye(T), loadings)[obs.ravel()]
    cov_y = (
        H @ cov_f @ H.T + dense_idio_cov(obs, idio_sd, idio_ar)[np.ix_(obs.ravel(), obs.ravel())]
    )
    gain = np.linalg.solve(cov_y, H @ cov_f).T
    mean = gain @ y.ravel()[obs.ravel()]
    return mean.reshape(T, -1), cov_f - gain @ H @ cov_f


# ---------------------------------------------------------------------------- a known model
LAM = np.array([[1.0, 0.2], [0.5, -0.7], [-0.3, 0.9], [0.8, 0.4]])
FACTOR_AR = np.stack([np.array([[0.5, 0.1], [0.05, 0.3]]), np.diag([0.2, -0.1])])
SD = np.array([0.5, 0.8, 0.6, 1.0])
RHO = np.array([0.6, 0.3, -0.4, 0.8])


def true_params(ar1: bool) -> dict[str, np.ndarray]:
    """The known model's parameters (model units); ``idio_ar`` only with ``ar1``."""
    params = {"loadings": LAM, "factor_ar": FACTOR_AR, "idio_sd": SD}
    if ar1:
        params["idio_ar"] = RHO
    return params


def ragged_mask(T: int, N: int) -> np.ndarray:
    """Ragged edges only (late start, early ends): bdfm's AR(1) likelihood is exact there."""
    mask = np.ones((T, N), bool)
    mask[-4:, 1] = False  # deeper than the state's lags
    mask[-1:, 2] = False
    mask[:2, 3] = False
    return mask


def dense_joint_cov(params: dict, n_time: int) -> np.ndarray:
    """Cov(vec y_{1:n_time}) (time-major) from the VAR and AR(1) autocovariances."""
    big = np.kron(np.eye(n_time), params["loadings"])
    cov = big @ dense_factor_cov(n_time, params["factor_ar"]) @ big.T
    obs = np.ones((n_time, params["loadings"].shape[0]), bool)
    return cov + dense_idio_cov(obs, params["idio_sd"], params.get("idio_ar"), False)


def dense_condition(cov, y, mask, target):
    """E and Cov of the entries flagged by ``target`` ((n_time, N) bool) given observed y."""
    n_time = target.shape[0]
    obs = np.zeros_like(target)
    obs[: mask.shape[0]] = mask
    o, t = obs.ravel(), target.ravel()
    gain = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, t)]).T
    yo = np.zeros((n_time, y.shape[1]))
    yo[: y.shape[0]] = np.where(mask, y, 0.0)
    return gain @ yo.ravel()[o], cov[np.ix_(t, t)] - gain @ cov[np.ix_(o, t)]


def draw_panel(params, n_time, horizon, seed):
    """y_{1:T} from the joint Gaussian, with a ragged mask; returns (y filled, mask, cov)."""
    n = params["loadings"].shape[0]
    total = n_time + horizon
    cov = dense_joint_cov(params, total)
    rng = np.random.default_rng(seed)
    y = rng.multivariate_normal(np.zeros(total * n), cov).reshape(total, n)[:n_time]
    mask = ragged_mask(n_time, n)
    return np.where(mask, y, 0.0), mask, cov


def one_draw(params: dict) -> dict:
    """One parameter draw as a stack of draws (leading axis of length 1)."""
    return {k: v[None] for k, v in params.items()}


def n_lags(params: dict) -> int:
    """Factor lags in the state for these parameters (DFMSpec.n_state_lags)."""
    return max(params["factor_ar"].shape[0], 2 if "idio_ar" in params else 1)


def simulate_known(n_time: int, seed: int, ar1: bool = True) -> tuple[DFMSpec, pd.DataFrame]:
    """The known model's spec and data simulated from it at :func:`true_params`."""
    spec = DFMSpec(n_factors=2, factor_order=2, idiosyncratic="ar1" if ar1 else "iid")
    data, _ = bdfm.simulate(spec, true_params(ar1), n_time=n_time, random_seed=seed)
    return spec, data


def known_fit(
    data: pd.DataFrame, spec: DFMSpec, params: dict, n_draws: int, seed: int = 0
) -> FitResult:
    """A FitResult whose posterior is ``n_draws`` copies of known model-unit ``params``.

    The factor draws come from the simulation smoother at those parameters, so the
    result is what an exact sampler concentrated at ``params`` would give.
    """
    model = bdfm.DynamicFactorModel(
        data,
        n_factors=spec.n_factors,
        factor_order=spec.factor_order,
        idiosyncratic=spec.idiosyncratic,
    )
    panel = model.panel
    shaped = {k: np.repeat(np.asarray(v)[None, None], n_draws, 1) for k, v in params.items()}
    factors, _ = simulation_smoother(
        panel.filled,
        panel.mask.astype(float),
        {k: v[0] for k, v in shaped.items()},
        spec.n_state_lags,
        random_seed=seed,
    )
    dims = {
        "loadings": [SERIES, FACTOR],
        "factor_ar": [LAG, FACTOR, FACTOR_FROM],
        "idio_sd": [SERIES],
        "idio_ar": [SERIES],
    }
    post = az.from_dict(
        posterior={**shaped, "factors": factors[None]},
        dims={**{k: dims[k] for k in shaped}, "factors": [TIME, FACTOR]},
        coords={SERIES: list(panel.columns), TIME: panel.index},
    ).posterior
    return FitResult(az.InferenceData(posterior=post), model, None, {})


def standardised(model_params: dict, scale: np.ndarray) -> dict:
    """Parameters of data multiplied by ``1 / scale`` (loadings and noise sds rescaled)."""
    out = dict(model_params)
    out["loadings"] = model_params["loadings"] / scale[:, None]
    out["idio_sd"] = model_params["idio_sd"] / scale
    return out


# ---------------------------------------------------------------------------- fixtures
#: sizes of :func:`small_ar1_fit`
SMALL_N_SERIES, SMALL_N_FACTORS = 8, 2


@pytest.fixture
def rng():
    return np.random.default_rng(20261127)


@pytest.fixture(scope="session")
def small_ar1_fit() -> FitResult:
    """One small sampled AR(1) fit shared by several test files (PyMC's NUTS compiles fastest).

    150 dates of 8 series, series 3 starting late (30 dates missing) and series 6
    ending early (a ragged edge of 3 dates); 2 chains of 100 draws.
    """
    spec = DFMSpec(n_factors=SMALL_N_FACTORS, idiosyncratic="ar1")
    data, _ = bdfm.simulate(spec, n_time=150, random_seed=1, n_series=SMALL_N_SERIES)
    data.iloc[:30, 2] = np.nan  # a late start
    data.iloc[-3:, 5] = np.nan  # a ragged end
    model = bdfm.DynamicFactorModel(data, n_factors=SMALL_N_FACTORS, idiosyncratic="ar1")
    return model.fit(
        draws=100, tune=100, chains=2, random_seed=1, progressbar=False, sampler="pymc"
    )


#: sampler settings of the comparison fixtures
COMPARE_FIT = {
    "draws": 150,
    "tune": 250,
    "chains": 2,
    "sampler": "pymc",
    "random_seed": 11,
    "cores": 1,
}


@pytest.fixture(scope="session")
def k_fits():
    """Fits with k = 1, 2, 3 (PyMC, 2 x 150 draws) of a panel simulated with 2 factors."""
    from bdfm.selection.parallel import fit_many
    from bdfm.simulation import random_params

    spec = bdfm.DFMSpec(n_factors=2)
    rng = np.random.default_rng(4)
    params = random_params(spec, 6, rng)
    params["loadings"] = rng.normal(0, 1.0, (6, 2))
    params["idio_sd"] = np.full(6, 0.6)
    data, _ = bdfm.simulate(spec, params, n_time=120, random_seed=4)
    specs = {f"k={k}": {"n_factors": k} for k in (1, 2, 3)}
    return fit_many(specs, data, progress=False, **COMPARE_FIT)
