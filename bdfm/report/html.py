"""One self-contained HTML report of a Bayesian fit: data, diagnostics, factors, risk.

:func:`build_report` (``FitResult.report``) writes a single HTML file — figures
embedded as base64 PNG, CSS inline, no scripts, fonts or links to anything
outside the file — so it opens offline and can be mailed as it is. Its sections
have stable ids (:data:`SECTION_IDS`), in this order:

``overview``
    the series, dates and a picture of the missing values;
``diagnostics``
    R-hat, ESS, divergences and E-BFMI with pass/warn marks;
``factors``, ``volatility``, ``loadings``, ``variance-decomposition``, ``dynamics``
    the posterior factors, their volatility paths (time-varying volatility or Student-t
    shocks only), loadings, variance shares, impulse responses and persistence;
``forecast``, ``risk``
    fan charts of a few series and the posterior of a portfolio's volatility, VaR and ES;
``backtest``
    a VaR backtest (``bdfm.backtest_var``), when one is given: returns against the
    one-step VaR with the violations marked, and the coverage tests;
``comparison``
    a model-comparison table, when one is given;
``model``
    the specification, priors, software versions, random seed and timings.

A section whose ingredient is missing (no portfolio weights, no comparison, no backtest, no
volatility paths, or a bdfm without that feature) is kept, with a note saying why it is empty. All text
from the user (series names, titles, table cells) is HTML-escaped.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bdfm.dims import (
    CHAIN,
    DRAW,
    FACTOR,
    FACTOR_FROM,
    LAG,
    PORTFOLIO,
    SERIES,
    SOURCE,
    TIME,
    factor_labels,
)
from bdfm.draws import stack_draws
from bdfm.inference.diagnostics import EBFMI_MIN, RHAT_MAX, min_ess_target
from bdfm.io import atomic_write, refuse_overwrite
from bdfm.posterior.forecast import forecast_fit
from bdfm.posterior.risk import risk_fit, variance_decomposition_fit
from bdfm.report import markup as mk
from bdfm.report import plots
from bdfm.selection.compare import compare as compare_fits

if TYPE_CHECKING:
    from bdfm.posterior.backtest import BacktestResult
    from bdfm.results import FitResult

__all__ = ["SECTION_IDS", "build_report"]

_log = logging.getLogger(__name__)

SOFTWARE = ("bdfm", "pymc", "pytensor", "arviz", "numpy", "xarray", "pandas", "matplotlib")
MAX_PORTFOLIOS = 3  # risk figures drawn (the table has every portfolio)
FORECAST_SERIES = 4  # series with a fan chart

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;
 font-size:15px;line-height:1.45;color:#1b1b1b;background:#fff;margin:0}
main{max-width:1260px;margin:0 auto;padding:12px 10px 40px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:21px;margin:0 0 8px;border-bottom:2px solid #1f3b73}
h3{font-size:16px;margin:14px 0 6px}
section{margin:26px 0}nav ol{columns:2;margin:6px 0 0}nav a{color:#1f3b73}
img{display:block;max-width:100%;height:auto;margin:8px 0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #d0d4dc;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#eef1f6}tbody tr:nth-child(even){background:#f8f9fb}
td.text,th.text{text-align:left;white-space:normal}
.pass{color:#176b2c;font-weight:600}.warn{color:#a33b00;font-weight:600}
.note{background:#fff6e0;border-left:4px solid #e0a000;padding:6px 10px}
.meta{color:#555;font-size:13px}.grid{display:flex;flex-wrap:wrap;gap:0 32px}ul.warnings li{color:#a33b00}
"""


class Unavailable(Exception):
    """A report section cannot be built; the message says why (shown in the report)."""


@dataclass(frozen=True)
class Options:
    """What the sections need besides the fit."""

    weights: object = "equal"
    compare: object = None
    backtest: object = None
    forecast_steps: int = 20
    random_seed: int | None = None


# ----------------------------------------------------------------------------- sections


