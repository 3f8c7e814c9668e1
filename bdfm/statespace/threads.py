"""One BLAS thread while bdfm's kernels run, the caller's setting back afterwards.

The observation statistics (:mod:`bdfm.statespace.stats_kernels`) contract the
N series with a few matrix products per block of dates. Numba sends those to the
BLAS that SciPy ships (OpenBLAS in the PyPI wheels), which by default starts one
thread per core for each product. The products are small, so the threads cost
more than they save, and when two processes (or a process pool, or any other
CPU-heavy work) share the cores the threads wait for each other: measured on 2
cores, logp + gradient of a (50, 500, 3) model took 7 ms per call with two
processes side by side instead of 1 ms (profiled by hand; ``benchmarks/bench_threads.py``
measures the default environment against one thread).

:func:`single_blas_thread` sets every loaded BLAS to one thread on entry and
restores each library's own count on exit, so the process-wide setting is only
changed while bdfm computes. :class:`OneBlasThread` wraps a compiled pytensor
function so that each call runs that way: besides the kernels, the graphs call
LAPACK through SciPy for k x k matrices (the stationary-VAR transform's
triangular solves), and OpenBLAS threads those too. Entries from several threads at once (nutpie's
chains, thread pools) are counted: the first one in saves and limits, the last
one out restores, so no thread restores a value another thread set. The cost is
a lock and a few calls into the BLAS library, a few microseconds per kernel.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

__all__ = ["OneBlasThread", "single_blas_thread"]


def _openblas_calls(lib):
    """``(get, set)`` of an OpenBLAS build's own thread-count functions, or None.

    threadpoolctl's ``set_num_threads`` lets only the first Python thread that set
    an OpenBLAS limit change it again (it ignores the others); bdfm's kernels run
    in worker threads too, so the library's functions are called directly.
    """
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_"):
            get = getattr(lib.dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(lib.dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                return get, put
    return None


def _thread_calls(lib):
    if lib.internal_api == "openblas":
        calls = _openblas_calls(lib)
        if calls is not None:
            return calls
    return lib.get_num_threads, lib.set_num_threads


class _Guard:
    #: seconds between scans for newly loaded BLAS libraries (a scan costs about 1 ms)
    RESCAN_S = 1.0

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.saved: list = []
        self.active: list = []
        self.calls: list | None = None
        self.scanned_at = -float("inf")

    def libraries(self) -> list:
        # rescanned now and then: a BLAS can be loaded later (pytensor's C modules link
        # the system OpenBLAS when PYTENSOR_FLAGS asks for it)
        now = time.monotonic()
        if self.calls is None or now - self.scanned_at > self.RESCAN_S:
            # the BLAS numba calls for ``@`` is SciPy's: make sure it is loaded
            import scipy.linalg.cython_blas  # noqa: F401
            from threadpoolctl import ThreadpoolController

            libs = ThreadpoolController().lib_controllers
            self.calls = [_thread_calls(c) for c in libs if c.user_api == "blas"]
            self.scanned_at = now
        return self.calls

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.active = self.libraries()
                self.saved = [get() for get, _ in self.active]
                for (_, put), n in zip(self.active, self.saved, strict=True):
                    if n != 1:
                        put(1)
            self.depth += 1

    def exit(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                for (_, put), n in zip(self.active, self.saved, strict=True):
                    if n != 1:
                        put(n)


_GUARD = _Guard()


@contextmanager
def single_blas_thread():
    """Run the block with one BLAS thread; restore each library's count afterwards."""
    _GUARD.enter()
    try:
        yield
    finally:
        _GUARD.exit()


class OneBlasThread:
    """A compiled function whose every call runs under :func:`single_blas_thread`.

    Attributes of the wrapped function (``fn.maker``, ``fn.trust_input``, ...) are
    reachable through the wrapper; the wrapped function itself is ``.fn``.
    """

    __slots__ = ("fn",)

    def __init__(self, fn) -> None:
        self.fn = fn

    def __call__(self, *args, **kwargs):
        _GUARD.enter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            _GUARD.exit()

    def __getattr__(self, name: str):
        if name == "fn":  # not set yet (unpickling): no recursion through self.fn
            raise AttributeError(name)
        return getattr(self.fn, name)
