"""Benchmark: bdfm ``fit_map`` vs statsmodels ``DynamicFactorMQ(...).fit()`` (EM).

Same simulated panel (the generator of ``bench_loglike.py``, AR(1) errors, ragged
edges) at (N, T, k) = (100, 500, 3), in one run. bdfm is timed twice in fresh
processes' terms: the first call in this process (model build, PyMC graph,
compile, optimisation) and a second call on a new model of the same shape
(compiled code cached). statsmodels: ``DynamicFactorMQ(endog, factors=k,
factor_orders=1, idiosyncratic_ar1=True).fit(disp=False)``.

Run by hand: ``python benchmarks/bench_map.py``.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_loglike import machine_info, simulate  # noqa: E402


def main():
    N, T, k = 100, 500, 3
    Y, _ = simulate(N, T, k)
    data = pd.DataFrame(Y, index=pd.bdate_range("2000-01-03", periods=T))
    data.columns = [f"y{i}" for i in range(N)]
    import bdfm

    rows = {}
    for label in ("bdfm fit_map (first call)", "bdfm fit_map (second call)"):
        t0 = time.perf_counter()
        res = bdfm.DynamicFactorModel(data, n_factors=k, idiosyncratic="ar1").fit_map()
        rows[label] = {
            "wall_s": time.perf_counter() - t0,
            "optimise_s": res.seconds,
            "compile_s": res.compile_seconds,
            "iterations": res.n_iter,
            "converged": res.converged,
        }
        print(label, rows[label], flush=True)
    from statsmodels.tsa.statespace.dynamic_factor_mq import DynamicFactorMQ

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        mod = DynamicFactorMQ(data, factors=k, factor_orders=1, idiosyncratic_ar1=True)
        sm = mod.fit(disp=False)
        rows["statsmodels DynamicFactorMQ.fit (EM)"] = {
            "wall_s": time.perf_counter() - t0,
            "iterations": int(sm.mle_retvals.get("iter", -1)) if sm.mle_retvals else None,
        }
    print(rows, flush=True)
    ref = rows["statsmodels DynamicFactorMQ.fit (EM)"]["wall_s"]
    lines = [
        f"# MAP benchmark ({date.today().isoformat()}), (N, T, k) = ({N}, {T}, {k}), AR(1) errors",
        "",
        f"Machine: {machine_info()}",
        "",
        "| method | wall s | ratio to statsmodels EM |",
        "|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['wall_s']:.2f} | {r['wall_s'] / ref:.2f} |")
    report = "\n".join(lines) + "\n"
    out = HERE / "results" / f"map_{date.today().isoformat()}"
    out.with_suffix(".md").write_text(report)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1, default=str))
    print(report)


if __name__ == "__main__":
    main()
