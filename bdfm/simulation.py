"""Simulate panels from a dynamic factor model (for tests, examples, calibration)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bdfm.dims import factor_labels
from bdfm.params import companion_matrix, validate_params
from bdfm.spec import DFMSpec
from bdfm.statespace.inputs import stationary_cov

__all__ = ["random_params", "simulate"]


def random_params(
    spec: DFMSpec, n_series: int, random_seed: int | np.random.Generator | None = None
) -> dict[str, np.ndarray]:
    """Draw a plausible stationary parameter set (for simulation studies).

    Loadings ~ N(0, 1); each factor VAR lag has diagonal coefficients drawn so the
    sum over lags lies in (0.3, 0.8), plus small off-diagonal terms; idiosyncratic
    sd ~ U(0.5, 1.2); AR(1) coefficients ~ U(0.2, 0.7).
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
    return params


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
        True parameters (``loadings``, ``factor_ar``, ``idio_sd``, ``idio_ar``);
        default: :func:`random_params` for ``n_series`` series.
    n_time : int
    random_seed : int or Generator, optional
    n_series : int, optional
        Needed only when ``params`` is not given.

    Returns
    -------
    data : DataFrame (dates x series ``y1..yN``), no missing values.
    truth : dict with the true parameters and ``"factors"`` (DataFrame, dates x ``f1..fk``).
    """
    rng = np.random.default_rng(random_seed)
    if params is None:
        if n_series is None:
            raise ValueError("simulate needs params or n_series")
        params = random_params(spec, n_series, rng)
    n_series = np.shape(params["loadings"])[0]
    p = validate_params(params, spec, n_series)
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
    y = f @ p["loadings"].T + u
    index = pd.date_range(start, periods=n_time, freq=freq, name="date")
    data = pd.DataFrame(y, index=index, columns=[f"y{i + 1}" for i in range(n_series)])
    factors = pd.DataFrame(f, index=index, columns=factor_labels(k))
    return data, {**p, "factors": factors}