def _overview(fit: FitResult, opts: Options) -> str:
    y = fit.idata.observed_data["y"].transpose(TIME, SERIES).to_pandas()
    mask = fit.idata.constant_data["mask"].transpose(TIME, SERIES).to_pandas().astype(bool)
    facts = {
        "series (N)": y.shape[1],
        "time points (T)": y.shape[0],
        "first date": y.index[0],
        "last date": y.index[-1],
        "share missing": f"{1 - mask.to_numpy().mean():.2%}",
    }
    per_series = pd.DataFrame(
        {
            "first observed": [y.index[m.to_numpy()].min() for _, m in mask.items()],
            "last observed": [y.index[m.to_numpy()].max() for _, m in mask.items()],
            "share missing": 1 - mask.mean().to_numpy(),
            "mean": y.mean().to_numpy(),
            "sd": y.std().to_numpy(),
        },
        index=pd.Index(y.columns.astype(str), name=SERIES),
    )
    return (
        mk.facts(facts)
        + mk.figure_html(plots.plot_data_overview(fit), "the series and their missing values")
        + "<h3>Series</h3>"
        + mk.table(per_series)
    )


def _diagnostics(fit: FitResult, opts: Options) -> str:
    diag = fit.diagnostics()
    n_chains = fit.posterior.sizes[CHAIN]
    target = min_ess_target(n_chains)
    tab = diag.table.copy()
    rhat_ok = tab["r_hat"].isna() | (tab["r_hat"] <= RHAT_MAX)
    ess_ok = (tab["ess_bulk"] >= target) & (tab["ess_tail"] >= target)
    tab["status"] = [mk.Mark(bool(ok)) for ok in rhat_ok & ess_ok]
    ebfmi = ", ".join(f"{v:.2f}" for v in diag.ebfmi)
    facts = {
        "chains × draws": f"{n_chains} × {fit.posterior.sizes[DRAW]}",
        "divergent transitions": diag.divergences,
        "divergences": mk.Mark(diag.divergences == 0),
        "E-BFMI per chain": ebfmi,
        f"E-BFMI ≥ {EBFMI_MIN}": mk.Mark(not np.any(diag.ebfmi < EBFMI_MIN)),
    }
    warnings = (
        '<ul class="warnings">' + "".join(f"<li>{mk.esc(w)}</li>" for w in diag.warnings) + "</ul>"
        if diag.warnings
        else '<p class="pass">All checks passed.</p>'
    )
    return (
        mk.paragraph(
            f"Thresholds: R-hat ≤ {RHAT_MAX}, bulk and tail ESS ≥ {target:.0f} "
            f"(worst entry of each parameter group), no divergences, E-BFMI ≥ {EBFMI_MIN}."
        )
        + mk.facts(facts)
        + mk.table(tab)
        + warnings
    )


def _factors(fit: FitResult, opts: Options) -> str:
    return mk.paragraph(
        "Posterior mean of each factor with 50% and 90% credible bands (draws of the "
        "simulation smoother, one per posterior draw)."
    ) + mk.figure_html(plots.plot_factors(fit), "posterior factors with credible bands")


def _summary_rows(draws, name: str, labels: list[str]) -> list[dict]:
    """Median and 90% interval of ``draws`` (D,) or (D, J), one row per label."""
    values = np.asarray(draws).reshape(len(draws), -1)
    lo, med, hi = np.quantile(values, [0.05, 0.5, 0.95], axis=0)
    persistence = name.startswith("persistence")
    return [
        {
            "parameter": name,
            "of": label,
            "median": float(m),
            "5%": float(a),
            "95%": float(b),
            "half-life (steps, at the median)": plots.half_life(m) if persistence else np.nan,
        }
        for label, a, m, b in zip(labels, lo, med, hi, strict=True)
    ]


