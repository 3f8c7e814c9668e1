"""Benchmark: why the factor-SV VaR reacts too slowly, with parameters fixed on one window.

The rolling backtests (``bench_var_backtest.py``) refit every 125 dates and take ~45 min a
panel. This script isolates the volatility dynamics in a few minutes: every model is
fitted once on the first ``--window`` (750) dates and then filtered forward with fixed
parameters over all later dates (a one-step forecast for t uses y_{1:t-1} only), on the
equal-weight portfolio of the same two panels:

- ``GARCH(1,1)-t`` and ``GJR-GARCH(1,1)-skew-t`` from ``arch`` (a benchmark-only dependency)
  fitted to the portfolio's own returns;
- ``bdfm SV-t``: factor SV + a common idiosyncratic SV path + Student-t shocks (k = 2, iid
  errors), nutpie ``--chains`` x (``--tune`` + ``--draws``), ``--keep`` draws, the one-step
  predictive by the Rao–Blackwellised particle filter (``--particles`` per draw);
- ``bdfm SV-t, vol-of-vol x1.5``: the same draws with every factor log-variance innovation sd
  multiplied by 1.5 (a sensitivity check, not a model);
- ``factor GARCH-t (two-step prototype)``: the same draws, but each factor's variance is an
  observation-driven GARCH(1,1) of the factors' GLS estimates — per draw,
  ``f̂_t = (Λ'Σ⁻¹Λ)⁻¹Λ'Σ⁻¹y_t``, ``η̂_t = f̂_t − A f̂_{t−1}``, a GARCH(1,1)-t fitted by ``arch``
  to ``η̂`` on the window, its variance path less the mean GLS noise of ``η̂``, passed to the
  particle filter as a known path (``particle_loglike(factor_log_var=...)``); Student-t
  scale and common idiosyncratic SV as in the SV-t draws. A prototype of the
  observation-driven alternative, not a fitted model;
- ``bdfm factor GARCH-t (joint fit)``: ``factor_volatility="garch"`` (the GJR-GARCH(1,1)
  of the GLS factor shocks, :mod:`bdfm.statespace.garch`) + common idiosyncratic SV +
  Student-t shocks, fitted jointly by nutpie like the SV-t model and filtered forward the
  same way;
- ``bdfm factor+idio GARCH-t (joint fit)``: the same with ``idio_volatility="garch"`` (a
  GJR-GARCH(1,1) per series on its estimated innovations) instead of the common SV path.

Reported per model and level: violation rate, Kupiec and Christoffersen-independence p,
tick loss; for the bdfm variants the one-step log predictive density of the whole panel
summed over the test dates; and the responsiveness of each forecast: the mean ratio of the
predictive sd on the day after a return beyond 3 GARCH-t sds to the sd on that day.

Run by hand: ``python benchmarks/bench_var_diagnose.py``; writes
``benchmarks/results/var_diagnose_<date>.md`` and ``.json``. No thread variables are set.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import numpy as np
from bench_var_backtest import (
    LEVELS,
    add_sampling_arguments,
    load_panel,
    machine_info,
    scores,
    write_results,
)

HERE = Path(__file__).resolve().parent
SPEC = {
    "n_factors": 2,
    "factor_volatility": "sv",
    "idio_volatility": "common_sv",
    "tails": "student_t",
}
#: the jointly fitted observation-driven models
GARCH_SPECS = {
    "bdfm factor GARCH-t (joint fit)": SPEC | {"factor_volatility": "garch"},
    "bdfm factor+idio GARCH-t (joint fit)": SPEC
    | {"factor_volatility": "garch", "idio_volatility": "garch"},
}


def arch_forecasts(port: np.ndarray, window: int) -> dict[str, dict]:
    """Fixed-parameter one-step VaR (positive losses) and sd of two univariate anchors."""
    from arch import arch_model

    out = {}
    for label, o, dist in (("GARCH(1,1)-t", 0, "t"), ("GJR-GARCH(1,1)-skew-t", 1, "skewt")):
        am = arch_model(port, mean="Constant", vol="GARCH", p=1, o=o, q=1, dist=dist)
        res = am.fit(last_obs=window, disp="off")
        fc = res.forecast(start=window - 1, horizon=1, reindex=False)
        sd = np.sqrt(fc.variance.to_numpy()[:-1, 0])
        shape = res.params[am.distribution.parameter_names()].to_numpy()
        var = {a: -(res.params["mu"] + sd * am.distribution.ppf(1 - a, shape)) for a in LEVELS}
        out[label] = {"var": var, "sd": sd, "params": res.params.round(4).to_dict()}
    return out


def garch_paths(y0, mask, draws, window):
    """Per draw, the two-step factor GARCH-t log-variance path (T, k) and its parameters."""
    from arch import arch_model

    paths, params = [], []
    for d in range(draws["loadings"].shape[0]):
        lam, ar, s2 = draws["loadings"][d], draws["factor_ar"][d], draws["idio_sd"][d] ** 2
        C = np.einsum("tn,nk,nl->tkl", mask / s2, lam, lam)
        fhat = np.linalg.solve(C, np.einsum("tn,nk->tk", y0 / s2, lam)[..., None])[..., 0]
        eta = fhat.copy()
        for lag in range(ar.shape[0]):
            eta[lag + 1 :] -= fhat[: -lag - 1] @ ar[lag].T
        noise = 2.0 * np.mean(np.linalg.inv(C[:window]), axis=0).diagonal()
        H = np.empty_like(eta)
        for j in range(eta.shape[1]):
            am = arch_model(eta[:, j], mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)
            r = am.fit(last_obs=window, disp="off")
            om, al, be = (float(r.params[n]) for n in ("omega", "alpha[1]", "beta[1]"))
            h = np.empty(len(eta))
            h[0] = om / max(1.0 - al - be, 1e-6)
            for t in range(1, len(eta)):
                h[t] = om + al * eta[t - 1, j] ** 2 + be * h[t - 1]
            H[:, j] = np.maximum(h - noise[j], 1e-3)
            params.append({"factor": j, "omega": om, "alpha": al, "beta": be})
        paths.append(np.log(H))
    return paths, params


def _fit_draws(model, args):
    """Posterior draws (``--keep`` of them, evenly spaced) and the fit's seconds."""
    from bdfm.posterior.forecast import posterior_draws

    t0 = time.perf_counter()
    fit = model.fit(
        draws=args.draws, tune=args.tune, chains=args.chains, random_seed=3, progressbar=False
    )
    fit_s = time.perf_counter() - t0
    draws = posterior_draws(fit)
    keep = np.linspace(0, draws["loadings"].shape[0] - 1, args.keep).round().astype(int)
    return {k: np.asarray(v)[keep] for k, v in draws.items()}, fit_s


