"""Compile the numba kernels in a background thread while pytensor compiles its graph.

On a fresh machine the first log-likelihood evaluation pays two compilers: pytensor's
C backend (gcc, run as a subprocess) for the small graph nodes, and numba (LLVM) for
the kernels. Neither needs the other, and both spend most of their time outside the
Python interpreter lock (gcc in a child process, LLVM in native code), so running
them side by side cuts the first-call time to roughly the larger of the two. Numba
caches compiled kernels on disk, so later processes only load them.

The warm-up evaluates the whole kernel chain (statistics, stationary covariance,
filter, and every reverse-mode kernel) on a tiny problem with the argument types the
Ops use (C-contiguous float64 arrays), which is what makes numba compile exactly the
specialisations the real call needs.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from bdfm.statespace import kernels
from bdfm.statespace import stats_kernels as sk
from bdfm.statespace.threads import OneBlasThread

__all__ = ["compile_with_warmup", "start_warmup", "warm_kernels"]

_log = logging.getLogger(__name__)


def warm_kernels(idiosyncratic: str, scaled: bool = False) -> None:
    """Compile (or load from numba's cache) every kernel of one likelihood flavour."""
    n_time, n_series, k = 3, 2, 1
    y = np.zeros((n_time, n_series))
    ones = np.ones((n_time, n_series))
    lam = np.ones((n_series, k))
    var = np.ones(n_series)
    scale = [ones] if scaled else []
    if idiosyncratic == "ar1":
        rho = np.zeros(n_series)
        data = (y, y, ones, ones)
        fwd, bwd = (
            (sk.ar1_stats, sk.ar1_stats_grad)
            if scaled
            else (
                sk.ar1_stats_unscaled,
                sk.ar1_stats_unscaled_grad,
            )
        )
        params = (lam, var, rho, *scale)
    else:
        data = (y, ones)
        fwd, bwd = (
            (sk.iid_stats, sk.iid_stats_grad)
            if scaled
            else (
                sk.iid_stats_unscaled,
                sk.iid_stats_unscaled_grad,
            )
        )
        params = (lam, var, *scale)
    C, b, const = fwd(*data, *params)
    bwd(*data, *params, np.zeros_like(C), np.zeros_like(b), np.ones_like(const))
    m = C.shape[1]
    A = np.zeros((k, m))
    q = np.ones((n_time, k))
    P0 = sk.lyapunov(A, np.ascontiguousarray(q[0]))
    sk.lyapunov_grad(A, np.ascontiguousarray(q[0]), np.zeros_like(P0))
    moments = kernels.filter_full(C, b, A, q, P0)
    kernels.loglike_grad(C, b, A, q, P0, *moments, np.ones(n_time))


def _quiet_warm(idiosyncratic: str, scaled: bool) -> None:
    try:
        warm_kernels(idiosyncratic, scaled)
    except Exception:  # the real call compiles again and raises the error where it belongs
        _log.debug("numba warm-up failed", exc_info=True)


def start_warmup(idiosyncratic: str, scaled: bool = False) -> threading.Thread:
    """Start :func:`warm_kernels` in a daemon thread; ``join()`` it before the first call."""
    thread = threading.Thread(
        target=_quiet_warm, args=(idiosyncratic, scaled), name="bdfm-numba-warmup", daemon=True
    )
    thread.start()
    return thread


def compile_with_warmup(inputs, outputs, idiosyncratic: str, scaled: bool = False, **kwargs):
    """``pytensor.function(inputs, outputs, **kwargs)`` with the kernels compiled alongside.

    The function is returned wrapped in :class:`bdfm.statespace.threads.OneBlasThread`:
    each call uses one BLAS thread (its small products run slower with more).
    """
    import pytensor

    warm = start_warmup(idiosyncratic, scaled)
    try:
        return OneBlasThread(pytensor.function(inputs, outputs, **kwargs))
    finally:
        warm.join()
