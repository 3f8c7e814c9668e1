"""Command line: ``bdfm demo | fit | report | compare | datasets``, ``--help``, ``--version``.

User mistakes (a bad path, a CSV without dates, a file that exists, bad options)
end with one line on stderr and exit code 2, never a traceback; ``-v`` logs
progress details.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["main"]

USER_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, FileExistsError, ImportError)


class _Stages:
    """Numbered progress lines: ``[2/5] compile ... (12.3 s)``."""

    def __init__(self, n: int) -> None:
        self.n, self.i, self.t0 = n, 0, time.perf_counter()

    def __call__(self, text: str) -> None:
        self.i += 1
        print(f"[{self.i}/{self.n}] {text} ({time.perf_counter() - self.t0:.0f} s)", flush=True)


def _show_fit_progress() -> None:
    """Print the fit's stage messages (MLE start, compile, sampling, factors) as they happen."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("      %(message)s"))
    log = logging.getLogger("bdfm.results")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def read_csv_panel(path: str) -> pd.DataFrame:
    """A dates x series CSV: the first column holds the dates; clear errors otherwise."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {p}")
    try:
        frame = pd.read_csv(p, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{p} could not be read as CSV: {err}") from None
    if frame.shape[1] == 0:
        raise ValueError(
            f"{p} has no data columns; expected dates in the first column, then series"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' "could not infer format"
            index = pd.to_datetime(frame.index, errors="raise")
    except (ValueError, TypeError):
        first = frame.index.name or "the first column"
        raise ValueError(
            f"{p}: {first!s} does not hold dates (e.g. {frame.index[0]!r}); the first column of "
            "the CSV must be the dates, one row per date"
        ) from None
    frame.index = pd.DatetimeIndex(index, name="date")
    return frame


def _read_weights(path: str, series: list[str]):
    """``equal``, ``none`` or a CSV of weights: one row per series (one column per portfolio)
    or one row per portfolio (one column per series)."""
    import pandas as pd

    if path in ("equal", "none"):
        return None if path == "none" else "equal"
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such weights file: {p}")
    w = pd.read_csv(p, index_col=0)
    if set(map(str, w.index)) >= set(series) and not set(map(str, w.columns)) >= set(series):
        w = w.T  # one row per series -> one row per portfolio
    return w


def _output(path: str | Path, overwrite: bool) -> Path:
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite or choose another --out")
    if not path.parent.exists():
        raise FileNotFoundError(f"the folder {path.parent} does not exist")
    return path


def _fit_options(args: argparse.Namespace) -> dict:
    opts = {
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "random_seed": args.seed,
        "progressbar": not args.quiet,
    }
    if args.sampler:
        opts["sampler"] = args.sampler
    return opts


def _model(data, args: argparse.Namespace):
    import bdfm

    return bdfm.DynamicFactorModel(
        data,
        n_factors=args.factors,
        factor_order=args.order,
        idiosyncratic=args.idiosyncratic,
    )


def _diagnostics_line(fit) -> str:
    d = fit.diagnostics()  # its warnings were logged (shown) as the fit ended
    if d.ok:
        return "diagnostics: all passed (R-hat, ESS, divergences, E-BFMI)"
    return f"diagnostics: {len(d.warnings)} warning(s), see above and the report"


def _explained(fit) -> str:
    """Posterior median share of each series' variance explained by the factors."""
    from bdfm.dims import CHAIN, DRAW, IDIOSYNCRATIC, SOURCE

    shares = fit.variance_decomposition()
    common = 1.0 - shares.sel({SOURCE: IDIOSYNCRATIC})
    q = common.quantile([0.05, 0.5, 0.95], dim=(CHAIN, DRAW)).to_pandas().T
    q.columns = ["5%", "median", "95%"]
    return "share of variance explained by the factors:\n" + q.round(2).to_string()


def _demo_dir(out: str | None, overwrite: bool) -> Path:
    if out is not None:
        path = Path(out)
        if not overwrite and any((path / n).exists() for n in ("fit.nc", "report.html")):
            raise FileExistsError(
                f"{path} already holds a demo (fit.nc / report.html); pass --overwrite or "
                "choose another --out"
            )
        return path
    path, n = Path("bdfm-demo"), 1
    while (path / "fit.nc").exists() or (path / "report.html").exists():
        n += 1  # never replace an earlier run's files: number the new one
        path = Path(f"bdfm-demo-{n}")
    return path


