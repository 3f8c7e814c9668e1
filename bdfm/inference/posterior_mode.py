"""Posterior mode (MAP) by L-BFGS on the PyMC model's unconstrained space.

The log posterior and its gradient are one compiled pytensor function of the
model's value variables (the Kalman kernels compile alongside, see
:mod:`bdfm.statespace.warmup`). The optimiser starts from the principal-component
estimate rotated into the identified form, so no chain-like random start is
involved; the mode found is the default starting point of every sampler chain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
from pymc.initial_point import make_initial_point_fn

from bdfm.dims import factor_labels
from bdfm.inference.optim import maximize
from bdfm.statespace.threads import OneBlasThread
from bdfm.statespace.warmup import compile_with_warmup

__all__ = ["MAPResult", "find_map", "natural_params_fn", "unconstrained_point"]

NATURAL = ("loadings", "factor_ar", "idio_sd", "idio_ar")


@dataclass
class MAPResult:
    """Posterior mode: natural parameters, free-variable values (constrained), log posterior."""

    params: dict[str, np.ndarray]
    point: dict[str, np.ndarray]
    logp: float
    n_iter: int
    converged: bool
    message: str
    seconds: float
    compile_seconds: float
    series: list[str] = field(default_factory=list)

    def loadings_frame(self) -> pd.DataFrame:
        """Loadings at the mode (series x factors, model units)."""
        k = self.params["loadings"].shape[1]
        return pd.DataFrame(self.params["loadings"], index=self.series, columns=factor_labels(k))

    def __repr__(self) -> str:
        return (
            f"MAPResult(logp={self.logp:.3f}, n_iter={self.n_iter}, converged={self.converged}, "
            f"seconds={self.seconds:.2f} (+{self.compile_seconds:.2f} compiling))"
        )


def unconstrained_point(pm_model: pm.Model, free_values: dict) -> dict[str, np.ndarray]:
    """Map constrained free-variable values (by RV name) to the model's value variables."""
    fn = make_initial_point_fn(
        model=pm_model, overrides=free_values, jitter_rvs=set(), return_transformed=True
    )
    return fn(0)


def natural_params_fn(pm_model: pm.Model, names=None):
    """Compiled map from value variables to named model variables (natural parameters).

    ``names`` defaults to the natural parameters; pass the free RV names to get
    the constrained free-variable values of a point.
    """
    if names is None:
        names = [n for n in NATURAL if n in pm_model.named_vars]
    outs = pm_model.replace_rvs_by_values([pm_model[n] for n in names])
    fn = OneBlasThread(pytensor.function(pm_model.value_vars, outs, on_unused_input="ignore"))

    def to_params(point: dict) -> dict[str, np.ndarray]:
        vals = fn(*[point[v.name] for v in pm_model.value_vars])
        return dict(zip(names, (np.asarray(v) for v in vals), strict=True))

    return to_params


def find_map(
    pm_model: pm.Model, start: dict, idiosyncratic: str, n_obs: int, maxiter: int = 2000
) -> MAPResult:
    """Maximise the log posterior of ``pm_model`` from ``start`` (constrained, by RV name)."""
    t0 = time.perf_counter()
    value_vars = pm_model.value_vars
    logp = pm_model.logp(jacobian=True)
    grads = pytensor.grad(logp, value_vars)
    fn = compile_with_warmup(value_vars, [logp, *grads], idiosyncratic)
    to_params = natural_params_fn(pm_model)
    compile_seconds = time.perf_counter() - t0
    x0 = unconstrained_point(pm_model, start)
    t0 = time.perf_counter()
    res = maximize(
        fn, {v.name: x0[v.name] for v in value_vars}, scale=1.0 / max(n_obs, 1), maxiter=maxiter
    )
    seconds = time.perf_counter() - t0
    free = natural_params_fn(pm_model, [rv.name for rv in pm_model.free_RVs])
    return MAPResult(
        params=to_params(res.x),
        point=free(res.x),
        logp=res.value,
        n_iter=res.n_iter,
        converged=res.converged,
        message=res.message,
        seconds=seconds,
        compile_seconds=compile_seconds,
        series=list(pm_model.coords["series"]),
    )
