"""Cost of one log density + gradient of each volatility model relative to the constant model.

The bundled S&P 500 returns 2019-2022 (20 series x 1,006 dates), k = 3, AR(1) errors,
``build_model(gauge="split")`` (what ``fit()`` samples), compiled with pytensor's NUMBA
backend (what nutpie runs) and with the C backend (what MLE starting points, log-likelihood
scoring and forecasts call). Median call over a few seconds after a warm-up call, default
environment (no thread variables).

Run ``python benchmarks/bench_volatility_cost.py``; results go to
``benchmarks/results/volatility_cost_<date>.{md,json}``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

from bench_threads import THREAD_VARS, _median_call

HERE = Path(__file__).resolve().parent
SPECS = {
    "constant": {},
    "Student-t": {"tails": "student_t"},
    "factor SV + common SV + t": {
        "factor_volatility": "sv",
        "idio_volatility": "common_sv",
        "tails": "student_t",
    },
    "factor GARCH": {"factor_volatility": "garch"},
    "idiosyncratic GARCH": {"idio_volatility": "garch"},
    "factor + idiosyncratic GARCH + t": {
        "factor_volatility": "garch",
        "idio_volatility": "garch",
        "tails": "student_t",
    },
}


def main() -> None:
    if set_vars := [v for v in THREAD_VARS if v in os.environ]:
        raise SystemExit(f"unset {set_vars}: this benchmark measures the default environment")
    import bdfm
    from bdfm.inference.fitting import build_model

    data = bdfm.datasets.load("sp500_returns").loc["2019":]
    times = {}
    for label, opts in SPECS.items():
        model = bdfm.DynamicFactorModel(data, n_factors=3, idiosyncratic="ar1", **opts)
        pm_model = build_model(model, gauge="split")
        point = pm_model.initial_point()
        times[label] = {}
        for mode in ("NUMBA", "FAST_RUN"):
            fn = pm_model.compile_fn([pm_model.logp(), pm_model.dlogp()], point_fn=True, mode=mode)
            times[label][mode] = _median_call(lambda fn=fn, point=point: fn(point), 3.0)[0]
        print(label, times[label], flush=True)
    base = times["constant"]
    lines = [
        f"# logp + gradient of the volatility models ({datetime.date.today()})",
        "",
        f"Script: `benchmarks/bench_volatility_cost.py`; {platform.machine()}, {os.cpu_count()} "
        f"cores, default environment. sp500_returns 2019-2022 (20 x {len(data)}), k = 3, AR(1) "
        "errors, the model `fit()` samples (gauge split).",
        "",
        "| model | NUMBA (nutpie) | x constant | C backend | x constant |",
        "|---|---|---|---|---|",
    ]
    for label, t in times.items():
        lines.append(
            f"| {label} | {1e3 * t['NUMBA']:.2f} ms | {t['NUMBA'] / base['NUMBA']:.1f} | "
            f"{1e3 * t['FAST_RUN']:.2f} ms | {t['FAST_RUN'] / base['FAST_RUN']:.1f} |"
        )
    md = "\n".join(lines) + "\n"
    stem = HERE / "results" / f"volatility_cost_{datetime.date.today()}"
    stem.with_suffix(".json").write_text(json.dumps(times, indent=1))
    stem.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
