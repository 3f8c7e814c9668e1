"""Run a NUTS sampler on a built PyMC model: nutpie (default), PyMC, numpyro, blackjax.

Every chain starts from the same point (a point estimate in the identified form)
without jitter, and BLAS is limited to one thread while the chains run (several
chains on a few cores with multi-threaded BLAS oversubscribe the machine).

nutpie's compiled model is reused for a new data set when the model's graph is the
same up to its data (:class:`CompiledCache`): the data are PyMC ``Data`` variables,
so a backtest's refits, ``fit_many`` and ``select_factors`` compile each model
shape once instead of once per data set (15-40 s each).

Ctrl-C stops a run: nutpie and PyMC catch ``KeyboardInterrupt`` and return the
draws made so far, so :func:`run_sampler` notes the interrupt itself and raises
``KeyboardInterrupt`` instead of returning a partial trace.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import numbers
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

import arviz as az
import numpy as np
import pymc as pm
from threadpoolctl import threadpool_limits

__all__ = [
    "SAMPLERS",
    "check_sampling_options",
    "default_sampler",
    "require_sampler",
    "run_sampler",
]

_log = logging.getLogger(__name__)

SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")
_EXTRAS = {
    "nutpie": ("nutpie", "nutpie"),
    "numpyro": ("numpyro", "jax"),
    "blackjax": ("blackjax", "jax"),
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def default_sampler() -> str:
    """The fastest installed sampler: nutpie if present, else PyMC's NUTS."""
    return "nutpie" if _installed("nutpie") else "pymc"


