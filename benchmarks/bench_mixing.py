"""Mixing at scale: the loadings' parameterisation (``gauge``) and nutpie's mass-matrix switch.

The (200, 1000, 5) AR(1) model (simulated panel of ``bench_loglike.py``) mixed
badly with nutpie's defaults: the slow directions are the gauge directions of the
factor model (the rotations left by the anchors' zeros and the factor scales), each
moving all N loadings together. nutpie estimates a low-rank mass-matrix correction
from the draws since its last switch; with its default ``mass_matrix_switch_freq``
of 80 draws the estimate misses them. This script fits the same model with several
switch frequencies (everything else bdfm's defaults) and reports, per setting, the
min bulk ESS over the loadings, factor AR, idiosyncratic sd and AR, the min over
each group, R-hat, divergences, tree steps and sampling time.

``--gauges direct split`` compares sampling the loadings directly with the gauge-split
coordinates (:mod:`bdfm.inference.gauge`, bdfm's default), which give the gauge directions
their own coordinates.

Run by hand: ``python benchmarks/bench_mixing.py [--gauges direct split] [--freqs 80 default] [--tune 1000]
[--draws 400] [--chains 2]``; default environment (no thread variables).
Results go to ``benchmarks/results/mixing_<date>.{md,json}``.
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
sys.path.insert(0, str(HERE.parent))

from bench_fit import KEYS_BDFM, _frame  # noqa: E402
from bench_loglike import machine_info  # noqa: E402


def _group_ess(idata):
    import arviz as az

    from bdfm.inference.diagnostics import varying_entries

    post = idata.posterior
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in KEYS_BDFM:
            keep = varying_entries(post[name])
            ess = az.ess(post[[name]], method="bulk")[name].values[keep]
            rhat = az.rhat(post[[name]])[name].values[keep]
            out[name] = {"min_ess_bulk": float(np.nanmin(ess)), "max_rhat": float(np.nanmax(rhat))}
    return out


def run(size, freq, draws, tune, chains, gauge="split"):
    import bdfm

    model = bdfm.DynamicFactorModel(_frame(*size), n_factors=size[2], idiosyncratic="ar1")
    kwargs = {} if freq == "default" else {"mass_matrix_switch_freq": int(freq)}
    kwargs["gauge"] = gauge
    t0 = time.perf_counter()
    fit = model.fit(
        draws=draws, tune=tune, chains=chains, random_seed=1, progressbar=False, **kwargs
    )
    wall = time.perf_counter() - t0
    groups = _group_ess(fit.idata)
    steps = fit.idata.sample_stats["n_steps"]
    return {
        "switch_freq": freq if freq != "default" else f"default ({max(80, tune // 2)})",
        "gauge": gauge,
        "wall_s": wall,
        "sample_s": fit.timings["sample_s"],
        "min_ess_bulk": min(g["min_ess_bulk"] for g in groups.values()),
        "max_rhat": max(g["max_rhat"] for g in groups.values()),
        "groups": groups,
        "mean_tree_steps": float(steps.mean()),
        "divergences": fit.diagnostics().divergences,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--freqs", nargs="+", default=["default"])
    ap.add_argument("--gauges", nargs="+", default=["direct", "split"])
    ap.add_argument("--size", nargs=3, type=int, default=[200, 1000, 5])
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    args = ap.parse_args(argv)
    size = tuple(args.size)
    rows = []
    for gauge in args.gauges:
        for freq in args.freqs:
            print(f"gauge {gauge}, switch freq {freq} ...", flush=True)
            rows.append(run(size, freq, args.draws, args.tune, args.chains, gauge))
            print(rows[-1], flush=True)
    info = machine_info()
    lines = [
        f"# Mixing at scale: loading parameterisation and nutpie's mass-matrix switch "
        f"frequency ({date.today().isoformat()})",
        "",
        f"Script: `benchmarks/bench_mixing.py`. Model {size} (N, T, k), AR(1) errors, bdfm "
        f"defaults; {args.chains} chains x ({args.tune} tune + {args.draws} draws), seed 1. "
        f"Machine: {info}",
        "",
        "| gauge | switch freq | min bulk ESS | loadings | factor_ar | idio_sd | idio_ar "
        "| max R-hat | steps/draw | divergences | sampling s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = r["groups"]
        lines.append(
            f"| {r['gauge']} | {r['switch_freq']} | {r['min_ess_bulk']:.0f} "
            + " ".join(f"| {g[n]['min_ess_bulk']:.0f}" for n in KEYS_BDFM)
            + f" | {r['max_rhat']:.3f} | {r['mean_tree_steps']:.1f} | {r['divergences']} "
            f"| {r['sample_s']:.0f} |"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"mixing_{date.today().isoformat()}{args.tag}"
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    stem.with_suffix(".json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
