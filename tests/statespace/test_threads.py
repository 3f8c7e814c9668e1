"""single_blas_thread: one BLAS thread inside, each library's own count restored after."""

import threading

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from bdfm.statespace import threads
from bdfm.statespace.threads import OneBlasThread, single_blas_thread


@pytest.fixture(autouse=True)
def _fresh_scan(monkeypatch):
    # BLAS libraries loaded by earlier tests (pytensor's C modules linking the system
    # OpenBLAS) must be in the guard's list
    monkeypatch.setattr(threads._GUARD, "scanned_at", -float("inf"))


def _blas_threads():
    return sorted(
        (i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"
    )


def test_one_thread_inside_and_the_callers_setting_restored():
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with single_blas_thread():
            inside = _blas_threads()
            with single_blas_thread():  # nested: still one, nothing restored yet
                assert _blas_threads() == inside
            assert _blas_threads() == inside
        assert _blas_threads() == before
    assert inside and all(n == 1 for _, n in inside)
    assert any(n == 2 for _, n in before)


def test_restored_when_the_block_raises():
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        try:
            with single_blas_thread():
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        assert _blas_threads() == before
        assert threads._GUARD.depth == 0


def test_threads_entering_at_once_restore_once():
    # the first in saves, the last out restores: overlapping entries from
    # several threads never leave another thread's value behind
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        inside, go = [], threading.Barrier(4)

        def work():
            with single_blas_thread():
                go.wait()
                inside.append(_blas_threads())
                go.wait()

        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert threads._GUARD.depth == 0
        assert _blas_threads() == before
    assert all(n == 1 for snap in inside for _, n in snap)


def test_compiled_function_wrapper_runs_each_call_single_threaded():
    x = pt.dvector("x")
    fn = OneBlasThread(pytensor.function([x], 2 * x))
    np.testing.assert_array_equal(fn(np.ones(2)), [2.0, 2.0])
    assert fn.maker is fn.fn.maker  # the wrapped function's attributes pass through
    seen = []
    wrapped = OneBlasThread(lambda: seen.append(_blas_threads()))
    with threadpool_limits(limits=2, user_api="blas"):
        wrapped()
    assert all(n == 1 for _, n in seen[0])


def test_kernels_run_single_threaded(monkeypatch):
    from bdfm.statespace import stats_ops

    seen = []
    kind = stats_ops._KINDS["lyapunov"]
    monkeypatch.setitem(
        stats_ops._KINDS,
        "lyapunov",
        kind._replace(forward=lambda *a: (seen.append(_blas_threads()), kind.forward(*a))[1]),
    )
    A = pt.dmatrix("A")
    q = pt.dvector("q")
    fn = pytensor.function([A, q], stats_ops.lyapunov_op(A, q))
    with threadpool_limits(limits=2, user_api="blas"):
        P = fn(np.array([[0.5]]), np.array([1.0]))
    np.testing.assert_allclose(P, [[1.0 / 0.75]])
    assert seen and all(n == 1 for _, n in seen[0])
