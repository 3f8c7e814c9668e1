"""Many independent fits at once, through any :class:`concurrent.futures.Executor`.

:func:`fit_many` runs a grid of specifications, rolling windows or refits:

- ``executor=None``: a local process pool (one process per core, at most one per fit);
- ``executor="serial"``: one after the other in this process (for debugging);
- any ``concurrent.futures.Executor``: e.g. ``dask.distributed.Client(...).get_executor()``
  or Ray's executor, to run the same call on a cluster with no code change.

Each task sends its data and options to a worker, which builds the model, fits it and
returns the :class:`arviz.InferenceData` (plain, picklable data); the
:class:`~bdfm.results.FitResult` is rebuilt here. A failed fit is recorded in
:attr:`FitCollection.errors` under its name and never loses the others. With the
same ``random_seed`` the results equal those of sequential fits.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field

import pandas as pd

from bdfm.inference.fitting import fit_bayes
from bdfm.io import fit_from_idata
from bdfm.model import DynamicFactorModel
from bdfm.spec import DFMSpec

__all__ = ["FitCollection", "FitFailed", "fit_many", "model_options"]

MODEL_KEYS = (
    "n_factors",
    "factor_order",
    "idiosyncratic",
    "standardize",
    "scaling",
    "factor_volatility",
    "idio_volatility",
    "tails",
)


class FitFailed(RuntimeError):
    """A fit in :func:`fit_many` failed; the message names the task and the cause."""


@dataclass
class FitCollection(Mapping):
    """Results of :func:`fit_many` by task name (in the order given), plus failures.

    Attributes
    ----------
    fits : dict
        ``name -> FitResult`` for the fits that succeeded.
    errors : dict
        ``name -> FitFailed`` for those that failed (message and worker traceback).
    seconds : dict
        Wall time of every task in its worker.
    """

    fits: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    def __getitem__(self, name):
        if name in self.errors:
            raise self.errors[name]
        return self.fits[name]

    def __iter__(self):
        return iter(self.fits)

    def __len__(self) -> int:
        return len(self.fits)

    def raise_errors(self) -> None:
        """Raise one :class:`FitFailed` listing every failed task, if any failed."""
        if self.errors:
            lines = "\n".join(f"- {e}" for e in self.errors.values())
            raise FitFailed(f"{len(self.errors)} fit(s) failed:\n{lines}")


def model_options(spec) -> dict:
    """DynamicFactorModel options from a DFMSpec or a dict (checked; a dict's 'fit' key dropped)."""
    if isinstance(spec, DFMSpec):
        return asdict(spec)
    if not isinstance(spec, Mapping):
        raise TypeError(
            f"a spec must be a DFMSpec or a dict of DynamicFactorModel options, "
            f"got {type(spec).__name__}"
        )
    unknown = sorted(set(spec) - set(MODEL_KEYS) - {"fit"})
    if unknown:
        raise ValueError(
            f"unknown spec options {unknown}; a spec takes {list(MODEL_KEYS)} and 'fit' "
            "(a dict of fit options for this task only)"
        )
    if "n_factors" not in spec:
        raise ValueError(f"spec {dict(spec)!r} needs 'n_factors'")
    return {k: v for k, v in spec.items() if k != "fit"}


def _tasks(specs, data) -> dict[str, tuple[dict, pd.DataFrame, dict]]:
    if isinstance(specs, Mapping):
        named = dict(specs)
    elif isinstance(specs, Sequence) and not isinstance(specs, str):
        named = {}
        for s in specs:
            kw = model_options(s)
            named[
                f"k={kw['n_factors']},p={kw.get('factor_order', 1)},"
                f"{kw.get('idiosyncratic', 'iid')}"
            ] = s
        if len(named) != len(specs):
            raise ValueError("two specs are identical; pass a dict name -> spec to repeat one")
    else:
        raise TypeError("specs must be a dict name -> spec or a list of specs")
    if not named:
        raise ValueError("no specs given")
    if isinstance(data, Mapping):
        missing = sorted(set(named) - set(data))
        if missing:
            raise ValueError(f"no data given for {missing}; data must have a frame per spec name")
        frames = {n: data[n] for n in named}
    elif isinstance(data, pd.DataFrame):
        frames = dict.fromkeys(named, data)
    else:
        raise TypeError("data must be a DataFrame or a dict name -> DataFrame")
    out = {}
    for name, spec in named.items():
        kw = model_options(spec)
        fit_kw = dict(spec.get("fit", {})) if isinstance(spec, Mapping) else {}
        out[str(name)] = (kw, frames[name], fit_kw)
    return out


# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_DEFAULT, _MMAP_DYNAMIC_MAX = 128 * 1024, 32 * 1024 * 1024


@contextlib.contextmanager
def _fast_malloc():
    """Undo, for the duration of a fit, a fixed ``MALLOC_TRIM_THRESHOLD_`` (Dask sets 65536).

    That variable also freezes glibc's mmap threshold at 128 KiB, so every array above it
    is mmapped and unmapped anew: it made sampling 2.3x slower in Dask workers (measured).
    The thresholds are raised to glibc's dynamic ceiling and put back afterwards.
    """
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    libc = None
    if trim is not None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_DYNAMIC_MAX)
            libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_DYNAMIC_MAX)
        except (OSError, AttributeError):
            libc = None
    try:
        yield
    finally:
        if libc is not None:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_DEFAULT)
            libc.mallopt(_M_TRIM_THRESHOLD, int(trim))