def _volatility(fit: FitResult, opts: Options) -> str:
    spec = fit.model.spec
    if spec.constant_gaussian:
        raise Unavailable(
            f"constant variances (factor_volatility={spec.factor_volatility!r}, "
            f"idio_volatility={spec.idio_volatility!r}, tails={spec.tails!r})"
        )
    post = fit.posterior
    shown = []
    if "factor_log_var" in post:
        shown.append("each factor's innovation volatility exp(h/2)")
    if "idio_log_var" in post:
        shown.append(
            "the idiosyncratic volatility exp(g/2) (one path per series: the median across "
            "series of their posterior medians, the bands the spread across series)"
            if SERIES in post["idio_log_var"].dims
            else "the common idiosyncratic volatility exp(g/2)"
        )
    if "tail_scale" in post:
        shown.append(
            "the total shock scale with the Student-t scales λ_t (variances divided by λ_t), "
            "in grey"
            if shown
            else "the shock scale 1/√λ_t of the Student-t shocks (variances divided by λ_t)"
        )
    text = "Posterior median with 50% and 90% credible bands over time of " + "; ".join(shown) + "."
    if "factor_sv_phi" in post or "idio_sv_phi" in post:
        text += (
            " The stochastic log-variance paths have mean 0, so 1 is their long-run level; "
            "the table gives the persistence φ and volatility of volatility σ of their AR(1)."
        )
    if "factor_garch_alpha" in post or "idio_garch_alpha" in post:
        text += (
            " The GARCH variances (factor, or idiosyncratic per series) are GJR-GARCH(1,1) "
            "of the estimated shocks, "
            "q_t = ω + (α + γ·1[η̂_{t-1} < 0]) η̂²_{t-1} + β q_{t-1} (long-run level 1): each "
            "date's variance is known from the returns before it; the table gives α, the "
            "extra weight γ of falls (leverage) and β."
        )
    rows: list[dict] = []
    for prefix, what, dim in (("factor", "factor", FACTOR), ("idio", "idiosyncratic", SERIES)):
        if f"{prefix}_garch_alpha" not in post:
            continue
        for key, name in (
            ("alpha", "GARCH news α"),
            ("gamma", "GARCH leverage γ"),
            ("beta", "GARCH memory β"),
        ):
            var = post[f"{prefix}_garch_{key}"]
            labels = [str(v) for v in var[dim].values]
            rows += _summary_rows(stack_draws(var), f"{name} ({what})", labels)
    for prefix, what in (("factor", "factor"), ("idio", "idiosyncratic")):
        if f"{prefix}_sv_phi" not in post:
            continue
        for key, name in (("phi", "persistence φ"), ("sd", "volatility of volatility σ")):
            var = post[f"{prefix}_sv_{key}"]
            extra = [d for d in var.dims if d not in (CHAIN, DRAW)]
            labels = [str(v) for v in var[extra[0]].values] if extra else [what]
            rows += _summary_rows(stack_draws(var), f"{name} ({what})", labels)
    facts = {}
    if "tails_nu" in post:
        lo, med, hi = np.quantile(stack_draws(post["tails_nu"]), [0.05, 0.5, 0.95])
        facts = {
            "Student-t degrees of freedom ν, median": float(med),
            "ν, 90% interval": f"{lo:.3g} – {hi:.3g}",
        }
    table = mk.table(pd.DataFrame(rows).set_index(["parameter", "of"])) if rows else ""
    return (
        mk.paragraph(text)
        + (mk.facts(facts) if facts else "")
        + table
        + mk.figure_html(plots.plot_volatility(fit), "posterior volatility paths")
    )


def _loadings(fit: FitResult, opts: Options) -> str:
    bspec = fit.bspec
    return mk.paragraph(
        f"Identification: {bspec.identification}; loadings prior: {bspec.loadings}. Loadings are "
        "in model units; the right panel shows how uncertain each one is (0 for an entry "
        "fixed by the identification)."
    ) + mk.figure_html(plots.plot_loadings(fit), "posterior mean loadings and interval widths")


