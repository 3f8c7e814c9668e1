"""Tiny numba helpers written as plain loops.

Numba compiles array expressions, broadcasting and slice assignment through
heavy generic machinery; these loops do the same small jobs and compile in a
fraction of the time, which matters for bdfm's first-call compile.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_OPTS = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_OPTS)
def sym(a):
    """0.5 * (a + a') as a new array."""
    n = a.shape[0]
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = 0.5 * (a[i, j] + a[j, i])
    return out


@njit(**_OPTS)
def transpose(a):
    """Contiguous transpose of a 2-D array."""
    n, m = a.shape
    out = np.empty((m, n))
    for i in range(n):
        for j in range(m):
            out[j, i] = a[i, j]
    return out


@njit(**_OPTS)
def add_into(out, a):
    """out += a for 2-D arrays of the same shape."""
    n, m = out.shape
    for i in range(n):
        for j in range(m):
            out[i, j] += a[i, j]


@njit(**_OPTS)
def fill(a, value):
    """Set every element of a C-contiguous array to ``value``."""
    flat = a.reshape(a.size)
    for i in range(flat.size):
        flat[i] = value


@njit(**_OPTS)
def log1d(a):
    """Elementwise log of a 1-D array."""
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = np.log(a[i])
    return out
