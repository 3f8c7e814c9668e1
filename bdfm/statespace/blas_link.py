"""Link pytensor's C backend to the OpenBLAS that SciPy's wheel ships, when no other is found.

PyTensor installed by pip looks for a system BLAS the first time it compiles a graph
that could use one; on a machine without one it warns ("could not link to a BLAS
installation ... severely degraded") and compiles its matrix products without BLAS.
Every SciPy wheel for Linux ships an OpenBLAS, but with its symbols renamed
(``scipy_dgemm_`` for ``dgemm_``), so pytensor cannot link it directly.

:func:`install` changes only how pytensor resolves ``config.blas__ldflags`` when the
user has not set it (``PYTENSOR_FLAGS``, ``.pytensorrc`` or ``pytensor.config``) and
pytensor has not resolved it yet: pytensor's own search runs first, unchanged; only
when it finds nothing does bdfm build a small shim library (once, cached in pytensor's
compile directory) that forwards the Fortran BLAS names pytensor calls to SciPy's
OpenBLAS, and hands its flags to pytensor. A user who wants no BLAS sets
``blas__ldflags`` to the empty string, as pytensor documents; a user flag always wins.
Off Linux, or when the shim cannot be built, pytensor's behaviour (and warning) is kept.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

__all__ = ["bundled_blas_ldflags", "install", "scipy_openblas"]

_NO_BLAS_WARNING = "PyTensor could not link to a BLAS installation"
_LOCK = threading.Lock()

#: The Fortran BLAS routines pytensor's C code declares and calls: name -> (return type,
#: number of arguments). Every argument is a pointer (Fortran calling convention).
_ROUTINES = {
    "gemm": ("void", 13),
    "gemv": ("void", 11),
    "ger": ("void", 9),
    "dot": (None, 5),
    "axpy": ("void", 6),
    "scal": ("void", 4),
    "copy": ("void", 5),
    "swap": ("void", 5),
    "trsm": ("void", 11),
    "trmm": ("void", 11),
    "trsv": ("void", 8),
    "trmv": ("void", 8),
    "syrk": ("void", 10),
    "symm": ("void", 12),
    "symv": ("void", 10),
    "syr": ("void", 7),
}


def shim_source(prefix: str) -> str:
    """C source of the forwarding library: ``dgemm_(...)`` calls ``<prefix>dgemm_(...)``.

    Parameters
    ----------
    prefix : str
        The symbol prefix of the target library (``"scipy_"`` for SciPy's OpenBLAS).

    Returns
    -------
    str
        C++ source with ``extern "C"`` definitions for the single- and double-precision
        routines in ``_ROUTINES``.
    """
    lines = ['extern "C" {']
    for name, (ret, nargs) in _ROUTINES.items():
        for letter, real in (("s", "float"), ("d", "double")):
            rtype = real if ret is None else ret
            params = ", ".join(f"void* a{i}" for i in range(nargs))
            args = ", ".join(f"a{i}" for i in range(nargs))
            target = f"{prefix}{letter}{name}_"
            lines.append(f"{rtype} {target}({params});")
            body = f"return {target}({args});" if rtype != "void" else f"{target}({args});"
            lines.append(f"{rtype} {letter}{name}_({params}) {{ {body} }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def scipy_openblas() -> Path | None:
    """The OpenBLAS shared library inside SciPy's wheel, or None (other builds, other OS).

    Returns
    -------
    pathlib.Path or None
        ``.../site-packages/scipy.libs/libscipy_openblas-<hash>.so`` when it exists and
        exports ``scipy_dgemm_``.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    import scipy

    folder = Path(scipy.__file__).resolve().parent.parent / "scipy.libs"
    for lib in sorted(folder.glob("libscipy_openblas*.so")):
        if "64_" in lib.name:  # the ILP64 build (64-bit integers) does not match pytensor's int
            continue
        try:
            if hasattr(ctypes.CDLL(str(lib)), "scipy_dgemm_"):
                return lib
        except OSError:
            continue
    return None


def _build_shim(lib: Path, folder: Path) -> Path:
    source = shim_source("scipy_")
    key = hashlib.sha256(f"{lib}\n{source}".encode()).hexdigest()[:16]
    out = folder / f"libbdfm_blas_{key}.so"
    if out.exists():
        return out
    from pytensor import config

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        src = Path(tmp) / "shim.cpp"
        src.write_text(source)
        built = Path(tmp) / out.name
        cmd = [
            config.cxx,
            "-O2",
            "-shared",
            "-fPIC",
            str(src),
            str(lib),
            f"-Wl,-rpath,{lib.parent}",
            "-o",
            str(built),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        os.replace(built, out)  # atomic: a process beside this one sees all or nothing
    return out


def bundled_blas_ldflags() -> str:
    """Linker flags that give pytensor a BLAS through SciPy's OpenBLAS, or ``""``.

    Returns
    -------
    str
        ``-L<dir> -l<shim> -Wl,-rpath,<dir>`` after the flags passed pytensor's own
        link-and-run test (``try_blas_flag``); ``""`` when no SciPy OpenBLAS is found,
        there is no C++ compiler, or the test fails.
    """
    from pytensor import config
    from pytensor.link.c.cmodule import try_blas_flag

    lib = scipy_openblas()
    if lib is None or not config.cxx:
        return ""
    try:
        shim = _build_shim(lib, Path(config.compiledir) / "bdfm_blas")
    except (OSError, subprocess.SubprocessError):
        return ""
    name = shim.name[len("lib") : -len(".so")]
    flags = [f"-L{shim.parent}", f"-l{name}", f"-Wl,-rpath,{shim.parent}"]
    return try_blas_flag(flags) or ""


def _default_ldflags() -> str:
    """pytensor's search first (its warning held back), then SciPy's OpenBLAS."""
    from pytensor.link.c.cmodule import default_blas_ldflags

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NO_BLAS_WARNING)
        flags = default_blas_ldflags()
    if flags:
        return flags
    flags = bundled_blas_ldflags()
    if not flags:  # nothing found: pytensor's own warning, as without bdfm
        warnings.warn(
            f"{_NO_BLAS_WARNING} (nor to the OpenBLAS of SciPy's wheel). Matrix products in "
            "pytensor's C backend will be slower; bdfm's own likelihood kernels are not "
            "affected. See bdfm's docs/install.md.",
            UserWarning,
            stacklevel=2,
        )
    return flags


def install() -> bool:
    """Let pytensor fall back to SciPy's OpenBLAS when it resolves ``blas__ldflags``.

    Nothing changes when the user has set ``blas__ldflags`` or pytensor has already
    resolved it. Safe to call many times.

    Returns
    -------
    bool
        True when the fallback is in place (pytensor has not resolved the flags yet).
    """
    from pytensor import config

    with _LOCK:
        param = config._config_var_dict["blas__ldflags"]
        if hasattr(param, "val"):  # resolved already (by the user or a compile)
            return False
        try:
            config.fetch_val_for_key("blas__ldflags")
            return False  # the user set it: theirs wins
        except KeyError:
            pass
        param._default = _default_ldflags
        return True