def _fit_task(name: str, model_kwargs: dict, data: pd.DataFrame, fit_kwargs: dict):
    """Worker: build, fit and return ``(idata, seconds)``; errors name the task."""

    t0 = time.perf_counter()
    try:
        model = DynamicFactorModel(data, **model_kwargs)
        with _fast_malloc():
            fit = fit_bayes(model, **fit_kwargs)
    except Exception as err:  # sent back as text: the exception may not pickle
        raise FitFailed(
            f"{name}: {type(err).__name__}: {err}\n{traceback.format_exc(limit=6)}"
        ) from None
    return fit.idata, time.perf_counter() - t0


def _cost(item) -> float:
    """Rough relative cost of a task, to start the longest first (better load balance)."""
    _, (kw, frame, _) = item
    state = kw["n_factors"] * kw.get("factor_order", 1)
    return float(frame.size) * state**2


def _default_executor(n_tasks: int) -> Executor:
    workers = max(1, min(n_tasks, os.cpu_count() or 1))
    # forkserver: a fresh interpreter per worker, safe with the threads numba/pytensor start
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))


class _Serial(Executor):
    """Runs each submitted call at once, in this process."""

    def submit(self, fn, /, *args, **kwargs):
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as err:  # handed to the caller via the future
            fut.set_exception(err)
        return fut


def fit_many(
    specs,
    data,
    executor: Executor | str | None = None,
    *,
    progress: bool = True,
    **fit_kwargs,
) -> FitCollection:
    """Fit several specifications (or data windows) independently, in parallel.

    Parameters
    ----------
    specs : dict or list
        ``name -> spec`` (or a list, named ``"k=2,p=1,ar1"``), where a spec is a
        :class:`~bdfm.DFMSpec` or a dict of :class:`~bdfm.DynamicFactorModel` options
        (``n_factors``, ``factor_order``, ``idiosyncratic``, ``standardize``,
        ``scaling``) with an optional ``"fit"`` dict of options for that task only.
    data : pandas.DataFrame or dict
        One panel for every spec, or ``name -> DataFrame`` (rolling windows, refits).
    executor : Executor, "serial" or None
        Where the fits run: None, a local process pool; "serial", here, in order;
        or any :class:`concurrent.futures.Executor` (``dask.distributed.Client.get_executor()``,
        Ray's, ...). The caller's executor is not shut down.
    progress : bool
        Print a line as each fit finishes (to stderr).
    **fit_kwargs
        Passed to :meth:`~bdfm.DynamicFactorModel.fit` for every task (``draws``,
        ``tune``, ``chains``, ``sampler``, ``random_seed``, priors, ...). The sampler's
        own progress bar is off unless ``progressbar=True`` is given. Under a parallel
        executor each fit samples its chains on one core (``cores=1``) unless ``cores``
        is given (e.g. for cluster workers with several threads each); the draws do not
        depend on it.

    Returns
    -------
    FitCollection
        ``name -> FitResult``; failed fits are in ``.errors`` (a warning lists them).
    """
    import warnings

    tasks = _tasks(specs, data)
    fit_kwargs.setdefault("progressbar", False)
    own = executor is None
    if executor == "serial":
        executor = _Serial()
    else:
        # fits run side by side: each samples its chains on one core unless told otherwise
        # (more threads than cores made a 2-worker run 1.5x slower than sequential fits)
        fit_kwargs.setdefault("cores", 1)
    if own:
        executor = _default_executor(len(tasks))
    elif not isinstance(executor, Executor) and not hasattr(executor, "submit"):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor, 'serial' or None, got {executor!r}"
        )
    result = FitCollection()
    t0 = time.perf_counter()
    try:
        futures = {
            executor.submit(_fit_task, name, kw, frame, {**fit_kwargs, **own_kw}): name
            for name, (kw, frame, own_kw) in sorted(tasks.items(), key=_cost, reverse=True)
        }
        done: dict = {}
        for i, fut in enumerate(as_completed(futures), 1):
            name = futures[fut]
            try:
                idata, seconds = fut.result()
                done[name] = fit_from_idata(idata, name)
                result.seconds[name] = seconds
                status = f"done in {seconds:.1f} s"
            except Exception as err:  # one failure never loses the others
                msg = str(err) if isinstance(err, FitFailed) else f"{name}: {err!r}"
                if isinstance(err, BrokenExecutor):
                    msg += (
                        "; a worker process died: when fit_many runs from a script, put the "
                        "calling code under `if __name__ == '__main__':` (workers import the "
                        "script), and check the machine's memory"
                    )
                result.errors[name] = FitFailed(msg)
                status = "FAILED: " + msg.splitlines()[0]
            if progress:
                elapsed = time.perf_counter() - t0
                print(f"[{i}/{len(tasks)}] {name}: {status} ({elapsed:.0f} s)", file=sys.stderr)
    finally:
        if own:
            executor.shutdown()
    result.fits = {n: done[n] for n in tasks if n in done}
    result.errors = {n: result.errors[n] for n in tasks if n in result.errors}
    if result.errors:
        warnings.warn(
            f"{len(result.errors)} of {len(tasks)} fits failed: {list(result.errors)}; "
            "see .errors for each message",
            RuntimeWarning,
            stacklevel=2,
        )
    return result