def _variance_decomposition(fit: FitResult, opts: Options) -> str:
    decomposition = variance_decomposition_fit(fit)
    shares = decomposition.mean((CHAIN, DRAW)).transpose(SERIES, SOURCE)
    frame = shares.to_pandas()
    frame.columns = frame.columns.astype(str)
    return (
        mk.paragraph(
            "Share of each series' variance explained by each factor and by its own noise."
        )
        + mk.figure_html(plots.plot_variance_decomposition(fit, decomposition), "variance shares")
        + mk.table(frame)
    )


def _dynamics(fit: FitResult, opts: Options) -> str:
    factor_ar = fit.posterior["factor_ar"].transpose(CHAIN, DRAW, LAG, FACTOR, FACTOR_FROM)
    radius = plots.spectral_radius(factor_ar.values)  # (chain, draw)
    lo, med, hi = np.quantile(radius, [0.05, 0.5, 0.95])
    facts = {
        "spectral radius, median": float(med),
        "spectral radius, 90% interval": f"{lo:.3f} – {hi:.3f}",
        "half-life of a shock (steps, at the median)": plots.half_life(med),
    }
    return (
        mk.paragraph(
            "Impulse responses of each factor to a unit shock in each factor (posterior "
            "median, 50% and 90% bands) and the persistence of the factor VAR: the largest "
            "eigenvalue modulus of its companion matrix (1 would be a unit root)."
        )
        + mk.facts(facts)
        + mk.figure_html(plots.plot_impulse_responses(fit), "impulse responses and persistence")
    )


def _forecast(fit: FitResult, opts: Options) -> str:
    forecast = forecast_fit(fit, steps=opts.forecast_steps, random_seed=opts.random_seed)
    shown = [str(s) for s in forecast.draws[SERIES].values][:FORECAST_SERIES]
    summary = forecast.summary(prob=0.9)
    summary = summary[summary.index.get_level_values(SERIES).isin(shown)]
    return (
        mk.paragraph(
            f"Posterior predictive forecasts {opts.forecast_steps} steps ahead for "
            f"{len(shown)} series (original units): median, 50% and 90% bands."
        )
        + mk.figure_html(plots.plot_forecast(fit, forecast, series=shown), "forecast fan charts")
        + mk.table(summary)
    )


def _risk(fit: FitResult, opts: Options) -> str:
    if opts.weights is None:
        raise Unavailable("no portfolio weights were given (weights=None)")
    risk = risk_fit(fit, plots.resolve_weights(fit, opts.weights))
    names = list(risk.draws[PORTFOLIO].values)
    figures = "".join(
        mk.figure_html(plots.plot_risk(fit, risk, portfolio=name), f"risk of {name}")
        for name in names[:MAX_PORTFOLIOS]
    )
    more = (
        mk.paragraph(
            f"Figures for the first {MAX_PORTFOLIOS} of {len(names)} portfolios; all are in the table."
        )
        if len(names) > MAX_PORTFOLIOS
        else ""
    )
    return (
        mk.paragraph(
            "Posterior distribution of the portfolio's volatility, value at risk and expected "
            "shortfall (losses are positive; one period ahead, given the data), and the Euler "
            "contributions of each factor and of the idiosyncratic noise to its volatility."
        )
        + figures
        + more
        + mk.table(risk.summary())
    )


def _backtest(fit: FitResult, opts: Options) -> str:
    result = opts.backtest
    if result is None:
        raise Unavailable("no backtest was given (backtest=bdfm.backtest_var(...) adds one)")
    items = result.items() if isinstance(result, Mapping) else [(None, result)]
    rows = []
    for key, bt in items:
        lr = bt.christoffersen()
        elpd, se = bt.elpd()
        rows.append(
            {
                "backtest": str(key[0]) if isinstance(key, tuple) else "portfolio",
                "level": bt.alpha,
                "dates": len(bt.frame.dropna(subset=["return"])),
                "violations": len(bt.violations),
                "rate": round(bt.violation_rate, 4),
                "Kupiec p": round(lr["unconditional"].p_value, 4),
                "independence p": round(lr["independence"].p_value, 4),
                "tick loss": round(bt.tick_loss(), 5),
                "log score": round(elpd, 1),
                "log score se": round(se, 1),
                "method": bt.method,
            }
        )
    return (
        mk.paragraph(
            "Out-of-sample one-step value at risk: the model was refitted on a rolling "
            "window at the marked dates and filtered forward in between, so each forecast "
            "uses the data before its date only. A violation is a return below −VaR; the "
            "rate should be close to 1 − level, Kupiec's test checks that, Christoffersen's "
            "that violations do not cluster (p-values below 0.05 reject). The tick loss "
            "scores the VaR as a quantile (lower is better); the log score sums the "
            "one-step log predictive density of the whole panel (higher is better)."
        )
        + mk.figure_html(plots.plot_backtest(result), "VaR backtest")
        + mk.table(pd.DataFrame(rows))
    )


