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
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_loglike import machine_info, pmx_model, simulate  # noqa: E402

KEYS_BDFM = ["loadings", "factor_ar", "idio_sd", "idio_ar"]
KEYS_PMX = ["factor_loadings", "factor_ar", "error_ar", "error_sigma"]


def _ess_rhat(idata, names):
    import arviz as az

    from bdfm.inference.diagnostics import varying_entries

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


def _frame(N, T, k):
    import pandas as pd

    Y, _ = simulate(N, T, k)
    data = pd.DataFrame(Y, index=pd.bdate_range("2000-01-03", periods=T))
    data.columns = [f"y{i}" for i in range(N)]
    return data


def logp_grad_ms(N, T, k):
    """Median ms of the whole PyMC model's log-density + gradient (priors included)."""
    import pytensor

    import bdfm
    from bdfm.statespace.warmup import compile_with_warmup

    model = bdfm.DynamicFactorModel(_frame(N, T, k), n_factors=k, idiosyncratic="ar1")
    pm_model = model.build_model()
    vv = pm_model.value_vars
    logp = pm_model.logp()
    outs = [logp, *pytensor.grad(logp, vv)]
    point = pm_model.initial_point()
    args = [point[v.name] for v in vv]
    res = {}
    for mode in ("C", "NUMBA"):
        f = compile_with_warmup(vv, outs, "ar1", mode=None if mode == "C" else mode)
        f(*args)
        times = []
        for _ in range(300):
            t0 = time.perf_counter()
            f(*args)
            times.append(time.perf_counter() - t0)
        res[f"logp_grad_ms_{mode}"] = 1e3 * float(np.median(times))
    return res


def run_bdfm(N, T, k, draws, tune, chains):
    import bdfm

    data = _frame(N, T, k)
    t0 = time.perf_counter()
    model = bdfm.DynamicFactorModel(data, n_factors=k, idiosyncratic="ar1")
    fit = model.fit(draws=draws, tune=tune, chains=chains, random_seed=1, progressbar=False)
    wall = time.perf_counter() - t0
    res = {"wall_s": wall, "draws": draws, "tune": tune, "chains": chains}
    res.update({k_: v for k_, v in fit.timings.items() if k_.endswith("_s")})
    res.update(_ess_rhat(fit.idata, KEYS_BDFM))
    res["divergences"] = fit.diagnostics().divergences
    res["mean_tree_steps"] = float(fit.idata.sample_stats["n_steps"].mean())
    res["ms_per_grad_per_chain"] = (
        1e3
        * res["sample_s"]
        / (float(fit.idata.sample_stats["n_steps"].sum()) / chains * (draws + tune) / draws)
    )
    res["ess_per_s"] = res["min_ess_bulk"] / wall
    return res


def pmx_pymc_worker(N, T, k, draws, tune, chains):
    """Subprocess: pymc-extras with PyMC's NUTS (C backend), a fixed small number of draws.

    PyMC's default jittered start gives pymc-extras a NaN log-likelihood (its elementwise
    HalfNormal P0 is not a covariance), so every chain starts, without jitter, at the
    true parameters with P0 = the stationary covariance: generous to pymc-extras.
    """
    import pymc as pm
    from bench_loglike import stationary_full_cov

    Y, params = simulate(N, T, k)
    t_start = time.perf_counter()
    model, _ = pmx_model(Y, k)
    P0 = stationary_full_cov(params)
    initvals = {
        "x0": np.zeros(k + N),
        "P0": np.where(P0 > 0, P0, 1e-12),
        "factor_loadings": params["loadings"],
        "factor_ar": params["factor_ar"][0],
        "error_ar": params["idio_ar"][:, None],
        "error_sigma": params["idio_sd"] ** 2,
    }
    with model:
        idata = pm.sample(
            initvals=initvals,
            init="adapt_diag",
            draws=draws,
            tune=tune,
            chains=chains,
            cores=min(chains, 2),
            random_seed=1,
            progressbar=False,
            compute_convergence_checks=False,
            var_names=KEYS_PMX,
        )
    wall = time.perf_counter() - t_start
    res = {"sampler": "pymc", "wall_s": wall, "finished": True, "draws_per_chain": draws}
    res.update({"chains": chains, "tune": tune, **_ess_rhat(idata, KEYS_PMX)})
    res["ess_per_s"] = res["min_ess_bulk"] / wall
    print(json.dumps(res), flush=True)


def pmx_worker(N, T, k, cap, draws, tune, chains):
    """Subprocess: pymc-extras fit with a wall-clock cap; prints one JSON line."""
    import nutpie

    if cap < 0:  # PyMC's sampler instead of nutpie (nutpie ran out of memory here)
        return pmx_pymc_worker(N, T, k, draws, tune, chains)
    Y, _ = simulate(N, T, k)
    t_start = time.perf_counter()
    model, _ = pmx_model(Y, k)
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
    import resource

    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    res = {
        "compile_s": compile_s,
        "wall_s": wall,
        "finished": finished,
        "draws_per_chain": got,
        "chains": chains,
        "tune": tune,
        "peak_rss_gb": peak_gb,
    }
    if got >= 4:
        res.update(_ess_rhat(idata, KEYS_PMX))
        res["ess_per_s"] = res["min_ess_bulk"] / wall
    print(json.dumps(res), flush=True)