def _filter_forward(model, draws, variants, y0, mask, window, args) -> dict:
    """VaR, predictive sd and panel log score past ``window`` of each variant of the draws."""
    from bdfm.params import particle_arguments
    from bdfm.posterior.backtest import mixture_var_es
    from bdfm.statespace.particle import particle_loglike

    sc = model.panel.scaling
    w = np.full(y0.shape[1], 1.0 / y0.shape[1])
    out = {}
    D = draws["loadings"].shape[0]
    rng = np.random.default_rng(7)
    for label, change in variants.items():
        means, sds, wts, lls = [], [], [], []
        for d in range(D):
            one = {n: v[d] for n, v in draws.items()}
            kw = change(d, particle_arguments(one, model.spec))
            res = particle_loglike(
                y0, mask, **kw, n_particles=args.particles, random_seed=rng,
                portfolio=w * sc.scale,
            )  # fmt: skip
            pred = res.portfolio
            means.append(pred.mean[window:, :, 0].T)
            sds.append(pred.sd[window:, :, 0].T)
            wts.append(pred.weight[window:].T / D)
            lls.append(res.loglike[window:])
        comp = np.concatenate(means) + w @ sc.mean
        sd = np.concatenate(sds)
        wt = np.concatenate(wts)
        m = np.sum(wt * comp, axis=0)
        mix_sd = np.sqrt(np.sum(wt * (sd**2 + comp**2), axis=0) - m**2)
        var = {a: mixture_var_es(comp, sd, a, weights=wt)[0] for a in LEVELS}
        per_date = np.logaddexp.reduce(np.array(lls), axis=0) - np.log(D)
        per_date -= mask[window:] @ np.log(sc.scale)  # model units -> original units
        out[label] = {"var": var, "sd": mix_sd, "log_score": float(per_date.sum())}
    return out


def _summary(draws) -> dict:
    """5/50/95% quantiles of the volatility parameters; per-series ones: median over series."""
    out = {}
    for n, v in draws.items():
        if not n.startswith(("factor_sv", "factor_garch", "idio_garch", "idio_sv", "tails_nu")):
            continue
        quant = np.quantile(v, [0.05, 0.5, 0.95], axis=0)
        if n.startswith("idio_garch"):
            quant = np.median(quant, axis=-1)
        out[n] = np.round(quant, 3).tolist()
    return out


