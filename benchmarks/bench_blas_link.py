"""pytensor's C backend with no BLAS versus bdfm's fallback to SciPy's OpenBLAS.

A machine with no system BLAS, in the default environment (no thread variables; the
script refuses to run if any is set). Two settings, each in fresh processes:

* **no BLAS**: ``PYTENSOR_FLAGS=blas__ldflags=`` (what pip-installed pytensor does on
  such a machine, after its "could not link to a BLAS" warning);
* **bdfm default**: no flag; ``bdfm.statespace.blas_link`` resolves pytensor's flags
  (pytensor's own search, then SciPy's OpenBLAS through the forwarding library).

Timed, median call over a few seconds, three alternating rounds (median round reported):
logp + gradient of ``build_model()`` at (N, T, k) = (50, 500, 3), AR(1) errors; and
logp + gradient of a plain PyMC regression (y ~ Normal(X @ beta, sigma), X 5,000 x 200),
a graph whose cost is pytensor's matrix-vector products. The stderr of each process is
searched for the warning.

Run ``python benchmarks/bench_blas_link.py``; results go to
``benchmarks/results/blas_link_<date>.{md,json}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from bench_threads import THREAD_VARS, _bdfm_fn, _median_call

HERE = Path(__file__).resolve().parent
SETTINGS = {"no BLAS": "blas__ldflags=", "bdfm default": None}


def _regression_fn():
    import numpy as np
    import pymc as pm

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 200))
    y = X @ rng.normal(size=200) + rng.normal(size=5000)
    with pm.Model() as m:
        beta = pm.Normal("beta", 0, 1, shape=200)
        sigma = pm.HalfNormal("sigma", 1)
        pm.Normal("y", X @ beta, sigma, observed=y)
    fn = m.compile_fn([m.logp(), m.dlogp()], point_fn=True)
    point = m.initial_point()
    return lambda: fn(point)


def _child(seconds: float) -> None:
    import pytensor

    out = {}
    for name, make in (("bdfm", lambda: _bdfm_fn()[1]), ("regression", _regression_fn)):
        out[name] = _median_call(make(), seconds)[0]
    out["ldflags"] = pytensor.config.blas__ldflags
    print("RESULT=" + json.dumps(out))


def _run(setting: str, seconds: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    if SETTINGS[setting] is not None:
        env["PYTENSOR_FLAGS"] = SETTINGS[setting]
    res = subprocess.run(
        [sys.executable, __file__, "--child", "--seconds", str(seconds)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(res.stdout.split("RESULT=")[1])
    out["warning"] = "could not link to a BLAS" in res.stderr
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        _child(args.seconds)
        return
    if set_vars := [v for v in THREAD_VARS if v in os.environ]:
        sys.exit(f"unset {set_vars}: this benchmark measures the default environment")
    rounds = {s: [] for s in SETTINGS}
    for _ in range(args.rounds):
        for s in SETTINGS:
            rounds[s].append(_run(s, args.seconds))
    import numpy as np

    med = {
        s: {m: float(np.median([r[m] for r in rs])) for m in ("bdfm", "regression")}
        for s, rs in rounds.items()
    }
    lines = [
        f"# pytensor's BLAS: none versus bdfm's fallback ({datetime.date.today()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; default environment (no thread variables). "
        f"Flags resolved under 'bdfm default': `{rounds['bdfm default'][0]['ldflags']}`.",
        "",
        "| logp + gradient | no BLAS | bdfm default | speed-up |",
        "|---|---|---|---|",
    ]
    for m, label in (
        ("bdfm", "`build_model()` (50, 500, 3), AR(1)"),
        ("regression", "PyMC regression, X 5,000 x 200"),
    ):
        a, b = med["no BLAS"][m], med["bdfm default"][m]
        lines.append(f"| {label} | {1e3 * a:.3f} ms | {1e3 * b:.3f} ms | {a / b:.2f}x |")
    warned = {s: any(r["warning"] for r in rs) for s, rs in rounds.items()}
    lines += [
        "",
        f"'could not link to a BLAS' warning printed: no BLAS {warned['no BLAS']}, "
        f"bdfm default {warned['bdfm default']} (the 'no BLAS' setting is explicit, so pytensor "
        "does not search and does not warn either).",
        f"Medians of {args.rounds} alternating rounds of {args.seconds:g} s each.",
    ]
    md = "\n".join(lines) + "\n"
    stem = HERE / "results" / f"blas_link_{datetime.date.today()}"
    stem.with_suffix(".json").write_text(
        json.dumps({"rounds": rounds, "median": med, "args": vars(args)}, indent=1)
    )
    stem.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
