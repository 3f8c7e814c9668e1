"""Saved-fit size, load time and the cost of the factor draws, on the demo's fit.

Fits what ``bdfm demo`` fits (bundled ``sp500_returns``, 2019-2022, k = 3, AR(1)
errors, nutpie 4 x (1000 + 1000), seed 1), then:

* saves it compact (the default) and in full (``full=True``) and reports both sizes
  and the time of ``bdfm.load`` for each (compact: the factor draws and the
  log-likelihood are rebuilt);
* times the factor draws (:func:`bdfm.statespace.simsmoother.simulation_smoother`,
  400 parameter draws) against the log-likelihood of the same draws through the
  compiled graph, as "likelihood-equivalents per draw"; and the same smoother pass that
  also returns the pointwise log-likelihood (``with_loglik=True``, what a fit runs: its
  stored log-likelihood comes from the smoother's filter pass), whose cost beyond the
  log-likelihood alone is what the factor draws add to a fit.

Default environment (sets no thread variables). Results go to
``benchmarks/results/saved_fit_<date>.{md,json}``.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import time
from pathlib import Path

import bdfm
from bdfm.draws import stack_draws
from bdfm.inference.fitting import volatility_paths
from bdfm.statespace.simsmoother import simulation_smoother

HERE = Path(__file__).resolve().parent


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    data = bdfm.datasets.load("sp500_returns").loc["2019":"2022"]
    model = bdfm.DynamicFactorModel(data, n_factors=3, idiosyncratic="ar1")
    fit, fit_s = _timed(
        lambda: model.fit(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False)
    )
    rows = {"fit_s": fit_s, "timings": fit.idata.attrs["timings"]}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, full in (("compact", False), ("full", True)):
            path = fit.save(Path(tmp) / f"{kind}.nc", full=full)
            _, load_s = _timed(lambda path=path: bdfm.load(path))
            rows[kind] = {"mb": path.stat().st_size / 1e6, "load_s": load_s}
    post = fit.posterior.isel(chain=[0], draw=slice(0, 400))
    k = model.spec.n_factors
    draws = {n: stack_draws(post[n]) for n in model.param_names}
    draws |= volatility_paths(post, k, model.n_series)
    first = {n: v[:2] for n, v in draws.items()}  # numba kernels loaded from cache once
    simulation_smoother(model.panel.filled, model.panel.mask, first, model.spec.n_state_lags)
    _, factors_s = _timed(
        lambda: simulation_smoother(
            model.panel.filled, model.panel.mask, draws, model.spec.n_state_lags, random_seed=1
        )
    )
    _, fused_s = _timed(
        lambda: simulation_smoother(
            model.panel.filled,
            model.panel.mask,
            draws,
            model.spec.n_state_lags,
            random_seed=1,
            with_loglik=True,
        )
    )
    one = {n: draws[n][0] for n in model.param_names}
    model.loglike_pointwise(one)  # compiled once
    _, ll_s = _timed(
        lambda: [model.loglike_pointwise({n: draws[n][d] for n in one}) for d in range(400)]
    )
    rows["factor_draws"] = {
        "draws": 400,
        "factors_s": factors_s,
        "loglike_s": ll_s,
        "likelihood_equivalents_per_draw": factors_s / ll_s,
        "fused_s": fused_s,
        "fused_extra_likelihood_equivalents": (fused_s - ll_s) / ll_s,
    }
    date = datetime.date.today().isoformat()
    info = {"nproc": os.cpu_count(), "bdfm": bdfm.__version__, "threads": "unset"}
    out = HERE / "results" / f"saved_fit_{date}"
    out.with_suffix(".json").write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    fd = rows["factor_draws"]
    md = [
        f"# Saved fits and factor draws ({date})",
        "",
        f"Script: `benchmarks/bench_saved_fit.py`; {info}. The demo's fit: bundled `sp500_returns` "
        "2019-2022 (20 series x 1,006 dates), k = 3, AR(1) errors, nutpie 4 x (1000 + 1000); "
        f"fit took {fit_s:.0f} s ({rows['timings']}).",
        "",
        "| save | file size | `bdfm.load` |",
        "|---|---|---|",
        f"| compact (default) | {rows['compact']['mb']:.1f} MB | {rows['compact']['load_s']:.1f} s |",
        f"| `full=True` | {rows['full']['mb']:.1f} MB | {rows['full']['load_s']:.1f} s |",
        "",
        f"Factor draws for {fd['draws']} parameter draws: {fd['factors_s']:.2f} s; the "
        f"log-likelihood of the same draws (compiled graph): {fd['loglike_s']:.2f} s; "
        f"{fd['likelihood_equivalents_per_draw']:.1f} likelihood-equivalents per draw.",
        "",
        f"The same pass returning the pointwise log-likelihood too (what a fit runs): "
        f"{fd['fused_s']:.2f} s, i.e. the factor draws add "
        f"{fd['fused_extra_likelihood_equivalents']:.2f} likelihood-equivalents per draw to the "
        "log-likelihood a fit stores anyway.",
    ]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
