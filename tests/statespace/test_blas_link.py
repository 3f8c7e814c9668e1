"""pytensor linked to SciPy's OpenBLAS when no system BLAS is found (bdfm.statespace.blas_link)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from bdfm.statespace import blas_link

needs_scipy_openblas = pytest.mark.skipif(
    blas_link.scipy_openblas() is None, reason="no OpenBLAS in this SciPy build (not Linux?)"
)


def test_shim_source_forwards_every_routine_with_its_return_type():
    src = blas_link.shim_source("scipy_")
    assert "void dgemm_(" in src and "scipy_dgemm_(a0, a1" in src
    assert "double ddot_(" in src and "return scipy_ddot_(" in src
    assert "float sdot_(" in src and "return scipy_sdot_(" in src
    for name in blas_link._ROUTINES:
        for letter in "sd":
            assert f" {letter}{name}_(" in src


@needs_scipy_openblas
def test_bundled_flags_give_pytensor_correct_blas_products():
    import pytensor
    import pytensor.tensor as pt

    flags = blas_link.bundled_blas_ldflags()
    assert "-lbdfm_blas_" in flags
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 5)), rng.normal(size=(5, 3))
    v = rng.normal(size=5)
    with pytensor.config.change_flags(blas__ldflags=flags):
        x, y, z = pt.matrix("x"), pt.matrix("y"), pt.vector("z")
        f = pytensor.function([x, y, z], [x @ y, x @ z, 2.0 * (x @ y) + 1.0], mode="FAST_RUN")
        ops = {type(n.op).__name__ for n in f.maker.fgraph.apply_nodes}
        out = f(a, b, v)
    assert ops & {"Dot22", "Dot22Scalar", "CGemv", "Gemm", "CGer"}, ops  # BLAS ops were used
    np.testing.assert_allclose(out[0], a @ b, rtol=1e-12)
    np.testing.assert_allclose(out[1], a @ v, rtol=1e-12)
    np.testing.assert_allclose(out[2], 2 * a @ b + 1, rtol=1e-12)


_PROBE = """
import warnings
warnings.simplefilter("always")
import numpy as np
import pytensor, pytensor.tensor as pt
import bdfm.statespace.assemble  # installs the fallback
x = pt.matrix("x")
f = pytensor.function([x], x @ x.T)
a = np.arange(6.0).reshape(2, 3)
assert np.allclose(f(a), a @ a.T)
print("FLAGS=" + pytensor.config.blas__ldflags)
"""


def _run_probe(pytensor_flags: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    if pytensor_flags is not None:
        env["PYTENSOR_FLAGS"] = pytensor_flags
    return subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300
    )


@needs_scipy_openblas
def test_a_default_environment_links_a_blas_without_the_warning():
    res = _run_probe(None)
    assert res.returncode == 0, res.stderr
    assert "could not link to a BLAS" not in res.stderr
    flags = res.stdout.split("FLAGS=")[1].strip()
    assert flags  # the system BLAS pytensor found, or SciPy's OpenBLAS through the shim


def test_a_user_setting_wins():
    res = _run_probe("blas__ldflags=")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("FLAGS=")[1].strip() == ""
