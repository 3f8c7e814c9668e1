"""Benchmark: which univariate volatility models pass the VaR backtests of issue 12.

The targets of the volatility issue (Kupiec and Christoffersen-independence p >= 0.05
at 99% and 97.5% on both panels) are measured here for the standard univariate
anchors from ``arch`` (a benchmark-only dependency), on the same panels, portfolio,
windows and refits as ``bench_var_backtest.py``: GARCH(1,1) with normal, Student-t
and Hansen skew-t innovations, its GJR (leverage) form, and EGARCH. This says what
a model must contain (fat tails, leverage, skewness) to pass, before bdfm's own
models are measured against it.

Run by hand: ``python benchmarks/bench_var_anchors.py``; writes
``benchmarks/results/var_anchors_<date>.md`` and ``.json``. No thread variables are set.
"""

from __future__ import annotations

import json
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
from bench_var_backtest import LEVELS, load_panel, machine_info, scores

HERE = Path(__file__).resolve().parent
WINDOW, REFIT = 750, 125
MODELS = {
    "GARCH-normal": {"vol": "GARCH", "p": 1, "q": 1, "dist": "normal"},
    "GARCH-t": {"vol": "GARCH", "p": 1, "q": 1, "dist": "t"},
    "GARCH-skew-t": {"vol": "GARCH", "p": 1, "q": 1, "dist": "skewt"},
    "GJR-normal": {"vol": "GARCH", "p": 1, "o": 1, "q": 1, "dist": "normal"},
    "GJR-t": {"vol": "GARCH", "p": 1, "o": 1, "q": 1, "dist": "t"},
    "GJR-skew-t": {"vol": "GARCH", "p": 1, "o": 1, "q": 1, "dist": "skewt"},
    "EGARCH-t": {"vol": "EGARCH", "p": 1, "o": 1, "q": 1, "dist": "t"},
}


def rolling_var(x: np.ndarray, **kw) -> dict[float, np.ndarray]:
    """Rolling 1-day VaR (positive losses) for dates ``WINDOW..``: refit every REFIT."""
    from arch import arch_model

    T = len(x)
    out = {a: np.empty(T - WINDOW) for a in LEVELS}
    for s in range(WINDOW, T, REFIT):
        hi = min(s + REFIT, T)
        am = arch_model(x[s - WINDOW : hi], mean="Constant", **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = am.fit(last_obs=WINDOW, disp="off", options={"maxiter": 500})
        fc = res.forecast(start=WINDOW - 1, horizon=1, reindex=False)
        sd = np.sqrt(fc.variance.to_numpy()[: hi - s, 0])
        n_dist = am.distribution.num_params
        dist_params = res.params.to_numpy()[-n_dist:] if n_dist else None
        for a in LEVELS:
            q = am.distribution.ppf(1 - a, dist_params)
            out[a][s - WINDOW : hi - WINDOW] = -(res.params["mu"] + sd * q)
    return out


def run_panel(name: str) -> dict:
    data = load_panel(name)
    port = data.mean(axis=1).to_numpy()
    rows = []
    for label, kw in MODELS.items():
        t0 = time.perf_counter()
        var = rolling_var(port, **kw)
        assets = {c: rolling_var(data[c].to_numpy(), **kw) for c in data.columns}
        for a in LEVELS:
            sc = scores(port[WINDOW:], var[a], a)
            ticks = [
                scores(data[c].to_numpy()[WINDOW:], v[a], a)["tick"] for c, v in assets.items()
            ]
            sc["median_asset_tick"] = float(np.median(ticks))
            rows.append({"alpha": a, "model": label, **sc})
        print(f"  {name} {label}: {time.perf_counter() - t0:.0f} s", flush=True)
    return {
        "panel": name,
        "series": list(data.columns),
        "dates": [str(data.index[0].date()), str(data.index[-1].date()), len(data)],
        "out_of_sample_dates": len(data) - WINDOW,
        "rows": rows,
    }


def markdown(results: list[dict], info: dict) -> str:
    lines = [
        f"# Univariate VaR anchors on real returns ({date.today()})",
        "",
        f"Script: `benchmarks/bench_var_anchors.py`; machine: {info}. Equal-weight portfolio, "
        f"rolling window {WINDOW}, refit every {REFIT}, constant mean, `arch` maximum "
        "likelihood; parameters fixed between refits. A row passes when both p-values are "
        ">= 0.05.",
        "",
    ]
    for r in results:
        lines += [
            f"## {r['panel']}: {len(r['series'])} series, {r['dates'][0]} .. {r['dates'][1]} "
            f"({r['out_of_sample_dates']} out-of-sample dates)",
            "",
            "| level | model | violations | Kupiec p | Christoffersen ind. p | tick loss | "
            "median asset tick loss | passes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in sorted(r["rows"], key=lambda x: -x["alpha"]):
            ok = row["kupiec_p"] >= 0.05 and row["christoffersen_p"] >= 0.05
            lines.append(
                f"| {row['alpha']} | {row['model']} | {100 * row['rate']:.2f}% | "
                f"{row['kupiec_p']:.3g} | {row['christoffersen_p']:.3g} | {row['tick']:.4f} | "
                f"{row['median_asset_tick']:.4f} | {'yes' if ok else 'no'} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    results = [run_panel(name) for name in ("sp500", "crypto")]
    info = machine_info()
    out = HERE / "results" / f"var_anchors_{date.today()}"
    out.with_suffix(".json").write_text(json.dumps({"machine": info, "results": results}, indent=1))
    out.with_suffix(".md").write_text(markdown(results, info))
    print(f"wrote {out}.md and .json")


if __name__ == "__main__":
    main()