def run_pmx(N, T, k, cap, draws, tune, chains, timeout=None):
    cmd = [sys.executable, __file__, "--pmx-worker", *map(str, (N, T, k, cap, draws, tune, chains))]
    timeout = timeout or cap + 300
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    res = json.loads(lines[-1]) if lines else {}
    if "wall_s" not in res:  # died after compiling (e.g. killed for memory)
        res["error"] = f"exit code {p.returncode}: {p.stderr[-500:]}"
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pmx-cap", type=float, default=1800.0, help="pymc-extras wall cap (s)")
    ap.add_argument("--pmx-tune", type=int, default=50)
    ap.add_argument(
        "--pmx-chains", type=int, default=4, help="4 chains were OOM-killed (24 GB) here"
    )
    ap.add_argument(
        "--pmx-pymc-draws",
        type=int,
        default=0,
        help="also run pymc-extras with PyMC's NUTS: this many draws (and tune) per chain",
    )
    ap.add_argument("--no-pmx", action="store_true")
    ap.add_argument("--no-bdfm", action="store_true", help="pymc-extras only (run it alone)")
    ap.add_argument("--big", action="store_true", help="also (200, 1000, 5), bdfm only")
    ap.add_argument(
        "--big-only", action="store_true", help="only (200, 1000, 5), bdfm (implies --no-pmx)"
    )
    ap.add_argument("--only", nargs=3, type=int, metavar=("N", "T", "K"), help="one bdfm fit")
    ap.add_argument("--chains", type=int, default=4, help="with --only")
    ap.add_argument("--draws", type=int, default=1000, help="with --only (also tune)")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    ap.add_argument("--pmx-worker", nargs=7, type=float, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pmx_worker:
        N, T, k, cap, draws, tune, chains = args.pmx_worker
        return pmx_worker(int(N), int(T), int(k), cap, int(draws), int(tune), int(chains))
    t_all = time.perf_counter()
    rows = []
    size = (50, 500, 3)
    if args.big_only or args.only:
        args.big, args.no_bdfm, args.no_pmx = not args.only, True, True
    if not args.no_bdfm:
        for sz in (size, (100, 500, 3)):
            print(f"bdfm fit at {sz} ...", flush=True)
            rows.append(
                {"size": sz, "who": "bdfm", **run_bdfm(*sz, 1000, 1000, 4), **logp_grad_ms(*sz)}
            )
            print(rows[-1], flush=True)
    if not args.no_pmx and args.pmx_chains > 0:
        print(f"pymc-extras fit at {size}, cap {args.pmx_cap:.0f} s ...", flush=True)
        res = run_pmx(*size, args.pmx_cap, 1000, args.pmx_tune, args.pmx_chains)
        rows.append({"size": size, "who": "pymc-extras", "cap_s": args.pmx_cap, **res})
        print(rows[-1], flush=True)
    if args.pmx_pymc_draws:
        d = args.pmx_pymc_draws
        print(f"pymc-extras with PyMC NUTS at {size}, {d} tune + {d} draws x 2 chains", flush=True)
        res = run_pmx(*size, -1, d, d, 2, timeout=args.pmx_cap + 600)
        rows.append({"size": size, "who": "pymc-extras (PyMC NUTS)", **res})
        print(rows[-1], flush=True)
    if args.big:
        size = (200, 1000, 5)
        print(f"bdfm fit at {size} ...", flush=True)
        rows.append({"size": size, "who": "bdfm", **run_bdfm(*size, 1000, 1000, 4)})
        print(rows[-1], flush=True)
    if args.only:
        size = tuple(args.only)
        print(f"bdfm fit at {size} ...", flush=True)
        res = run_bdfm(*size, args.draws, args.draws, args.chains)
        rows.append({"size": size, "who": "bdfm", **res})
        print(rows[-1], flush=True)
    info = machine_info()
    report = build_report(info, rows, time.perf_counter() - t_all)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "_big" if args.big_only else ("_pmx" if args.no_bdfm else "")
    if args.only:
        tag = "_" + "x".join(map(str, args.only))
    stem = out / f"fit_{date.today().isoformat()}{tag}{args.tag}"
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
        "| ESS/s | max R-hat | logp+grad ms (C / NUMBA) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        draws = r.get("draws", r.get("draws_per_chain"))
        lines.append(
            f"| {r['size']} | {r['who']} | {_f(r.get('wall_s'))} | {_f(r.get('compile_s'))} "
            f"| {_f(r.get('sample_s'))} | {draws} | {_f(r.get('min_ess_bulk'), 0)} "
            f"| {_f(r.get('ess_per_s'), 2)} | {_f(r.get('max_rhat'), 3)} "
            f"| {_f(r.get('logp_grad_ms_C'), 2)} / {_f(r.get('logp_grad_ms_NUMBA'), 2)} |"
        )
    b = next((r for r in rows if r["who"] == "bdfm"), None)
    p = next((r for r in rows if r["who"].startswith("pymc-extras") and r.get("ess_per_s")), None)
    p = p or next((r for r in rows if r["who"].startswith("pymc-extras")), None)
    lines.append("")
    if b and p and p.get("ess_per_s"):
        lines.append(f"ESS/s ratio bdfm / pymc-extras: {b['ess_per_s'] / p['ess_per_s']:.0f}x")
    elif p:
        lines.append(f"pymc-extras: {p}")
    for r in rows:
        if "mean_tree_steps" in r:
            lines.append(
                f"\n{r['size']}: {r['mean_tree_steps']:.1f} gradient evaluations per draw "
                f"(after warm-up), about {r['ms_per_grad_per_chain']:.1f} ms per gradient per "
                "chain inside the sampler (warm-up counted at the same steps per draw); "
                f"divergences {r['divergences']}."
            )
    lines.append(f"\nTotal benchmark wall time {wall / 60:.1f} min.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
