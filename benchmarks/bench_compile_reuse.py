"""Time saved by reusing nutpie's compiled model for data sets of the same shape.

Runs in the user's default environment (sets no thread variables) on the bundled
``sp500_returns`` panel (20 stocks):

1. a second data set of the same shape: a fit on the first 500 dates, then one on the
   next 500; "call to first draw" = starting point + compile (+ setup) of the second fit,
   with the compiled model reused and with the cache emptied first;
2. ``backtest_var(method="bayes")`` with 10 refits (window 500, refit every 50), one
   after the other in this process (``executor="serial"``, so that the cache can be
   switched off; the default process pool reuses within each worker).

``select_factors`` is not timed: its models differ in k, so none shares a compiled
graph, and its default process pool is new for every call.
2 runs once with reuse and once with the cache disabled
(``bdfm.inference.samplers.COMPILED.size = 0``). Sampling: nutpie, 2 chains x
(300 + 300). Results go to ``benchmarks/results/compile_reuse_<date>.{md,json}``.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

import bdfm
from bdfm.inference import samplers

HERE = Path(__file__).resolve().parent
FIT = {"draws": 300, "tune": 300, "chains": 2, "random_seed": 1, "progressbar": False}


def _cache(enabled: bool) -> None:
    samplers.COMPILED.entries.clear()
    samplers.COMPILED.size = 4 if enabled else 0


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _fit(data):
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1")
    fit, wall = _timed(lambda: model.fit(**FIT))
    timings = eval(fit.idata.attrs["timings"])
    return {"wall_s": wall, **timings}


def main() -> None:
    data = bdfm.datasets.load("sp500_returns")
    first, second = data.iloc[:500], data.iloc[500:1000]
    rows = {}
    _cache(True)
    rows["first_fit"] = _fit(first)
    rows["second_fit_reused"] = _fit(second)
    _cache(False)
    rows["second_fit_fresh"] = _fit(second)
    for enabled in (True, False):
        _cache(enabled)
        tag = "reused" if enabled else "fresh"
        _, rows[f"backtest_10_refits_{tag}_s"] = _timed(
            lambda: bdfm.backtest_var(
                data.iloc[:1000],
                {"n_factors": 2, "idiosyncratic": "ar1"},
                window=500,
                refit_every=50,
                method="bayes",
                max_draws=100,
                executor="serial",
                **FIT,
            )
        )
    date = datetime.date.today().isoformat()
    info = {
        "nproc": os.cpu_count(),
        "bdfm": bdfm.__version__,
        "thread_variables": {
            v: os.environ.get(v, "unset") for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        },
        "sampling": FIT,
    }
    out = HERE / "results" / f"compile_reuse_{date}"
    out.with_suffix(".json").write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    r = rows
    md = [
        f"# Compiled-model reuse ({date})",
        "",
        f"Script: `benchmarks/bench_compile_reuse.py`; {info}. Bundled `sp500_returns`, k = 2, "
        "AR(1) errors.",
        "",
        "| | compiled model reused | compiled afresh | ratio |",
        "|---|---|---|---|",
        f"| second data set, same shape: start + compile (call to first draw) | "
        f"{r['second_fit_reused']['mle_s'] + r['second_fit_reused']['compile_s']:.1f} s | "
        f"{r['second_fit_fresh']['mle_s'] + r['second_fit_fresh']['compile_s']:.1f} s | "
        f"{(r['second_fit_fresh']['mle_s'] + r['second_fit_fresh']['compile_s']) / (r['second_fit_reused']['mle_s'] + r['second_fit_reused']['compile_s']):.0f}x |",
        f"| second data set, whole fit | {r['second_fit_reused']['wall_s']:.1f} s | "
        f"{r['second_fit_fresh']['wall_s']:.1f} s | "
        f"{r['second_fit_fresh']['wall_s'] / r['second_fit_reused']['wall_s']:.1f}x |",
        f"| `backtest_var`, 10 Bayesian refits | {r['backtest_10_refits_reused_s']:.0f} s | "
        f"{r['backtest_10_refits_fresh_s']:.0f} s | "
        f"{r['backtest_10_refits_fresh_s'] / r['backtest_10_refits_reused_s']:.1f}x |",
        "",
        f"First fit (cold cache): {r['first_fit']['wall_s']:.1f} s, of which compile "
        f"{r['first_fit']['compile_s']:.1f} s.",
    ]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
