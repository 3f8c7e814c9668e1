"""Benchmark: rolling 1-day VaR backtests on real returns, bdfm against GARCH(1,1)-t, in one run.

Two panels of daily log returns (percent):

- ``sp500``: the bundled ``sp500_returns`` (20 stocks), 2014-01-01 .. 2022-12-31;
- ``crypto``: ``../shared/data/crypto/crypto_daily_close.csv`` (never copied here), the
  coins with at least 1,500 returns since 2019-01-01, on their common dates.

For each panel, rolling window ``--window`` (750) dates, refit every ``--refit`` (125):

- ``bdfm constant``: the constant-volatility Gaussian factor model (k=2, iid errors);
- ``bdfm sv-t``: factor stochastic volatility + a common idiosyncratic SV path +
  Student-t shocks (k=2, iid errors), the one-step predictives by the particle filter;
- ``bdfm garch-t``: the same with ``factor_volatility="garch"`` (each factor's variance a
  GJR-GARCH(1,1) of its GLS shock estimates, fitted jointly);
- ``bdfm garch/garch-t``: factor GARCH + ``idio_volatility="garch"`` (a GJR-GARCH(1,1) per
  series on its GLS residuals) + Student-t shocks;

both ``method="bayes"`` (nutpie, ``--chains`` x (``--tune`` + ``--draws``), ``--max-draws``
kept per refit), and a univariate GARCH(1,1) with Student-t innovations and a constant
mean (``arch``, a benchmark-only dependency) refitted on the same windows and dates,
filtering forward with fixed parameters between refits exactly as bdfm does. Scored on
the equal-weight portfolio and on every single asset, at 99% and 97.5%: violation rate,
Kupiec and Christoffersen-independence p-values, mean tick (quantile) loss; and the
rolling-origin one-step log predictive density (LFO elpd) of the whole panel, each
volatility model minus the constant one, with its paired standard error. ``--specs``
picks the bdfm models (the constant one always runs: it is the LFO baseline).

Run by hand: ``python benchmarks/bench_var_backtest.py [--panels sp500 crypto]``; writes
``benchmarks/results/var_backtest_<date>.md`` and ``.json``. No thread variables are set:
the user's default environment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CRYPTO = REPO.parent / "shared" / "data" / "crypto" / "crypto_daily_close.csv"
LEVELS = (0.99, 0.975)
SPECS = {
    "bdfm constant": {"n_factors": 2},
    "bdfm sv-t": {
        "n_factors": 2,
        "factor_volatility": "sv",
        "idio_volatility": "common_sv",
        "tails": "student_t",
    },
    "bdfm garch-t": {
        "n_factors": 2,
        "factor_volatility": "garch",
        "idio_volatility": "common_sv",
        "tails": "student_t",
    },
    "bdfm garch/garch-t": {
        "n_factors": 2,
        "factor_volatility": "garch",
        "idio_volatility": "garch",
        "tails": "student_t",
    },
}
BASE = "bdfm constant"


def machine_info() -> dict:
    """Versions and the thread variables as found (this script sets none)."""
    import arch
    import pymc
    import pytensor

    import bdfm

    threads = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "bdfm": bdfm.__version__,
        "pymc": pymc.__version__,
        "pytensor": pytensor.__version__,
        "arch": arch.__version__,
        "thread_variables": {v: os.environ.get(v, "unset") for v in threads},
    }


def add_sampling_arguments(ap: argparse.ArgumentParser) -> None:
    """The cheap-sampling options shared by the diagnostic VaR scripts."""
    ap.add_argument("--window", type=int, default=750)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--keep", type=int, default=40, help="posterior draws kept per fit")
    ap.add_argument("--particles", type=int, default=200)


def write_results(stem: str, args, machine: dict, results: list, markdown: str) -> None:
    """Write ``results/<stem>.json`` and ``.md`` beside this script and print the markdown."""
    out = HERE / "results"
    (out / f"{stem}.json").write_text(
        json.dumps({"args": vars(args), "machine": machine, "results": results}, indent=1)
    )
    (out / f"{stem}.md").write_text(markdown)
    print(markdown)


def load_panel(name: str) -> pd.DataFrame:
    import bdfm

    if name == "sp500":
        return bdfm.datasets.load("sp500_returns").loc["2014-01-01":"2022-12-31"]
    prices = pd.read_csv(CRYPTO, index_col=0, parse_dates=True).sort_index()
    returns = bdfm.datasets.log_returns(prices).loc["2019-01-01":]
    keep = returns.columns[returns.count() >= 1500]
    return returns[keep].dropna()


def tick_loss(ret: np.ndarray, var: np.ndarray, alpha: float) -> float:
    q = -var
    return float(np.mean(((ret < q) - (1 - alpha)) * (q - ret)))


def scores(ret: np.ndarray, var: np.ndarray, alpha: float) -> dict:
    from bdfm.posterior.backtest import christoffersen

    ok = np.isfinite(ret)
    viol = ret[ok] < -var[ok]
    tests = christoffersen(viol, alpha)
    return {
        "rate": float(viol.mean()),
        "kupiec_p": tests["unconditional"].p_value,
        "christoffersen_p": tests["independence"].p_value,
        "tick": tick_loss(ret[ok], var[ok], alpha),
    }


def garch_t_var(series: pd.Series, window: int, refit: int) -> dict[float, np.ndarray]:
    """Rolling GARCH(1,1)-t VaR (positive losses) for ``series.index[window:]``."""
    from arch import arch_model
    from scipy.stats import t as student_t

    x = series.to_numpy()
    T = len(x)
    out = {a: np.empty(T - window) for a in LEVELS}
    for s in range(window, T, refit):
        hi = min(s + refit, T)
        seg = x[s - window : hi]
        am = arch_model(seg, mean="Constant", vol="GARCH", p=1, q=1, dist="t")
        res = am.fit(last_obs=window, disp="off", options={"maxiter": 500})
        fc = res.forecast(start=window - 1, horizon=1, reindex=False)
        sd = np.sqrt(fc.variance.to_numpy()[: hi - s, 0])
        mu, nu = res.params["mu"], res.params["nu"]
        for a in LEVELS:
            z = student_t.ppf(1 - a, nu) * np.sqrt((nu - 2) / nu)
            out[a][s - window : hi - window] = -(mu + sd * z)
    return out


def run_panel(name: str, args) -> dict:
    import bdfm

    data = load_panel(name)
    N = data.shape[1]
    print(f"{name}: {N} series, {len(data)} dates {data.index[0].date()}..{data.index[-1].date()}")
    weights = pd.DataFrame(np.eye(N), index=list(data.columns), columns=data.columns)
    weights.loc["equal weight"] = 1.0 / N
    weights = weights.loc[["equal weight", *data.columns]]
    realised = data.iloc[args.window :]
    port = data @ weights.loc["equal weight"]
    rows, timings, runs = [], {}, {}

    t0 = time.perf_counter()
    garch = {"equal weight": garch_t_var(port, args.window, args.refit)}
    for c in data.columns:
        garch[c] = garch_t_var(data[c], args.window, args.refit)
    timings["GARCH(1,1)-t (arch)"] = time.perf_counter() - t0

    specs = {label: SPECS[label] for label in SPECS if label == BASE or label in args.specs}
    for label, spec in specs.items():
        t0 = time.perf_counter()
        runs[label] = bdfm.backtest_var(
            data,
            spec,
            window=args.window,
            alpha=LEVELS,
            refit_every=args.refit,
            weights=weights,
            method="bayes",
            executor="serial",
            max_draws=args.max_draws,
            n_particles=args.particles,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            random_seed=11,
            progress=False,
        )
        timings[label] = time.perf_counter() - t0
        print(f"  {label}: {timings[label]:.0f} s", flush=True)

    for a in LEVELS:
        for model in ("GARCH(1,1)-t (arch)", *specs):
            per_asset = []
            for pname in weights.index:
                if model.startswith("GARCH"):
                    ret = realised.to_numpy() @ weights.loc[pname].to_numpy()
                    sc = scores(ret, garch[pname][a], a)
                else:
                    res = runs[model][(pname, a)]
                    sc = scores(res.frame["return"].to_numpy(), res.frame["var"].to_numpy(), a)
                if pname == "equal weight":
                    rows.append({"panel": name, "alpha": a, "model": model, **sc})
                else:
                    per_asset.append(sc["tick"])
            rows[-1]["median_asset_tick"] = float(np.median(per_asset))
    any_key = ("equal weight", LEVELS[0])
    lfo = {"elpd": {label: list(runs[label][any_key].elpd()) for label in specs}}
    for label in specs:
        if label == BASE:
            continue
        run = runs[label][any_key]
        diff, se = run.elpd_difference(runs[BASE][any_key])
        mc = float(np.sqrt(np.sum(run.frame["log_score_mc_se"] ** 2)))
        lfo[label] = {"minus_constant": diff, "se": se, "ratio": diff / se, "particle_mc_se": mc}
    return {
        "panel": name,
        "series": list(data.columns),
        "dates": [str(data.index[0].date()), str(data.index[-1].date()), len(data)],
        "out_of_sample_dates": len(realised),
        "rows": rows,
        "lfo": lfo,
        "seconds": timings,
    }


def markdown(results: list[dict], args, info: dict) -> str:
    lines = [
        f"# VaR backtests on real returns ({date.today()})",
        "",
        f"Script: `benchmarks/bench_var_backtest.py`; machine: {info}. Rolling window "
        f"{args.window}, refit every {args.refit}; bdfm `method='bayes'`, nutpie "
        f"{args.chains} x ({args.tune} + {args.draws}), {args.max_draws} draws kept per refit, "
        f"{args.particles} particles per draw; GARCH(1,1)-t from `arch`, same windows and refits.",
        "",
    ]
    for r in results:
        lines += [
            f"## {r['panel']}: {len(r['series'])} series, {r['dates'][0]} .. {r['dates'][1]} "
            f"({r['dates'][2]} dates, {r['out_of_sample_dates']} out of sample)",
            "",
            "Equal-weight portfolio; the last column is the median over the single assets.",
            "",
            "| level | model | violations | Kupiec p | Christoffersen ind. p | tick loss | "
            "median asset tick loss |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in r["rows"]:
            lines.append(
                f"| {row['alpha']} | {row['model']} | {100 * row['rate']:.2f}% | "
                f"{row['kupiec_p']:.3g} | {row['christoffersen_p']:.3g} | {row['tick']:.4f} | "
                f"{row['median_asset_tick']:.4f} |"
            )
        lines.append("")
        for label, d in r["lfo"].items():
            if label == "elpd":
                continue
            lines.append(
                f"Rolling-origin one-step LFO elpd of the whole panel, {label} minus constant: "
                f"{d['minus_constant']:.1f} (paired SE {d['se']:.1f}, {d['ratio']:.1f} SE; "
                f"particle Monte Carlo SE of its elpd {d['particle_mc_se']:.2f})."
            )
        lines += [
            "",
            "Seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in r["seconds"].items()) + ".",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--panels", nargs="+", default=["sp500", "crypto"])
    parser.add_argument("--window", type=int, default=750)
    parser.add_argument("--refit", type=int, default=125)
    parser.add_argument("--draws", type=int, default=250)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--max-draws", type=int, default=100)
    parser.add_argument("--particles", type=int, default=100)
    parser.add_argument("--tag", default="")
    parser.add_argument(
        "--specs", nargs="+", default=[k for k in SPECS if k != BASE], choices=list(SPECS)
    )
    args = parser.parse_args()
    results = []
    info = machine_info()
    out = HERE / "results" / f"var_backtest_{date.today()}{args.tag}"
    for name in args.panels:
        results.append(run_panel(name, args))
        print(json.dumps(results[-1]["rows"], indent=1), flush=True)
        print(json.dumps(results[-1]["lfo"]), flush=True)
        # rewritten after every panel: a run stopped later keeps the panels it finished
        out.with_suffix(".json").write_text(
            json.dumps({"args": vars(args), "machine": info, "results": results}, indent=1)
        )
        out.with_suffix(".md").write_text(markdown(results, args, info))
        print(f"wrote {out}.md and .json ({len(results)} of {len(args.panels)} panels)")


if __name__ == "__main__":
    main()
