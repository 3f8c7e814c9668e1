"""The NUMBA cache key of the custom Ops follows the kernel sources."""

import pytest
from pytensor.link.numba.dispatch.basic import (
    default_hash_key_from_props,
    numba_funcify_and_cache_key,
)

from bdfm.statespace import cache_key
from bdfm.statespace.ops import kalman_grad_op, kalman_loglik_op
from bdfm.statespace.stats_ops import NumbaKernel, NumbaKernelGrad


def test_key_is_a_hash_of_the_kernel_module_sources():
    sources = cache_key.kernel_sources()
    assert len(sources) == len(cache_key.KERNEL_MODULES) == 4
    assert cache_key.KERNEL_VERSION == cache_key.source_key(sources)
    assert isinstance(cache_key.KERNEL_VERSION, int) and cache_key.KERNEL_VERSION >= 0


def test_editing_a_kernel_source_changes_the_key():
    sources = [s.decode() for s in cache_key.kernel_sources()]
    base = cache_key.source_key(sources)
    for i in range(len(sources)):
        edited = list(sources)
        edited[i] = edited[i].replace("0.5", "0.25", 1) + "\n# edit\n"
        assert cache_key.source_key(edited) != base
    # moving text between modules changes it too (texts are length-prefixed)
    assert cache_key.source_key(["ab", "c"]) != cache_key.source_key(["a", "bc"])
    assert cache_key.source_key(sources) == base  # deterministic


@pytest.mark.parametrize(
    "op",
    [
        kalman_loglik_op,
        kalman_grad_op,
        NumbaKernel("iid"),
        NumbaKernel("ar1_scaled"),
        NumbaKernelGrad("lyapunov"),
    ],
    ids=str,
)
def test_numba_cache_key_of_the_ops_uses_the_source_key(op, monkeypatch):
    _, key = numba_funcify_and_cache_key(op)
    expected = default_hash_key_from_props(op, cache_version=str(cache_key.KERNEL_VERSION))
    assert key == expected
    # a different source hash gives a different cache key
    for module in ("bdfm.statespace.ops", "bdfm.statespace.stats_ops"):
        monkeypatch.setattr(f"{module}.KERNEL_VERSION", cache_key.KERNEL_VERSION ^ 1)
    _, key2 = numba_funcify_and_cache_key(op)
    assert key2 != key
    assert key2 == default_hash_key_from_props(op, cache_version=str(cache_key.KERNEL_VERSION ^ 1))
