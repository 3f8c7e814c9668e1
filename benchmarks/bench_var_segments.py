"""Benchmark: where the rolling factor-SV VaR loses to GARCH-t, refit segment by refit segment.

The same rolling backtest as ``bench_var_backtest.py`` (window 750, refit every 125,
equal-weight portfolio, 99%), cheaper settings (nutpie ``--chains`` x (``--tune`` +
``--draws``), ``--keep`` draws x ``--particles`` particles per refit), for bdfm with factor
SV + a common idiosyncratic SV path + Student-t shocks (k = 2), against a GARCH(1,1)-t
(``arch``, benchmark-only) refitted on the same windows. Reports the tick loss and the
violations of both in every out-of-sample segment between two refits, the median ratio of
the two VaRs there, and each segment's share of the total difference in tick loss.

Run by hand: ``python benchmarks/bench_var_segments.py [--panels sp500]``; writes
``benchmarks/results/var_segments_<date>.md`` and ``.json``. No thread variables are set.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import numpy as np
from bench_var_backtest import (
    add_sampling_arguments,
    garch_t_var,
    load_panel,
    machine_info,
    scores,
    write_results,
)

HERE = Path(__file__).resolve().parent
ALPHA = 0.99
SPEC = {
    "n_factors": 2,
    "factor_volatility": "sv",
    "idio_volatility": "common_sv",
    "tails": "student_t",
}


def _tick(ret: np.ndarray, var: np.ndarray) -> np.ndarray:
    q = -var
    return ((ret < q) - (1 - ALPHA)) * (q - ret)


def run_panel(name: str, args) -> dict:
    import bdfm

    data = load_panel(name)
    N = data.shape[1]
    port = data @ np.full(N, 1.0 / N)
    t0 = time.perf_counter()
    res = bdfm.backtest_var(
        data, SPEC, window=args.window, alpha=ALPHA, refit_every=args.refit, method="bayes",
        executor="serial", max_draws=args.keep, n_particles=args.particles, draws=args.draws,
        tune=args.tune, chains=args.chains, random_seed=11, progressbar=False,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    frame = res.frame
    ret, var_b = frame["return"].to_numpy(), frame["var"].to_numpy()
    var_g = garch_t_var(port, args.window, args.refit)[ALPHA]
    tb, tg = _tick(ret, var_b), _tick(ret, var_g)
    gap = tb.sum() - tg.sum()
    segments = []
    for s in range(0, len(ret), args.refit):
        sl = slice(s, s + args.refit)
        segments.append(
            {
                "start": str(frame.index[s].date()),
                "tick_bdfm": float(tb[sl].mean()),
                "tick_garch": float(tg[sl].mean()),
                "violations_bdfm": int((ret[sl] < -var_b[sl]).sum()),
                "violations_garch": int((ret[sl] < -var_g[sl]).sum()),
                "var_ratio_median": float(np.median(var_b[sl] / var_g[sl])),
                "share_of_gap": float((tb[sl].sum() - tg[sl].sum()) / gap) if gap else None,
            }
        )
    return {
        "panel": name,
        "seconds": seconds,
        "overall": {
            "bdfm sv-t": scores(ret, var_b, ALPHA),
            "GARCH(1,1)-t": scores(ret, var_g, ALPHA),
        },
        "segments": segments,
    }


def to_markdown(results: list[dict], args, machine: dict) -> str:
    lines = [
        f"# Rolling 99% VaR, segment by segment: bdfm SV-t vs GARCH(1,1)-t ({date.today()})",
        "",
        f"Script: `benchmarks/bench_var_segments.py`; machine: {machine}. Window {args.window}, "
        f"refit every {args.refit}; bdfm nutpie {args.chains} x ({args.tune} + {args.draws}), "
        f"{args.keep} draws x {args.particles} particles per refit; equal-weight portfolio.",
    ]
    for r in results:
        o = r["overall"]
        lines += ["", f"## {r['panel']} ({r['seconds']:.0f} s)", ""]
        for label, sc in o.items():
            lines.append(
                f"- {label}: {100 * sc['rate']:.2f}% violations, Kupiec p {sc['kupiec_p']:.3g}, "
                f"independence p {sc['christoffersen_p']:.3g}, tick loss {sc['tick']:.4f}"
            )
        lines += [
            "",
            "| segment from | tick bdfm | tick GARCH-t | violations bdfm | violations GARCH-t | "
            "median VaR ratio | share of the tick-loss gap |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in r["segments"]:
            share = "" if s["share_of_gap"] is None else f"{100 * s['share_of_gap']:.0f}%"
            lines.append(
                f"| {s['start']} | {s['tick_bdfm']:.4f} | {s['tick_garch']:.4f} | "
                f"{s['violations_bdfm']} | {s['violations_garch']} | "
                f"{s['var_ratio_median']:.2f} | {share} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panels", nargs="+", default=["sp500"])
    ap.add_argument("--refit", type=int, default=125)
    add_sampling_arguments(ap)
    args = ap.parse_args()
    machine = machine_info()
    results = [run_panel(p, args) for p in args.panels]
    stem = f"var_segments_{date.today()}"
    write_results(stem, args, machine, results, to_markdown(results, args, machine))


if __name__ == "__main__":
    main()
