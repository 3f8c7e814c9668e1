"""Maximum likelihood by L-BFGS on the exact Kalman likelihood and its gradient.

A quick point estimate (and, later, the starting point of the samplers).
Parameters are optimised on an unconstrained scale: ``log idio_sd``,
``atanh idio_ar``, and the factor VAR through :func:`bdfm.inference.transforms.stationary_var`
(stationary by construction, any order and dimension). The objective and its
gradient are one compiled pytensor function of the unconstrained values.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt

from bdfm.dims import FACTOR, factor_labels
from bdfm.inference.optim import maximize
from bdfm.inference.transforms import stationary_var, stationary_var_inverse_diagonal
from bdfm.statespace.inputs import stationary_cov, transition_top
from bdfm.statespace.threads import OneBlasThread
from bdfm.statespace.warmup import compile_with_warmup

__all__ = ["MLEResult", "fit_mle", "initial_params"]

log = logging.getLogger(__name__)


def initial_params(model) -> dict[str, np.ndarray]:
    """Starting values from principal components of the (zero-filled) panel.

    The first k principal components give loadings and factors; each factor's
    AR(1) coefficient is its lag-one autocorrelation (clipped to ±0.9) and the
    factors are scaled to unit innovation variance, as the model assumes.
    """
    spec = model.spec
    k, p = spec.n_factors, spec.factor_order
    y = model.panel.filled
    mask = model.panel.mask
    cov = (y.T @ y) / np.maximum(mask.T.astype(float) @ mask.astype(float), 1.0)
    _, eigvec = np.linalg.eigh(cov)
    vec = eigvec[:, ::-1][:, :k]
    f = y @ vec
    a = np.array([np.clip(np.corrcoef(f[1:, j], f[:-1, j])[0, 1], -0.9, 0.9) for j in range(k)])
    a = np.nan_to_num(a)
    innov_sd = f.std(axis=0) * np.sqrt(1.0 - a**2)
    innov_sd = np.where(innov_sd > 0, innov_sd, 1.0)
    loadings = vec * innov_sd
    factors = f / innov_sd
    resid = np.where(mask, y - factors @ loadings.T, np.nan)
    idio_sd = np.maximum(
        np.nanstd(resid, axis=0), 0.05 * np.nanstd(np.where(mask, y, np.nan), axis=0)
    )
    idio_sd = np.where(np.isfinite(idio_sd) & (idio_sd > 0), idio_sd, 1.0)
    factor_ar = np.zeros((p, k, k))
    factor_ar[0] = np.diag(a)
    params = {"loadings": loadings, "factor_ar": factor_ar, "idio_sd": idio_sd}
    if spec.idiosyncratic == "ar1":
        rho = np.array(
            [
                np.ma.corrcoef(
                    np.ma.masked_invalid(resid[1:, i]), np.ma.masked_invalid(resid[:-1, i])
                )[0, 1]
                for i in range(resid.shape[1])
            ],
            dtype=float,
        )
        params["idio_ar"] = np.clip(np.nan_to_num(rho), -0.9, 0.9)
    return params


@dataclass
class MLEResult:
    """Result of :func:`fit_mle` (model units; see ``model.panel.scaling``)."""

    params: dict[str, np.ndarray]
    loglike: float
    n_params: int
    n_obs: int
    n_iter: int
    n_evals: int
    converged: bool
    message: str
    seconds: float
    compile_seconds: float = 0.0
    series: list[str] = field(default_factory=list)

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``-2 loglike + 2 n_params``."""
        return -2.0 * self.loglike + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``-2 loglike + log(n_obs) n_params``."""
        return -2.0 * self.loglike + np.log(self.n_obs) * self.n_params

    def loadings_frame(self) -> pd.DataFrame:
        """Loadings as a DataFrame (series x factors)."""
        k = self.params["loadings"].shape[1]
        return pd.DataFrame(
            self.params["loadings"], index=self.series, columns=factor_labels(k)
        ).rename_axis(columns=FACTOR)

    def common_share(self) -> pd.Series:
        """Share of each series' variance explained by the factors (at the MLE)."""
        A = self.params["factor_ar"]
        k, p = A.shape[1], A.shape[0]
        sigma_f = stationary_cov(transition_top(A, p))[:k, :k]
        lam = self.params["loadings"]
        common = np.einsum("ij,jk,ik->i", lam, sigma_f, lam)
        idio = self.params["idio_sd"] ** 2
        if "idio_ar" in self.params:
            idio = idio / (1.0 - self.params["idio_ar"] ** 2)
        return pd.Series(common / (common + idio), index=self.series, name="common_share")

    def summary(self) -> str:
        """A short plain-text summary."""
        k = self.params["loadings"].shape[1]
        lines = [
            "bdfm maximum-likelihood fit",
            f"  log-likelihood {self.loglike:.3f}   AIC {self.aic:.1f}   BIC {self.bic:.1f}",
            f"  {self.n_params} parameters, {self.n_obs} observations, "
            f"{self.n_iter} iterations ({self.n_evals} likelihood+gradient evaluations) "
            f"in {self.seconds:.2f} s (+{self.compile_seconds:.1f} s compiling); "
            f"converged: {self.converged} ({self.message})",
            "  factor VAR coefficients (A_1, rows = equations):",
        ]
        for row in self.params["factor_ar"][0]:
            lines.append("    " + "  ".join(f"{v:+.3f}" for v in row))
        table = self.loadings_frame().copy()
        table["common share"] = self.common_share()
        table["idio sd"] = self.params["idio_sd"]
        if "idio_ar" in self.params:
            table["idio ar"] = self.params["idio_ar"]
        lines.append(f"  loadings on {k} factor(s), share of variance explained, idiosyncratic sd:")
        lines.append("\n".join("    " + ln for ln in table.round(3).to_string().splitlines()))
        return "\n".join(lines)