def _comparison(fit: FitResult, opts: Options) -> str:
    compare = opts.compare
    if compare is None:
        raise Unavailable("no comparison was requested (compare=bdfm.compare({...}) adds one)")
    if isinstance(compare, Mapping):
        with warnings.catch_warnings():
            # its reliability warnings are in the table's "warning" column, shown below
            warnings.simplefilter("ignore", UserWarning)
            compare = compare_fits(compare)
    if not isinstance(compare, pd.DataFrame):
        raise TypeError(
            f"compare must be a DataFrame or a mapping of fits, got {type(compare).__name__}"
        )
    method = compare.attrs.get("method")
    return mk.paragraph(
        (f"Method: {method}. " if method else "")
        + "elpd is the expected log predictive density (higher is better); elpd_diff and "
        "dse are the difference to the best model and its standard error (differences "
        "under about two dse are not clear); weight is the stacking weight."
    ) + mk.table(compare)


def _json_facts(text: str) -> dict:
    return {
        k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in json.loads(text).items()
    }


def _timings(fit: FitResult) -> dict:
    stored = fit.idata.attrs.get("timings")
    if stored is None:
        return {k: v for k, v in fit.timings.items() if k.endswith("_s")}
    try:
        return dict(ast.literal_eval(str(stored)))
    except (ValueError, SyntaxError):
        return {"timings": str(stored)}


def _bayes_facts(fit: FitResult) -> dict:
    """The Bayesian options with series named (anchors, groups) rather than indexed."""
    facts = _json_facts(fit.idata.attrs["bayes_spec"])
    columns = [str(c) for c in fit.model.panel.columns]
    anchors = fit.bspec.anchors
    if anchors is not None:
        facts["anchors"] = ", ".join(
            f"{lab}: {columns[a]}"
            for lab, a in zip(factor_labels(len(anchors)), anchors, strict=True)
        )
    if fit.bspec.blocks is not None:
        facts["blocks"] = (
            f"{int(np.sum(fit.bspec.blocks))} of {np.size(fit.bspec.blocks)} loadings free"
        )
    if fit.bspec.groups is not None:
        facts["groups"] = ", ".join(sorted(set(fit.bspec.groups)))
    return facts


def _installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _model(fit: FitResult, opts: Options) -> str:
    attrs = fit.idata.attrs
    seed = int(attrs.get("random_seed", -1))
    run = {
        "sampler": attrs.get("sampler", ""),
        "random seed": seed if seed >= 0 else "none",
        "fitted with bdfm": attrs.get("bdfm_version", "?"),
        "fitted at": attrs.get("created_at", "?"),
    }
    priors = {k: mk.prior_text(v) for k, v in json.loads(attrs["priors"]).items()}
    software = {name: _installed(name) for name in SOFTWARE}
    timings = {k.removesuffix("_s") + " (s)": v for k, v in _timings(fit).items()}
    return (
        '<div class="grid">'
        + "".join(
            f"<div><h3>{mk.esc(head)}</h3>{mk.facts(items)}</div>"
            for head, items in (
                ("Model", _json_facts(attrs["spec"])),
                ("Bayesian options", _bayes_facts(fit)),
                ("Priors", priors),
                ("Run", run),
                ("Timings", timings),
                ("Software (this report)", software),
            )
            if items
        )
        + "</div>"
    )


