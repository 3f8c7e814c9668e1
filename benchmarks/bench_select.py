"""Benchmark: ``select_factors`` for k = 1..4 on the bundled returns panel, sequential vs
``fit_many`` on a 2-worker Dask ``LocalCluster``, in one run.

Both runs fit the same four specifications with the same seeds (so the same draws) and
compare them by PSIS-LOO; the parallel run sends each fit to a cluster worker through
``Client.get_executor()``. The panel is the bundled ``sp500_returns`` (20 stocks) from
``--start`` (default 2019-01-01, about 1,000 days), AR(1) errors, nutpie,
4 chains x (``--tune`` + ``--draws``) (default 500 + 500).

Run by hand: ``python benchmarks/bench_select.py [--draws 500 --tune 500]``; writes
``benchmarks/results/select_<date>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_loglike import machine_info  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2019-01-01")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--kmax", type=int, default=4)
    args = parser.parse_args()

    import distributed

    import bdfm

    data = bdfm.datasets.load("sp500_returns").loc[args.start :]
    ks = range(1, args.kmax + 1)
    options = {
        "idiosyncratic": "ar1",
        "draws": args.draws,
        "tune": args.tune,
        "chains": 4,
        "random_seed": 7,
        "progress": False,
    }
    runs = {}
    t0 = time.perf_counter()
    serial = bdfm.select_factors(data, ks, executor="serial", **options)
    runs["sequential (executor='serial')"] = time.perf_counter() - t0
    print("sequential", runs, flush=True)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        t0 = time.perf_counter()
        par = bdfm.select_factors(data, ks, executor=client.get_executor(), **options)
        runs["fit_many on a 2-worker LocalCluster"] = time.perf_counter() - t0
    print("cluster", runs, flush=True)
    elpd_gap = np.abs(serial.table["elpd"] - par.table.loc[serial.table.index, "elpd"]).max()
    same = bool(elpd_gap <= 1e-9 * np.abs(serial.table["elpd"]).max())
    seq, clu = runs.values()
    per_fit = {n: round(s, 1) for n, s in serial.fits.seconds.items()}
    result = {
        "date": str(date.today()),
        "machine": machine_info(),
        "panel": f"sp500_returns from {args.start}: N={data.shape[1]}, T={data.shape[0]}",
        "fits": f"k={list(ks)}, AR(1), nutpie, 4 chains x ({args.tune} + {args.draws})",
        "wall_s": runs,
        "ratio_sequential_over_cluster": seq / clu,
        "same_results": bool(same),
        "max_elpd_gap": float(elpd_gap),
        "chosen_k": serial.n_factors,
        "reason": serial.reason,
        "sequential_seconds_per_fit": per_fit,
        "table": serial.table.drop(columns="warning").round(2).to_dict(),
    }
    out = HERE / "results" / f"select_{date.today()}"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str))
    lines = [
        "# select_factors: sequential vs a 2-worker Dask LocalCluster",
        "",
        f"{result['date']}; {result['machine']}",
        f"Panel: {result['panel']}; fits: {result['fits']}.",
        "",
        "| run | wall (s) |",
        "|---|---|",
        *[f"| {k} | {v:.1f} |" for k, v in runs.items()],
        "",
        f"Ratio sequential / cluster: **{seq / clu:.2f}x**. Same elpd in both runs: {same} "
        f"(largest difference {elpd_gap:.3g}).",
        f"Seconds per fit (sequential): {per_fit}.",
        "",
        f"Chosen: k={serial.n_factors}. {serial.reason}",
        "",
        "```",
        serial.table.drop(columns="warning").round(2).to_string(),
        "```",
        "",
        "Cluster run:",
        "",
        "```",
        par.table.drop(columns="warning").round(2).to_string(),
        "```",
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
