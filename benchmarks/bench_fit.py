"""Benchmark: a whole Bayesian fit, bdfm vs pymc-extras ``BayesianDynamicFactor``.

Same simulated panel (factor VAR(1), AR(1) errors, ragged starts/ends; the data
generator of ``bench_loglike.py``), in one run:

* **bdfm**: ``DynamicFactorModel(...).fit(draws=1000, tune=1000, chains=4)`` with its
  defaults (nutpie, MLE start, lower-triangular identification, shrinkage loadings).
  Wall time of the whole call (MLE, compile, sampling, factor draws, log-likelihood).
* **pymc-extras**: ``BayesianDynamicFactor`` (its docstring's priors: Normal loadings
  and AR coefficients, HalfNormal sds), nutpie, 4 chains, in a subprocess with a
  wall-clock cap; sampling runs in nutpie's background mode and whatever was drawn
  by the cap is kept (``pause()`` + ``inspect()``). The cap and the draws obtained are reported.

Metric: min bulk ESS over the loadings, factor AR, idiosyncratic sd and AR
coefficients, divided by the wall time (ESS per second), and the worst R-hat.

Run by hand: ``python benchmarks/bench_fit.py [--pmx-cap 1200] [--big]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_loglike import machine_info, simulate  # noqa: E402

KEYS_BDFM = ["loadings", "factor_ar", "idio_sd", "idio_ar"]
KEYS_PMX = ["factor_loadings", "factor_ar", "error_ar", "error_sigma"]


def _ess_rhat(idata, names):
    import arviz as az

    from bdfm.diagnostics import varying_entries

    post = idata.posterior
    names = [n for n in names if n in post]
    keep = {n: varying_entries(post[n]) for n in names}  # not the structural zeros
    with np.errstate(invalid="ignore", divide="ignore"):
        ess = az.ess(post[names], method="bulk")
        out = {"min_ess_bulk": float(min(np.nanmin(ess[n].values[keep[n]]) for n in names))}
        if post.sizes["chain"] > 1:
            rhat = az.rhat(post[names])
            out["max_rhat"] = float(max(np.nanmax(rhat[n].values[keep[n]]) for n in names))
    return out


def run_bdfm(N, T, k, draws, tune, chains):
    import pandas as pd

    import bdfm

    Y, _ = simulate(N, T, k)
    data = pd.DataFrame(Y, index=pd.bdate_range("2000-01-03", periods=T))
    data.columns = [f"y{i}" for i in range(N)]
    t0 = time.perf_counter()
    model = bdfm.DynamicFactorModel(data, n_factors=k, idiosyncratic="ar1")
    fit = model.fit(draws=draws, tune=tune, chains=chains, random_seed=1, progressbar=False)
    wall = time.perf_counter() - t0
    res = {"wall_s": wall, "draws": draws, "tune": tune, "chains": chains}
    res.update({k_: v for k_, v in fit.timings.items() if k_.endswith("_s")})
    res.update(_ess_rhat(fit.idata, KEYS_BDFM))
    res["divergences"] = fit.diagnostics().divergences
    res["ess_per_s"] = res["min_ess_bulk"] / wall
    return res


def pmx_worker(N, T, k, cap, draws, tune, chains):
    """Subprocess: pymc-extras fit with a wall-clock cap; prints one JSON line."""
    import nutpie
    import pymc as pm
    from pymc_extras.statespace.models import BayesianDynamicFactor

    Y, _ = simulate(N, T, k)
    t_start = time.perf_counter()
    ss = BayesianDynamicFactor(
        k_factors=k,
        factor_order=1,
        endog_names=[f"y{i}" for i in range(N)],
        error_order=1,
        error_var=False,
        error_cov_type="diagonal",
        measurement_error=False,
        verbose=False,
    )
    with pm.Model(coords=ss.coords) as model:  # priors as in the class docstring
        pm.Normal("x0", dims=["state"])
        pm.HalfNormal("P0", dims=["state", "state_aux"])
        pm.Normal("factor_loadings", sigma=1, dims=["observed_state", "factor"])
        pm.Normal("factor_ar", sigma=1, dims=["factor", "lag_ar"])
        pm.Normal("error_ar", sigma=1, dims=["observed_state", "error_lag_ar"])
        pm.HalfNormal("error_sigma", dims=["observed_state"])
        ss.build_statespace_graph(data=Y)
    # store only the parameters: pymc-extras' deterministics include (T, m, m) filter
    # covariances, which filled 24 GB of memory within minutes (OOM-killed) when stored
    compiled = nutpie.compile_pymc_model(model, var_names=KEYS_PMX)
    compile_s = time.perf_counter() - t_start
    print(json.dumps({"compile_s": compile_s}), flush=True)
    sampler = nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=1,
        progress_bar=False,
        blocking=False,
        save_warmup=False,
    )
    finished = False
    while time.perf_counter() - t_start < cap:
        try:
            finished = bool(sampler.is_finished())
        except TimeoutError:
            finished = False
        if finished:
            break
        time.sleep(5.0)
    if finished:
        idata = sampler.wait()
    else:  # keep what was drawn by the cap
        sampler.pause()
        idata = sampler.inspect()
        sampler.cancel()
    wall = time.perf_counter() - t_start
    got = int(idata.posterior.sizes.get("draw", 0)) if "posterior" in idata else 0
    res = {"compile_s": compile_s, "wall_s": wall, "finished": finished, "draws_per_chain": got}
    if got >= 4:
        res.update(_ess_rhat(idata, KEYS_PMX))
        res["ess_per_s"] = res["min_ess_bulk"] / wall
    print(json.dumps(res), flush=True)


def run_pmx(N, T, k, cap, draws, tune, chains):
    cmd = [sys.executable, __file__, "--pmx-worker", *map(str, (N, T, k, cap, draws, tune, chains))]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=cap + 300)
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {cap + 300:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": p.stderr[-800:]}
    return json.loads(lines[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pmx-cap", type=float, default=1800.0, help="pymc-extras wall cap (s)")
    ap.add_argument("--pmx-tune", type=int, default=50)
    ap.add_argument("--no-pmx", action="store_true")
    ap.add_argument("--no-bdfm", action="store_true", help="pymc-extras only (run it alone)")
    ap.add_argument("--big", action="store_true", help="also (200, 1000, 5), bdfm only")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--pmx-worker", nargs=7, type=float, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pmx_worker:
        N, T, k, cap, draws, tune, chains = args.pmx_worker
        return pmx_worker(int(N), int(T), int(k), cap, int(draws), int(tune), int(chains))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t_all = time.perf_counter()
    rows = []
    size = (50, 500, 3)
    if not args.no_bdfm:
        print(f"bdfm fit at {size} ...", flush=True)
        rows.append({"size": size, "who": "bdfm", **run_bdfm(*size, 1000, 1000, 4)})
        print(rows[-1], flush=True)
    if not args.no_pmx:
        print(f"pymc-extras fit at {size}, cap {args.pmx_cap:.0f} s ...", flush=True)
        res = run_pmx(*size, args.pmx_cap, 1000, args.pmx_tune, 4)
        rows.append({"size": size, "who": "pymc-extras", "cap_s": args.pmx_cap, **res})
        print(rows[-1], flush=True)
    if args.big:
        size = (200, 1000, 5)
        print(f"bdfm fit at {size} ...", flush=True)
        rows.append({"size": size, "who": "bdfm", **run_bdfm(*size, 1000, 1000, 4)})
        print(rows[-1], flush=True)
    info = machine_info()
    report = build_report(info, rows, time.perf_counter() - t_all)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "_pmx" if args.no_bdfm else ""
    stem = out / f"fit_{date.today().isoformat()}{tag}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    print(report)
    print(f"wrote {stem}.md and .json")


def _f(x, nd=1):
    return "—" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def build_report(info, rows, wall):
    lines = [
        f"# Bayesian fit benchmark ({date.today().isoformat()})",
        "",
        f"Machine: {info}",
        "",
        "| (N, T, k) | who | wall s | compile s | sampling s | draws/chain | min bulk ESS "
        "| ESS/s | max R-hat |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        draws = r.get("draws", r.get("draws_per_chain"))
        lines.append(
            f"| {r['size']} | {r['who']} | {_f(r.get('wall_s'))} | {_f(r.get('compile_s'))} "
            f"| {_f(r.get('sample_s'))} | {draws} | {_f(r.get('min_ess_bulk'), 0)} "
            f"| {_f(r.get('ess_per_s'), 2)} | {_f(r.get('max_rhat'), 3)} |"
        )
    b = next((r for r in rows if r["who"] == "bdfm"), None)
    p = next((r for r in rows if r["who"] == "pymc-extras"), None)
    lines.append("")
    if b and p and p.get("ess_per_s"):
        lines.append(f"ESS/s ratio bdfm / pymc-extras: {b['ess_per_s'] / p['ess_per_s']:.0f}x")
    elif p:
        lines.append(f"pymc-extras: {p}")
    lines.append(f"\nTotal benchmark wall time {wall / 60:.1f} min.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
