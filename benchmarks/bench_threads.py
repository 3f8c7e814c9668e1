"""logp + gradient in the user's default environment versus one BLAS thread.

Times ``build_model()``'s log density and gradient (PyMC ``compile_fn``, C
backend) at (N, T, k) = (50, 500, 3) with AR(1) errors, in fresh processes:

* **idle**: one process alone;
* **pair**: two such processes side by side (as ``fit_many`` or a process pool runs them);
* **busy**: one process while a NumPy matrix-product loop (default threads) runs beside it;

each in the environment a user has (no thread variables: this script sets
none and refuses to run if any is set) and once with ``OMP/OPENBLAS/MKL_NUM_THREADS=1``
given to the timed processes only. The **ratio** row times bdfm and pymc-extras'
``BayesianDynamicFactor`` (VAR(1), AR(1) errors, same data) in one process, default
environment, idle and busy. Medians over many calls; each situation is run in
three alternating rounds and the median round reported.

Run ``python benchmarks/bench_threads.py`` (pymc-extras from the ``bench`` extra);
results go to ``benchmarks/results/threads_<date>.{md,json}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
SHAPE = (50, 500, 3)
HERE = Path(__file__).resolve().parent


def _median_call(fn, seconds):
    import numpy as np

    fn()
    ts, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(ts) < 5:
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), len(ts)


def _bdfm_fn():
    from bdfm import DFMSpec, DynamicFactorModel, simulate
    from bdfm.inference.fitting import build_model

    N, T, k = SHAPE
    data, _ = simulate(
        DFMSpec(n_factors=k, idiosyncratic="ar1"), n_time=T, n_series=N, random_seed=1
    )
    pm_model = build_model(DynamicFactorModel(data, n_factors=k, idiosyncratic="ar1"))
    fn = pm_model.compile_fn([pm_model.logp(), pm_model.dlogp()], point_fn=True)
    point = pm_model.initial_point()
    return data, lambda: fn(point)


def _pmx_fn(data):
    sys.path.insert(0, str(HERE))
    from _pmx import pmx_model

    model, _ = pmx_model(data.to_numpy(), SHAPE[2])
    fn = model.compile_fn([model.logp(), model.dlogp()], point_fn=True)
    point = model.initial_point()
    return lambda: fn(point)


def worker(kind: str, seconds: float) -> None:
    data, bdfm_call = _bdfm_fn()
    out = {}
    if kind == "ratio":
        pmx_call = _pmx_fn(data)
        out["pmx_ms"] = 1e3 * _median_call(pmx_call, seconds)[0]
    out["bdfm_ms"], out["calls"] = _median_call(bdfm_call, seconds)
    out["bdfm_ms"] *= 1e3
    print("RESULT " + json.dumps(out), flush=True)


_LOAD = "import numpy as np\na = np.random.rand(800, 800)\nwhile True:\n    a @ a\n"


def _spawn(kind, seconds, single, pytensor_flags=None):
    env = dict(os.environ)
    if single:
        env.update({v: "1" for v in THREAD_VARS[:3]})
    if pytensor_flags is not None:
        env["PYTENSOR_FLAGS"] = pytensor_flags
    cmd = [sys.executable, __file__, "--worker", kind, "--seconds", str(seconds)]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def _result(proc):
    out, _ = proc.communicate(timeout=1800)
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker failed (rc {proc.returncode}): {out[-2000:]}")
    return json.loads(lines[-1][7:])


def scenario(name, seconds, single, kind="bdfm", pytensor_flags=None):
    load = None
    if name == "busy":
        load = subprocess.Popen([sys.executable, "-c", _LOAD])
    try:
        n = 2 if name == "pair" else 1
        procs = [_spawn(kind, seconds, single, pytensor_flags) for _ in range(n)]
        return [_result(p) for p in procs]
    finally:
        if load is not None:
            load.kill()
            load.wait()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", choices=["bdfm", "ratio"])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3, help="alternating repeats per situation")
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.seconds)
        return
    set_vars = {v: os.environ[v] for v in THREAD_VARS if v in os.environ}
    if set_vars:
        raise SystemExit(
            f"unset {sorted(set_vars)}: this benchmark measures the default environment"
        )
    import numpy as np
    import pytensor

    import bdfm

    info = {
        "date": datetime.date.today().isoformat(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "bdfm": bdfm.__version__,
        "pytensor": pytensor.__version__,
        "pytensor_blas_ldflags": pytensor.config.blas__ldflags or "(empty: no BLAS linked)",
        "thread_variables": "unset",
        "shape_N_T_k": SHAPE,
    }
    t0 = time.perf_counter()
    rows = []
    for name in ("idle", "pair", "busy"):
        # alternate the two environments, several rounds: the machine's speed drifts
        default, single = [], []
        for _ in range(args.rounds):
            default.append(max(r["bdfm_ms"] for r in scenario(name, args.seconds, single=False)))
            single.append(max(r["bdfm_ms"] for r in scenario(name, args.seconds, single=True)))
        d, s = float(np.median(default)), float(np.median(single))
        rows.append(
            {
                "scenario": name,
                "default_ms": d,
                "single_thread_ms": s,
                "ratio": d / s,
                "rounds_default_ms": default,
                "rounds_single_ms": single,
            }
        )
    # pytensor's C backend linked to the system OpenBLAS (what `apt-get install
    # libopenblas-dev` and the Makefile give) against the pip default (no BLAS linked)
    linked = None
    if (
        shutil.which("ldconfig")
        and "libopenblas.so "
        in subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    ):
        flags = "blas__ldflags=-lopenblas"
        with_blas, without = [], []
        for _ in range(args.rounds):
            with_blas.append(
                scenario("idle", args.seconds, False, pytensor_flags=flags)[0]["bdfm_ms"]
            )
            without.append(
                scenario("idle", args.seconds, False, pytensor_flags="blas__ldflags=")[0]["bdfm_ms"]
            )
        linked = {
            "linked_ms": float(np.median(with_blas)),
            "unlinked_ms": float(np.median(without)),
            "ratio": float(np.median(without) / np.median(with_blas)),
        }
    ratios = []
    for name in ("idle", "busy"):
        r = scenario(name, args.seconds, single=False, kind="ratio")[0]
        ratios.append({"scenario": name, **r, "speedup": r["pmx_ms"] / r["bdfm_ms"]})
    wall = time.perf_counter() - t0
    result = {
        "machine": info,
        "rows": rows,
        "pytensor_blas": linked,
        "pymc_extras": ratios,
        "wall_s": wall,
    }
    out = HERE / "results" / f"threads_{info['date']}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    md = [
        f"# logp + gradient, default environment vs one BLAS thread ({info['date']})",
        "",
        f"Script: `benchmarks/bench_threads.py`; machine: {info}. `build_model()` at (N, T, k) = "
        f"{SHAPE}, AR(1) errors, C backend; median ms per logp + gradient call (the slower "
        f"process where two run), median over {args.rounds} alternating rounds.",
        "",
        "| situation | default environment | `OMP/OPENBLAS/MKL_NUM_THREADS=1` | default / single |",
        "|---|---|---|---|",
    ]
    for r in rows:
        md.append(
            f"| {r['scenario']} | {r['default_ms']:.2f} ms | {r['single_thread_ms']:.2f} ms | "
            f"{r['ratio']:.2f}x |"
        )
    if linked is not None:
        md += [
            "",
            "pytensor's C backend and BLAS, idle, default environment: no BLAS linked (the pip "
            f"default) {linked['unlinked_ms']:.2f} ms, linked to the system OpenBLAS "
            f"(`blas__ldflags=-lopenblas`) {linked['linked_ms']:.2f} ms: "
            f"{linked['ratio']:.2f}x.",
        ]
    md += [
        "",
        "pymc-extras `BayesianDynamicFactor` (VAR(1), AR(1) errors, same data), same process, "
        "default environment:",
        "",
        "| situation | pymc-extras | bdfm | bdfm faster by |",
        "|---|---|---|---|",
    ]
    for r in ratios:
        md.append(
            f"| {r['scenario']} | {r['pmx_ms']:.1f} ms | {r['bdfm_ms']:.2f} ms | {r['speedup']:.0f}x |"
        )
    md += ["", f"Wall time {wall:.0f} s."]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
