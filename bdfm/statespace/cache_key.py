"""Cache key of the compiled kernels: a hash of their source text.

pytensor's NUMBA backend caches the function it compiles for a graph under a key
built from each Op's type, its props and an integer the Op's funcify registration
returns (:func:`pytensor.link.numba.dispatch.basic.register_funcify_default_op_cache_key`).
A constant integer would let an edited kernel be served from a stale cache, so
the integer is derived from the source text of the kernel modules, read once at
import: any edit to a kernel changes the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["KERNEL_MODULES", "KERNEL_VERSION", "kernel_sources", "source_key"]

#: Modules whose numba code the custom Ops run (their source is hashed).
KERNEL_MODULES = ("_nb", "kernels", "small_linalg", "stats_kernels")


def source_key(sources: Iterable[str | bytes]) -> int:
    """A non-negative 63-bit integer identifying the given source texts (order matters).

    Parameters
    ----------
    sources : source texts of the kernel modules.

    Returns
    -------
    int, the leading 63 bits of the SHA-256 of the length-prefixed texts.
    """
    h = hashlib.sha256()
    for text in sources:
        data = text.encode() if isinstance(text, str) else bytes(text)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return int.from_bytes(h.digest()[:8], "little") >> 1


def kernel_sources(modules: Iterable[str] = KERNEL_MODULES) -> list[bytes]:
    """Source bytes of the kernel modules of :mod:`bdfm.statespace`, in order."""
    here = Path(__file__).resolve().parent
    return [(here / f"{name}.py").read_bytes() for name in modules]


#: The integer the custom Ops give pytensor's NUMBA cache key (see module docstring).
KERNEL_VERSION = source_key(kernel_sources())