def bdfm_forecasts(data, window, args) -> tuple[dict, dict]:
    """One-step VaR, sd and panel log scores of the bdfm variants, fixed parameters."""
    import bdfm

    model = bdfm.DynamicFactorModel(data.iloc[:window], **SPEC)
    draws, fit_s = _fit_draws(model, args)
    sc = model.panel.scaling
    y = sc.to_model(data.to_numpy(dtype=float))
    mask = np.isfinite(y)
    y0 = np.where(mask, y, 0.0)
    paths, gparams = garch_paths(y0, mask, draws, window)
    variants = {
        "bdfm SV-t": lambda d, kw: kw,
        "bdfm SV-t, vol-of-vol x1.5": lambda d, kw: (
            kw | {"factor_sv": (kw["factor_sv"][0], 1.5 * kw["factor_sv"][1])}
        ),
        "factor GARCH-t (two-step prototype)": lambda d, kw: (
            kw | {"factor_sv": None, "factor_log_var": paths[d]}
        ),
    }
    out = _filter_forward(model, draws, variants, y0, mask, window, args)
    info = {"fit_seconds": fit_s, "hyper": _summary(draws), "factor_garch": gparams[:4]}
    info["joint"] = {}
    for label, spec in GARCH_SPECS.items():
        garch_model = bdfm.DynamicFactorModel(data.iloc[:window], **spec)
        garch_draws, garch_s = _fit_draws(garch_model, args)
        out |= _filter_forward(
            garch_model, garch_draws, {label: lambda d, kw: kw}, y0, mask, window, args
        )
        info["joint"][label] = {"fit_seconds": garch_s, "hyper": _summary(garch_draws)}
    return out, info


def run_panel(name: str, args) -> dict:
    data = load_panel(name)
    N = data.shape[1]
    port = (data @ np.full(N, 1.0 / N)).to_numpy()
    ret = port[args.window :]
    print(f"{name}: {N} series, {len(data)} dates", flush=True)
    models = arch_forecasts(port, args.window)
    bd, info = bdfm_forecasts(data, args.window, args)
    models |= bd
    big = np.flatnonzero(np.abs(ret[:-1]) > 3.0 * models["GARCH(1,1)-t"]["sd"][:-1])
    rows = []
    for label, f in models.items():
        jump = float(np.mean(f["sd"][big + 1] / f["sd"][big]))
        for a in LEVELS:
            rows.append(
                {
                    "model": label,
                    "alpha": a,
                    **scores(ret, np.asarray(f["var"][a]).reshape(-1), a),
                    "sd_jump_after_big_day": jump,
                    "log_score": f.get("log_score"),
                }
            )
    arch_params = {k: v["params"] for k, v in models.items() if "params" in v}
    return {
        "panel": name,
        "series": N,
        "dates": [str(data.index[0].date()), str(data.index[-1].date()), len(data)],
        "test_dates": len(ret),
        "big_days": len(big),
        "rows": rows,
        "bdfm": info,
        "arch_params": arch_params,
    }


def to_markdown(results: list[dict], args, machine: dict) -> str:
    lines = [
        f"# Why the factor-SV VaR reacts slowly: fixed-parameter diagnosis ({date.today()})",
        "",
        f"Script: `benchmarks/bench_var_diagnose.py`; machine: {machine}. Every model fitted "
        f"once on the first {args.window} dates, then filtered forward with fixed parameters; "
        f"bdfm nutpie {args.chains} x ({args.tune} + {args.draws}), {args.keep} draws x "
        f"{args.particles} particles. Equal-weight portfolio. `sd jump` = mean ratio of the "
        "predictive sd the day after a return beyond 3 GARCH-t sds to that day's sd.",
    ]
    for res in results:
        lines += [
            "",
            f"## {res['panel']}: {res['series']} series, {res['dates'][0]} .. {res['dates'][1]} "
            f"({res['test_dates']} test dates, {res['big_days']} beyond 3 sds)",
            "",
            "| level | model | violations | Kupiec p | Christoffersen ind. p | tick loss | "
            "sd jump | panel log score |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in res["rows"]:
            ls = "" if r["log_score"] is None else f"{r['log_score']:.1f}"
            lines.append(
                f"| {r['alpha']} | {r['model']} | {100 * r['rate']:.2f}% | {r['kupiec_p']:.3g} | "
                f"{r['christoffersen_p']:.3g} | {r['tick']:.4f} | "
                f"{r['sd_jump_after_big_day']:.2f} | {ls} |"
            )
        lines += [
            "",
            f"bdfm fit {res['bdfm']['fit_seconds']:.0f} s; posterior 5/50/95% quantiles: "
            f"{res['bdfm']['hyper']}; two-step factor GARCH (first draw): "
            f"{res['bdfm']['factor_garch'][:2]}; arch: {res['arch_params']}",
        ]
        for label, j in res["bdfm"]["joint"].items():
            lines += [
                "",
                f"{label}: fit {j['fit_seconds']:.0f} s; posterior 5/50/95% quantiles "
                f"(per-series GARCH coefficients: median over series): {j['hyper']}",
            ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panels", nargs="+", default=["sp500", "crypto"])
    ap.add_argument("--tag", default="")
    add_sampling_arguments(ap)
    args = ap.parse_args()
    machine = machine_info()
    results = [run_panel(p, args) for p in args.panels]
    stem = f"var_diagnose_{date.today()}{'_' + args.tag if args.tag else ''}"
    write_results(stem, args, machine, results, to_markdown(results, args, machine))


if __name__ == "__main__":
    main()