Builder = Callable[["FitResult", Options], str]
SECTIONS: tuple[tuple[str, str, Builder], ...] = (
    ("overview", "Data overview", _overview),
    ("diagnostics", "Sampler diagnostics", _diagnostics),
    ("factors", "Posterior factors", _factors),
    ("volatility", "Volatility paths", _volatility),
    ("loadings", "Loadings", _loadings),
    ("variance-decomposition", "Variance decomposition", _variance_decomposition),
    ("dynamics", "Factor dynamics", _dynamics),
    ("forecast", "Forecasts", _forecast),
    ("risk", "Portfolio risk", _risk),
    ("backtest", "VaR backtest", _backtest),
    ("comparison", "Model comparison", _comparison),
    ("model", "Specification, priors and software", _model),
)
SECTION_IDS: tuple[str, ...] = tuple(s[0] for s in SECTIONS)


def _section(fit: FitResult, opts: Options, sid: str, title: str, build: Builder) -> str:
    t0 = time.perf_counter()
    try:
        body = build(fit, opts)
    except Unavailable as why:
        body = f'<p class="note">Not included: {mk.esc(why)}.</p>'
    _log.info("report section %s: %.2f s", sid, time.perf_counter() - t0)
    return f'<section id="{sid}"><h2>{mk.esc(title)}</h2>{body}</section>'


def _render(fit: FitResult, opts: Options, title: str) -> str:
    """The whole report as one HTML string."""
    nav = "".join(f'<li><a href="#{sid}">{mk.esc(t)}</a></li>' for sid, t, _ in SECTIONS)
    body = "".join(_section(fit, opts, *s) for s in SECTIONS)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{mk.esc(title)}</title><style>{CSS}</style></head><body><main>"
        f'<h1>{mk.esc(title)}</h1><p class="meta">{mk.esc(repr(fit))} — report made {stamp}</p>'
        f"<nav><ol>{nav}</ol></nav>{body}</main></body></html>\n"
    )


def build_report(
    fit: FitResult,
    path: str | os.PathLike | None = None,
    *,
    weights: str | pd.Series | pd.DataFrame | None = "equal",
    compare: pd.DataFrame | Mapping[str, FitResult] | None = None,
    backtest: BacktestResult | Mapping[object, BacktestResult] | None = None,
    title: str | None = None,
    forecast_steps: int = 20,
    random_seed: int | None = None,
    overwrite: bool = False,
) -> str | Path:
    """Build the self-contained HTML report of ``fit``.

    Parameters
    ----------
    fit : FitResult
    path : str or path-like, optional
        Where to write the report; without it the HTML is returned as a string.
    weights : "equal", Series, DataFrame or None
        Portfolio weights for the risk section (``"equal"``: 1/N in every series; a
        DataFrame: one row per portfolio, one column per series); ``None`` leaves risk out.
    compare : DataFrame or mapping of name to FitResult, optional
        A model-comparison table (``bdfm.compare(...)``), or fits to compare.
    backtest : BacktestResult or mapping of them, optional
        A VaR backtest (``bdfm.backtest_var(...)``, one or several portfolios/levels)
        shown in the ``backtest`` section.
    title : str, optional
    forecast_steps : int
        Forecast horizon of the fan charts.
    random_seed : int, optional
        Seed of the forecast draws; default the fit's own seed.
    overwrite : bool
        Replace an existing file at ``path``.

    Returns
    -------
    str or Path
        The HTML, or the path written.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false (checked before any work).
    """
    target = None if path is None else refuse_overwrite(path, overwrite)  # before any work
    if random_seed is None and int(fit.idata.attrs.get("random_seed", -1)) >= 0:
        random_seed = int(fit.idata.attrs["random_seed"])
    opts = Options(weights, compare, backtest, int(forecast_steps), random_seed)
    sizes = fit.posterior.sizes
    title = title or f"bdfm report: {sizes[FACTOR]}-factor model of {sizes[SERIES]} series"
    text = _render(fit, opts, title)
    if target is None:
        return text
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite)
