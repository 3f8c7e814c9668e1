"""Benchmark: how bdfm's cost grows with the number of series N, dates T and factors k.

For every (N, T, k) in N ∈ {20, 100, 500} × T ∈ {500, 2000, 10000} × k ∈ {2, 5, 8}
(simulated panel of ``bench_loglike.simulate``: factor VAR(1), AR(1) errors, ragged
edges), the log density + gradient of ``build_model()`` compiled with pytensor's NUMBA
backend (what nutpie runs), median over repeated calls. For the sizes whose gradient
costs at most ``--fit-max-ms``, a whole default fit (nutpie, 2 chains x (500 + 500)) adds
the leapfrog steps per draw, the min bulk ESS over loadings, factor AR, idiosyncratic sd
and AR, and the sampling seconds per effective sample. The growth exponents in N and T
are fitted to the measured times (least squares on logs), not assumed.

Default environment (no thread variables set). Run by hand:
``python benchmarks/bench_scaling.py [--fit-max-ms 6]``; writes
``benchmarks/results/scaling_<date>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_fit import KEYS_BDFM, _ess_rhat, _frame  # noqa: E402
from bench_var_backtest import machine_info  # noqa: E402

NS, TS, KS = (20, 100, 500), (500, 2000, 10000), (2, 5, 8)


def logp_grad_ms(N: int, T: int, k: int, budget: float) -> dict:
    """Median ms of the model's log density + gradient (NUMBA backend), and compile s."""
    import pytensor

    import bdfm
    from bdfm.statespace.warmup import compile_with_warmup

    model = bdfm.DynamicFactorModel(_frame(N, T, k), n_factors=k, idiosyncratic="ar1")
    pm_model = model.build_model()
    vv = pm_model.value_vars
    logp = pm_model.logp()
    point = pm_model.initial_point()
    args = [point[v.name] for v in vv]
    t0 = time.perf_counter()
    f = compile_with_warmup(vv, [logp, *pytensor.grad(logp, vv)], "ar1", mode="NUMBA")
    f(*args)
    compile_s = time.perf_counter() - t0
    times: list[float] = []
    t_end = time.perf_counter() + budget
    while len(times) < 5 or (time.perf_counter() < t_end and len(times) < 2000):
        t0 = time.perf_counter()
        f(*args)
        times.append(time.perf_counter() - t0)
    return {"logp_grad_ms": 1e3 * float(np.median(times)), "compile_s": compile_s}


def fit_row(N: int, T: int, k: int) -> dict:
    import bdfm

    model = bdfm.DynamicFactorModel(_frame(N, T, k), n_factors=k, idiosyncratic="ar1")
    t0 = time.perf_counter()
    fit = model.fit(draws=500, tune=500, chains=2, random_seed=1, progressbar=False)
    wall = time.perf_counter() - t0
    res = {"fit_wall_s": wall, "sample_s": fit.timings["sample_s"]}
    res.update(_ess_rhat(fit.idata, KEYS_BDFM))
    steps = fit.idata.sample_stats["n_steps"].to_numpy()
    res["leapfrog_per_draw"] = float(steps.mean())
    res["divergences"] = fit.diagnostics().divergences
    res["sample_s_per_ess"] = res["sample_s"] / res["min_ess_bulk"]
    return res


def growth(rows: list[dict], axis: str, other: tuple[str, str]) -> dict:
    """Fitted exponent b of time ∝ axis^b, per combination of the other two axes."""
    out = {}
    for key, grp in itertools.groupby(
        sorted(rows, key=lambda r: (r[other[0]], r[other[1]], r[axis])),
        key=lambda r: (r[other[0]], r[other[1]]),
    ):
        grp = list(grp)
        if len(grp) >= 2:
            x = np.log([r[axis] for r in grp])
            y = np.log([r["logp_grad_ms"] for r in grp])
            out[f"{other[0]}={key[0]}, {other[1]}={key[1]}"] = float(np.polyfit(x, y, 1)[0])
    return out


def markdown(rows: list[dict], exps: dict, info: dict, args) -> str:
    lines = [
        f"# Scaling of the log density + gradient and of a fit ({date.today()})",
        "",
        f"Script: `benchmarks/bench_scaling.py`; machine: {info}. Simulated panels (factor "
        "VAR(1), AR(1) errors, ragged edges), default priors, `build_model()` compiled with "
        "pytensor's NUMBA backend (nutpie's); fits: nutpie 2 x (500 + 500) for sizes whose "
        f"gradient costs at most {args.fit_max_ms} ms.",
        "",
        "| N | T | k | logp+grad ms | compile s | leapfrog steps/draw | min bulk ESS | "
        "sampling s per effective sample | divergences |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fit = "min_ess_bulk" in r
        lines.append(
            f"| {r['N']} | {r['T']} | {r['k']} | {r['logp_grad_ms']:.2f} | {r['compile_s']:.1f} | "
            + (
                f"{r['leapfrog_per_draw']:.1f} | {r['min_ess_bulk']:.0f} | "
                f"{r['sample_s_per_ess']:.3f} | {r['divergences']} |"
                if fit
                else "— | — | — | — |"
            )
        )
    lines += ["", "Fitted exponents b of logp+grad time ∝ size^b (least squares on logs):", ""]
    for axis, table in exps.items():
        lines.append(f"- in {axis}: " + "; ".join(f"{k} → {v:.2f}" for k, v in table.items()))
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timing per size")
    ap.add_argument("--fit-max-ms", type=float, default=6.0)
    ap.add_argument("--no-fits", action="store_true")
    args = ap.parse_args()
    rows = []
    for N, T, k in itertools.product(NS, TS, KS):
        row = {"N": N, "T": T, "k": k, **logp_grad_ms(N, T, k, args.budget)}
        if not args.no_fits and row["logp_grad_ms"] <= args.fit_max_ms:
            row |= fit_row(N, T, k)
        rows.append(row)
        print(json.dumps(row), flush=True)
    exps = {"N": growth(rows, "N", ("T", "k")), "T": growth(rows, "T", ("N", "k"))}
    info = machine_info()
    out = HERE / "results" / f"scaling_{date.today()}"
    out.with_suffix(".json").write_text(
        json.dumps({"machine": info, "rows": rows, "exponents": exps}, indent=1)
    )
    out.with_suffix(".md").write_text(markdown(rows, exps, info, args))
    print(f"wrote {out}.md and .json")


if __name__ == "__main__":
    main()
