"""``bdfm demo`` as a new user runs it: fresh virtual environment, ``pip install .``, cold.

Creates a virtual environment in a temporary folder, installs this checkout with
``pip install <checkout>`` (no extras: what ``pip install bdfm`` gives), and runs
``bdfm demo`` twice in the default environment (no thread variables; pytensor's
compile folder a fresh temporary one, so the first run is fully cold: bdfm's numba
kernels, pytensor's and nutpie's compiles; the second run finds the caches filled).
Records the wall time of each run and of each of the demo's stages (from its numbered
lines), whether pytensor's "could not link to a BLAS" warning reached the user, and which
sampler ran.

Run by hand: ``python benchmarks/bench_demo.py``; writes
``benchmarks/results/demo_<date>.{md,json}``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _run_demo(bdfm_exe: Path, work: Path, env: dict) -> dict:
    """One ``bdfm demo`` run: wall time, seconds at each stage line, the BLAS warning."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(bdfm_exe), "demo", "--out", str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=work.parent,
    )
    stages, lines = [], []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if re.match(r"^\[\d+/\d+\]", line):
            stages.append({"at_s": round(time.perf_counter() - t0, 1), "line": line.strip()[:120]})
    rc = proc.wait()
    text = "\n".join(lines)
    read = "import bdfm, sys; f = bdfm.load(sys.argv[1]); print(f.idata.attrs['sampler'])"
    sampler = subprocess.run(
        [str(bdfm_exe.parent / "python"), "-c", read, str(work / "fit.nc")],
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()
    return {
        "rc": rc,
        "wall_s": time.perf_counter() - t0,
        "stages": stages,
        "blas_warning": "could not link to a BLAS" in text,
        "sampler": sampler,
        "tail": lines[-6:],
    }


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS and k != "PYTENSOR_FLAGS"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        venv = tmp / "venv"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True, env=env)
        subprocess.run([*pip, str(ROOT)], check=True, env=env)
        install_s = time.perf_counter() - t0
        env["PYTENSOR_FLAGS"] = f"compiledir={tmp / 'pytensor'}"
        runs = []
        for name in ("cold", "warm"):
            print(f"bdfm demo, {name} ...", flush=True)
            runs.append({"run": name, **_run_demo(venv / "bin" / "bdfm", tmp / name, env)})
            print(runs[-1], flush=True)
    info = {"nproc": os.cpu_count(), "python": sys.version.split()[0]}
    out = HERE / "results" / f"demo_{date.today().isoformat()}"
    out.with_suffix(".json").write_text(
        json.dumps({"machine": info, "install_s": install_s, "runs": runs}, indent=1)
    )
    md = [
        f"# `bdfm demo` in a fresh virtual environment ({date.today().isoformat()})",
        "",
        "Script: `benchmarks/bench_demo.py`. `pip install <checkout>` (no extras) into a new "
        f"venv ({install_s:.0f} s, wheels from the package index or pip's cache), then `bdfm demo` "
        "twice, default environment (no thread variables; pytensor compile folder new, so the "
        f"first run is fully cold). Machine: {info}.",
        "",
        "| run | exit | wall s | sampler (saved fit) | BLAS warning shown "
        "| stages (seconds since start) |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        stages = "; ".join(f"{s['line'][:5]} {s['at_s']:.0f}" for s in r["stages"])
        md.append(
            f"| {r['run']} | {r['rc']} | {r['wall_s']:.0f} | {r['sampler']} "
            f"| {'yes' if r['blas_warning'] else 'no'} "
            f"| {stages} |"
        )
    md += ["", "Stage lines of the cold run:", ""]
    md += [f"- {s['at_s']:.0f} s: `{s['line']}`" for s in runs[0]["stages"]]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