#: |atanh(ρ)| beyond which tanh rounds to ±1 in float64 (tanh(18) = 1 - 4.4e-16 < 1)
ATANH_MAX = 18.0


def ar1_coefficient(free):
    """``tanh`` of the free AR(1) parameter, its argument clipped to ``±ATANH_MAX``.

    A larger argument would round ρ to exactly ±1, where the stationary variance
    σ²/(1-ρ²) and log(1-ρ²) are infinite; clipped, ρ stays inside (-1, 1) and the
    log-likelihood finite (its gradient in the clipped region is zero).
    """
    return pt.tanh(pt.clip(free, -ATANH_MAX, ATANH_MAX))


def _compile_objective(model):
    """Compiled (total log-likelihood, gradients) and the map to parameters, on the free scale."""
    shapes = model.param_shapes()
    raw = {n: pt.tensor(f"{n}_free", shape=s, dtype="float64") for n, s in shapes.items()}
    params = {
        "loadings": raw["loadings"],
        "factor_ar": stationary_var(raw["factor_ar"]),
        "idio_sd": pt.exp(raw["idio_sd"]),
    }
    if "idio_ar" in raw:
        params["idio_ar"] = ar1_coefficient(raw["idio_ar"])
    total = model.loglike_graph(**params).sum()
    inputs = list(raw.values())
    value_and_grad = compile_with_warmup(
        inputs, [total, *pytensor.grad(total, inputs)], model.spec.idiosyncratic, trust_input=True
    )
    to_params = OneBlasThread(pytensor.function(inputs, list(params.values()), trust_input=True))
    return value_and_grad, to_params


def _free_start(start: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    free = {
        "loadings": start["loadings"],
        "factor_ar": stationary_var_inverse_diagonal(start["factor_ar"]),
        "idio_sd": np.log(start["idio_sd"]),
    }
    if "idio_ar" in start:
        free["idio_ar"] = np.arctanh(start["idio_ar"])
    return free


def fit_mle(model, init: dict | None = None, maxiter: int = 1000, tol: float = 1e-9) -> MLEResult:
    """Maximise the exact log-likelihood of ``model``.

    Parameters
    ----------
    model : DynamicFactorModel
    init : dict, optional
        Starting parameters (default :func:`initial_params`).
    maxiter : int
        Maximum number of L-BFGS iterations.
    tol : float
        Relative tolerance on the objective (scipy's ``ftol``).

    Raises
    ------
    ValueError
        For a model with volatility paths or Student-t shocks (``factor_volatility``,
        ``idio_volatility``, ``tails``): its likelihood integrates over latent paths and
        has no closed form to maximise; use ``fit()``.
    """
    if not model.spec.constant_gaussian:
        raise ValueError(
            "maximum likelihood is for constant-variance Gaussian models; this model has "
            "latent volatility paths or Student-t scales (factor_volatility / idio_volatility "
            "/ tails): use fit(), which starts from the constant model's maximum likelihood"
        )
    shapes = model.param_shapes()
    names = list(shapes)
    if init is None:
        start = initial_params(model)
    else:
        start = {n: np.asarray(init[n], dtype=float) for n in names}
    t_compile = time.perf_counter()
    value_and_grad, to_params = _compile_objective(model)
    compile_seconds = time.perf_counter() - t_compile
    n_obs = int(model.panel.mask.sum())
    free = _free_start(start)
    t0 = time.perf_counter()
    res = maximize(
        value_and_grad, {n: free[n] for n in names}, scale=1.0 / n_obs, maxiter=maxiter, ftol=tol
    )
    seconds = time.perf_counter() - t0
    params = dict(zip(names, (np.asarray(v) for v in to_params(*res.x.values())), strict=True))
    n_params = int(sum(np.prod(s) for s in shapes.values()))
    if not res.converged:
        log.warning("maximum likelihood did not converge: %s", res.message)
    return MLEResult(
        params=params,
        loglike=res.value,
        n_params=n_params,
        n_obs=n_obs,
        n_iter=res.n_iter,
        n_evals=res.n_evals,
        converged=res.converged,
        message=res.message,
        seconds=seconds,
        compile_seconds=compile_seconds,
        series=[str(c) for c in model.panel.columns],
    )