def _demo(args: argparse.Namespace) -> int:
    import bdfm

    stage = _Stages(5)
    out = _demo_dir(args.out, args.overwrite)
    data = bdfm.datasets.load(args.dataset).loc[args.start : args.end]
    stage(
        f"data: {args.dataset}, {data.shape[1]} series x {data.shape[0]} dates "
        f"({data.index[0].date()} to {data.index[-1].date()})"
    )
    model = _model(data, args)
    stage(f"model: {model!r}; start, compile and sample (the sampler shows its progress)")
    _show_fit_progress()
    fit = model.fit(**_fit_options(args))
    stage("posterior factors drawn")
    print(_diagnostics_line(fit))
    print(_explained(fit))
    out.mkdir(parents=True, exist_ok=True)
    fit_path = fit.save(out / "fit.nc", overwrite=args.overwrite)
    stage(f"fit saved: {fit_path.resolve()}  (bdfm.load(path) in Python)")
    report = fit.report(
        out / "report.html",
        weights="equal",
        title=f"bdfm demo: {args.dataset}",
        overwrite=args.overwrite,
    )
    stage(f"report written: {Path(report).resolve()}  (open it in a browser)")
    return 0


def _fit(args: argparse.Namespace) -> int:
    from bdfm.datasets import log_returns

    out = _output(args.out, args.overwrite)
    stage = _Stages(3)
    data = read_csv_panel(args.data)
    data = data.loc[args.start : args.end]
    if args.returns:
        data = log_returns(data)
    stage(f"data: {args.data}, {data.shape[1]} series x {data.shape[0]} dates")
    model = _model(data, args)
    if not args.quiet:
        _show_fit_progress()
    fit = model.fit(**_fit_options(args))
    stage("fitted")
    print(_diagnostics_line(fit))
    fit.save(out, overwrite=args.overwrite)
    stage(f"saved: {out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    import bdfm

    out = _output(args.out, args.overwrite)
    fit = bdfm.load(args.fit)
    weights = _read_weights(args.weights, [str(c) for c in fit.model.panel.columns])
    compare = None
    if args.compare:
        paths = [args.fit, *args.compare]
        compare = dict(zip(_names(paths), paths, strict=True))
    path = fit.report(
        out,
        weights=weights,
        compare=compare,
        title=args.title,
        forecast_steps=args.steps,
        overwrite=args.overwrite,
    )
    print(f"report: {Path(path).resolve()}")
    return 0


def _names(paths: list[str]) -> list[str]:
    """Model names from file names (numbered when two files share a name)."""
    names = [Path(p).stem for p in paths]
    if len(set(names)) != len(names):
        names = [f"{i + 1}:{n}" for i, n in enumerate(names)]
    return names


def _compare(args: argparse.Namespace) -> int:
    import bdfm

    fits = {n: bdfm.load(p) for n, p in zip(_names(args.fits), args.fits, strict=True)}
    options = {}
    if args.method == "lfo":
        if args.min_train is None:
            raise ValueError("--method lfo needs --min-train (the first training window length)")
        options = {"min_train": args.min_train, "steps": args.steps}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = bdfm.compare(fits, method=args.method, **options)
    shown = table.drop(columns=["warning"]).round(3)
    print(shown.to_string())
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    if args.csv:
        table.to_csv(_output(args.csv, args.overwrite))
        print(f"table written to {args.csv}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from bdfm import datasets

    for name in datasets.list_datasets():
        text = datasets.describe(name).strip().replace("\n", "\n    ")
        print(f"{name}\n    {text}\n")
    return 0


def _sampling_args(p: argparse.ArgumentParser, draws: int, tune: int, chains: int) -> None:
    g = p.add_argument_group("sampling")
    g.add_argument("--draws", type=int, default=draws, help=f"draws per chain (default {draws})")
    g.add_argument(
        "--tune", type=int, default=tune, help=f"tuning steps per chain (default {tune})"
    )
    g.add_argument("--chains", type=int, default=chains, help=f"chains (default {chains})")
    g.add_argument(
        "--sampler",
        choices=["nutpie", "pymc", "numpyro", "blackjax"],
        default=None,
        help="default: nutpie when installed, else pymc",
    )
    g.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def _model_args(p: argparse.ArgumentParser, factors: int | None) -> None:
    g = p.add_argument_group("model")
    g.add_argument(
        "--factors",
        type=int,
        default=factors,
        required=factors is None,
        help="number of factors" + (f" (default {factors})" if factors else ""),
    )
    g.add_argument("--order", type=int, default=1, help="factor VAR order (default 1)")
    g.add_argument(
        "--idiosyncratic",
        choices=["iid", "ar1"],
        default="ar1",
        help="idiosyncratic errors (default ar1)",
    )
    g.add_argument("--start", default=None, help="first date used (e.g. 2019-01-01)")
    g.add_argument("--end", default=None, help="last date used")


def _parser() -> argparse.ArgumentParser:
    from bdfm import __version__

    parser = argparse.ArgumentParser(
        prog="bdfm", description="Bayesian dynamic factor models with an exact Kalman likelihood."
    )
    parser.add_argument("--version", action="version", version=f"bdfm {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="fit the bundled S&P 500 returns panel, save the fit and an HTML report",
        description="Fit a Bayesian 3-factor model to the bundled daily returns of 20 large US "
        "stocks, save the fit and write the HTML risk report (about 2 minutes).",
    )
    demo.add_argument(
        "--out",
        default=None,
        help="folder for fit.nc and report.html (default ./bdfm-demo, numbered "
        "anew when it already holds a demo)",
    )
    demo.add_argument("--dataset", default="sp500_returns", help="bundled dataset (bdfm datasets)")
    demo.add_argument("--overwrite", action="store_true", help="replace files in --out")
    _model_args(demo, factors=3)
    _sampling_args(demo, draws=1000, tune=1000, chains=4)
    demo.set_defaults(func=_demo, start="2019-01-01")

    fit = sub.add_parser(
        "fit",
        help="fit a CSV panel (dates x series) and save the fit (netCDF)",
        description="Fit a Bayesian dynamic factor model to DATA.csv: first column dates, one "
        "column per series, empty cells for missing values.",
    )
    fit.add_argument("data", help="CSV file: dates in the first column, then one column per series")
    fit.add_argument("--out", required=True, help="where to save the fit (e.g. fit.nc)")
    fit.add_argument(
        "--returns",
        action="store_true",
        help="the CSV holds prices: fit their log returns in percent",
    )
    fit.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    _model_args(fit, factors=None)
    _sampling_args(fit, draws=1000, tune=1000, chains=4)
    fit.set_defaults(func=_fit)

    rep = sub.add_parser("report", help="write the self-contained HTML report of a saved fit")
    rep.add_argument("fit", help="a fit saved by `bdfm fit` or FitResult.save")
    rep.add_argument("--out", default="report.html", help="HTML file (default report.html)")
    rep.add_argument(
        "--weights",
        default="equal",
        help="portfolio weights: 'equal' (default), 'none', or a CSV (one row per "
        "series with one column per portfolio, or the transpose)",
    )
    rep.add_argument(
        "--compare",
        nargs="*",
        default=[],
        metavar="OTHER",
        help="other fits of the same data to compare with (PSIS-LOO)",
    )
    rep.add_argument("--title", default=None, help="report title")
    rep.add_argument("--steps", type=int, default=20, help="forecast horizon (default 20)")
    rep.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    rep.set_defaults(func=_report)

    cmp_ = sub.add_parser("compare", help="rank saved fits of the same data (PSIS-LOO or LFO)")
    cmp_.add_argument("fits", nargs="+", help="fits saved by `bdfm fit`")
    cmp_.add_argument("--method", choices=["loo", "lfo"], default="loo")
    cmp_.add_argument(
        "--min-train", type=int, default=None, help="LFO: first training window (number of dates)"
    )
    cmp_.add_argument("--steps", type=int, default=1, help="LFO: steps ahead (default 1)")
    cmp_.add_argument("--csv", default=None, help="also write the table to this CSV")
    cmp_.add_argument("--overwrite", action="store_true", help="replace --csv if it exists")
    cmp_.set_defaults(func=_compare)

    ds = sub.add_parser("datasets", help="list the bundled datasets")
    ds.set_defaults(func=_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bdfm`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pytensor")
            return args.func(args)
    except USER_ERRORS as exc:
        msg = str(exc).strip().replace("\n", " ")
        print(f"bdfm {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bdfm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