def require_sampler(sampler: str) -> None:
    """Check that ``sampler`` is known and installed.

    Raises
    ------
    ValueError
        Unknown sampler name.
    ImportError
        Its optional dependency is not installed (the message names the extra).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")
    if sampler in _EXTRAS:
        module, extra = _EXTRAS[sampler]
        if not _installed(module):
            raise ImportError(
                f"sampler={sampler!r} needs the optional dependency {module!r}: "
                f"pip install 'bdfm[{extra}]'"
            )
    if sampler in ("numpyro", "blackjax"):
        from bdfm.statespace import jax_ops  # noqa: F401  (registers the JAX backend)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_sampling_options(draws: object, tune: object, chains: object, sampler: str) -> None:
    """Refuse bad sampling options before any work (they used to fail after compiling).

    Parameters
    ----------
    draws, tune, chains : the options as given: integers, ``draws >= 1``,
        ``tune >= 0``, ``chains >= 1`` (Python or NumPy integers; not bool).
    sampler : a name of :data:`SAMPLERS`, installed (see :func:`require_sampler`).

    Raises
    ------
    ValueError
        An option out of range or not an integer, or an unknown sampler.
    ImportError
        The sampler's optional dependency is missing.
    """
    for name, value, low, typical in (
        ("draws", draws, 1, 1000),
        ("tune", tune, 0, 1000),
        ("chains", chains, 1, 4),
    ):
        if not _is_int(value) or value < low:
            raise ValueError(
                f"{name} must be an integer >= {low}, got {value!r}; e.g. {name}={typical}"
            )
    require_sampler(sampler)


@contextlib.contextmanager
def _noting_interrupts() -> Iterator[list[int]]:
    """Note every SIGINT (Ctrl-C) while the block runs, even one a sampler swallows.

    The handler in place still runs (Python's raises ``KeyboardInterrupt``); the
    returned list gets an entry per signal. Outside the main thread, or when SIGINT
    is ignored or left to the system, nothing is installed (the list stays empty).
    """
    seen: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield seen
        return

    def handler(signum, frame):
        seen.append(signum)
        previous(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_complete(idata: az.InferenceData, draws: int, chains: int) -> None:
    """Raise KeyboardInterrupt for a partial trace (a sampler returns one when interrupted).

    A complete trace has ``chains`` chains of ``draws`` draws; nutpie pads a chain
    that stopped before the others with NaN, so a NaN in a last draw also counts.
    """
    post = idata.posterior if "posterior" in idata.groups() else None
    if post is None or post.sizes.get("chain", 0) < chains or post.sizes.get("draw", 0) < draws:
        got = (0, 0) if post is None else (post.sizes.get("chain", 0), post.sizes.get("draw", 0))
        raise KeyboardInterrupt(
            f"sampling was interrupted: {got[0]} chain(s) x {got[1]} draws of {chains} x {draws}"
        )
    for var in post.data_vars.values():
        if np.issubdtype(var.dtype, np.floating) and np.isnan(var.isel(draw=-1).values).any():
            raise KeyboardInterrupt(
                f"sampling was interrupted: a chain of {var.name!r} stopped early"
            )


def run_sampler(
    pm_model: pm.Model,
    sampler: str,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    initvals: dict,
    **kwargs,
) -> tuple[az.InferenceData, dict[str, float]]:
    """Sample; returns InferenceData (posterior, sample_stats) and timings in seconds.

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C while sampling (caught by the sampler or not), or a partial trace.
    """
    check_sampling_options(draws, tune, chains, sampler)
    cores = kwargs.pop("cores", min(chains, os.cpu_count() or 1))
    timings: dict[str, float] = {}
    common = {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "cores": cores,
        "random_seed": random_seed,
        "progressbar": progressbar,
        "initvals": initvals,
        "timings": timings,
    }
    with threadpool_limits(limits=1), _noting_interrupts() as interrupts:
        try:
            if sampler == "nutpie":
                idata = _sample_nutpie(pm_model, **common, **kwargs)
            else:
                idata = _sample_pymc(pm_model, sampler, **common, **kwargs)
        except Exception:
            if interrupts:  # the sampler failed on its way out of an interrupt
                raise KeyboardInterrupt("sampling was interrupted") from None
            raise
    if interrupts:  # the sampler caught the interrupt and returned what it had
        raise KeyboardInterrupt("sampling was interrupted")
    _check_complete(idata, draws, chains)
    return idata, timings


class CompiledCache:
    """nutpie's compiled models, reused for models whose graphs differ only in their data.

    A candidate is reused only when :func:`pytensor.graph.basic.equal_computations`
    finds its log density and deterministics identical to the new model's, with the
    value variables and the ``pm.Data`` variables matched by name: every constant
    (a prior's parameters, the anchors, the shapes) must agree, and only the data
    variables' values may differ. The reused model then gets the new data
    (``with_data``), the new starting point and the new coordinates. At most
    ``size`` models are kept (least recently used first out).
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.entries: list[tuple[list, list, object]] = []
        self.lock = threading.Lock()

    @staticmethod
    def _graph(pm_model: pm.Model) -> tuple[list, list]:
        from pytensor.compile.sharedvalue import SharedVariable
        from pytensor.graph.traversal import ancestors

        outputs = [pm_model.logp(), *pm_model.replace_rvs_by_values(pm_model.deterministics)]
        # the data and the dimension lengths (both shared variables)
        shared = {v.name: v for v in ancestors(outputs) if isinstance(v, SharedVariable)}
        return outputs, [*pm_model.value_vars, *(shared[n] for n in sorted(shared))]

    @staticmethod
    def _same_shapes(new: list, old: list) -> bool:
        """Same types; shared values of the same shapes, and equal when scalar (lengths)."""
        from pytensor.compile.sharedvalue import SharedVariable

        for a, b in zip(new, old, strict=True):
            if a.type != b.type or isinstance(a, SharedVariable) != isinstance(b, SharedVariable):
                return False
            if isinstance(a, SharedVariable):
                va, vb = np.asarray(a.get_value()), np.asarray(b.get_value())
                if va.shape != vb.shape or (va.ndim == 0 and va != vb):
                    return False
        return True

    def remember(self, pm_model: pm.Model, compiled) -> None:
        outputs, inputs = self._graph(pm_model)
        with self.lock:
            self.entries.insert(0, (outputs, inputs, compiled))
            del self.entries[self.size :]

    def reuse(self, pm_model: pm.Model, initvals: dict):
        """The cached model for ``pm_model``'s graph with its data and start, or None."""
        from pytensor.graph.basic import equal_computations

        outputs, inputs = self._graph(pm_model)
        names = [v.name for v in inputs]
        with self.lock:
            for i, (old_out, old_in, compiled) in enumerate(self.entries):
                old_by_name = {v.name: v for v in old_in}
                if sorted(old_by_name) != sorted(names) or len(old_out) != len(outputs):
                    continue
                matched = [old_by_name[n] for n in names]
                if not self._same_shapes(inputs, matched):
                    continue
                if equal_computations(outputs, old_out, in_xs=inputs, in_ys=matched):
                    self.entries.insert(0, self.entries.pop(i))
                    return _with_model_data(compiled, pm_model, initvals)
        return None


def _with_model_data(compiled, pm_model: pm.Model, initvals: dict):
    """``compiled`` with ``pm_model``'s data, starting point and coordinates."""
    import dataclasses

    import pandas as pd
    from pymc.initial_point import make_initial_point_fn

    data = {v.name: v.get_value() for v in pm_model.data_vars if v.name in compiled.shared_data}
    compiled = compiled.with_data(**data)
    point_fn = make_initial_point_fn(
        model=pm_model, overrides=initvals, jitter_rvs=set(), return_transformed=True
    )
    names = [pm_model.rvs_to_values[rv].name for rv in pm_model.free_RVs]
    lock = threading.Lock()

    def initial_point(seed):
        with lock:
            point = point_fn(seed)
        return np.concatenate([np.asarray(point[n], dtype=np.float64).ravel() for n in names])

    coords = {**compiled.coords}
    coords.update({n: pd.Index(v) for n, v in pm_model.coords.items() if v is not None})
    return dataclasses.replace(compiled, initial_point_func=initial_point, _coords=coords)


#: The compiled nutpie models of this process (see :class:`CompiledCache`).
COMPILED = CompiledCache()


def _sample_nutpie(
    pm_model: pm.Model,
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    random_seed: int | None,
    progressbar: bool,
    initvals: dict,
    timings: dict[str, float],
    **kwargs,
) -> az.InferenceData:
    """nutpie: compile, then sample in the background and wait (Ctrl-C cancels)."""
    import nutpie

    t0 = time.perf_counter()
    compiled = COMPILED.reuse(pm_model, initvals)
    timings["compile_reused"] = compiled is not None
    if compiled is None:
        compiled = nutpie.compile_pymc_model(pm_model, initial_points=initvals, jitter_rvs=set())
        COMPILED.remember(pm_model, compiled)
    timings["compile_s"] = time.perf_counter() - t0
    # a low-rank mass-matrix correction: the rotation left free by the
    # anchors moves all loadings of a factor together (ESS 113 -> 2000 measured)
    kwargs.setdefault("low_rank_modified_mass_matrix", True)
    # nutpie replaces its mass-matrix estimate every `mass_matrix_switch_freq` warm-up
    # draws (default 80). The gauge directions (rotations left by the anchors, factor
    # scales) grow with N; at (200, 1000, 5) the estimate from 80 draws missed them:
    # min bulk ESS 15 of 800 with 80, 74 with 250, 120 with tune // 2 = 500
    # (docs/benchmarks.md, "Mixing at scale").
    kwargs.setdefault("mass_matrix_switch_freq", max(80, tune // 2))
    kwargs.setdefault("save_warmup", False)
    t0 = time.perf_counter()
    # in the background and waited for here, so that Ctrl-C reaches bdfm:
    # nutpie.sample(blocking=True) catches it and returns the draws made so far
    background = nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        seed=random_seed,
        progress_bar=progressbar,
        blocking=False,
        **kwargs,
    )
    try:
        idata = background.wait()
    except BaseException:
        background.cancel()  # stop the chains, keep nothing
        raise
    timings["sample_s"] = time.perf_counter() - t0
    return idata


def _sample_pymc(
    pm_model: pm.Model,
    sampler: str,
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    random_seed: int | None,
    progressbar: bool,
    initvals: dict,
    timings: dict[str, float],
    **kwargs,
) -> az.InferenceData:
    """PyMC's NUTS, or numpyro / blackjax through PyMC."""
    t0 = time.perf_counter()
    with pm_model:
        extra = {}
        if sampler == "pymc" and cores > 1 and "jax" in sys.modules:
            # forking a process that runs JAX threads can deadlock
            kwargs.setdefault("mp_ctx", "forkserver")
        if sampler != "pymc":  # every chain starts at initvals, as with nutpie
            nuts_kwargs = {"jitter": False, **kwargs.pop("nuts_sampler_kwargs", {})}
            extra = {"nuts_sampler": sampler, "nuts_sampler_kwargs": nuts_kwargs}
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=random_seed,
            progressbar=progressbar,
            initvals=initvals,
            init="adapt_diag",
            compute_convergence_checks=False,
            **extra,
            **kwargs,
        )
    timings["sample_s"] = time.perf_counter() - t0
    return idata
