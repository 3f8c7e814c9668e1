"""Command line: ``bdfm demo | fit | report | compare | datasets``, ``--help``, ``--version``.

User mistakes (a bad path, an output folder that cannot be written, a CSV without
dates, a file that exists, bad options) end with one line on stderr and exit code 2,
never a traceback, and are found before any fitting; Ctrl-C ends with one line and
exit code 130, writing nothing more. ``-v`` logs progress details.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from bdfm.cli_io import output_path, read_csv_panel, read_weights, writable_folder

__all__ = ["main"]

USER_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    NotADirectoryError,
    IsADirectoryError,
    ImportError,
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``bdfm fit: error: ... (see --help)``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(low: int):
    """An argparse ``type``: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


class _Stages:
    """Numbered progress lines: ``[2/5] compile ... (12.3 s)``."""

    def __init__(self, n: int) -> None:
        self.n, self.i, self.t0 = n, 0, time.perf_counter()

    def __call__(self, text: str) -> None:
        self.i += 1
        print(f"[{self.i}/{self.n}] {text} ({time.perf_counter() - self.t0:.0f} s)", flush=True)


class _StdoutHandler(logging.StreamHandler):
    """Writes to ``sys.stdout`` as it is when a message comes (tests and notebooks swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


@contextlib.contextmanager
def _fit_progress(show: bool = True) -> Iterator[None]:
    """Print the fit's stage messages (MLE start, compile, sampling, factors) as they happen.

    The logger is restored afterwards, so a second ``main()`` in the same process (tests,
    notebooks) neither prints each message twice nor writes to a stream since closed.
    """
    log = logging.getLogger("bdfm.inference.fitting")
    if not show:
        yield
        return
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("      %(message)s"))
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


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
        factor_volatility=args.factor_volatility,
        idio_volatility=args.idio_volatility,
        tails=args.tails,
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
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"--out {path} is a file, not a folder; choose another --out")
        if not overwrite and any((path / n).exists() for n in ("fit.nc", "report.html")):
            raise FileExistsError(
                f"{path} already holds a demo (fit.nc / report.html); pass --overwrite or "
                "choose another --out"
            )
    else:
        path, n = Path("bdfm-demo"), 1
        while (path / "fit.nc").exists() or (path / "report.html").exists():
            n += 1  # never replace an earlier run's files: number the new one
            path = Path(f"bdfm-demo-{n}")
    writable_folder(path, "--out", create=True)
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
    with _fit_progress():
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

    out = output_path(args.out, args.overwrite, example="fit.nc")
    stage = _Stages(3)
    data = read_csv_panel(args.data)
    data = data.loc[args.start : args.end]
    if args.returns:
        data = log_returns(data)
    stage(f"data: {args.data}, {data.shape[1]} series x {data.shape[0]} dates")
    model = _model(data, args)
    with _fit_progress(show=not args.quiet):
        fit = model.fit(**_fit_options(args))
    stage("fitted")
    print(_diagnostics_line(fit))
    fit.save(out, overwrite=args.overwrite)
    stage(f"saved: {out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    import bdfm

    out = output_path(args.out, args.overwrite, example="report.html")
    fit = bdfm.load(args.fit)
    weights = read_weights(args.weights, [str(c) for c in fit.model.panel.columns])
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

    csv = None if args.csv is None else output_path(args.csv, args.overwrite, "--csv", "table.csv")
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
    if csv is not None:
        table.to_csv(csv)
        print(f"table written to {csv}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from bdfm import datasets

    for name in datasets.list_datasets():
        text = datasets.describe(name).strip().replace("\n", "\n    ")
        print(f"{name}\n    {text}\n")
    return 0


def _sampling_args(p: argparse.ArgumentParser, draws: int, tune: int, chains: int) -> None:
    g = p.add_argument_group("sampling")
    g.add_argument(
        "--draws", type=_int_at_least(1), default=draws, help=f"draws per chain (default {draws})"
    )
    g.add_argument(
        "--tune",
        type=_int_at_least(0),
        default=tune,
        help=f"tuning steps per chain (default {tune})",
    )
    g.add_argument(
        "--chains", type=_int_at_least(1), default=chains, help=f"chains (default {chains})"
    )
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
    g.add_argument(
        "--factor-volatility",
        choices=["constant", "sv", "garch"],
        default="constant",
        help="factor innovation variances: constant (default), stochastic volatility (sv) "
        "or GARCH(1,1) of the factor shocks (garch)",
    )
    g.add_argument(
        "--idio-volatility",
        choices=["constant", "common_sv", "sv", "garch"],
        default="constant",
        help="idiosyncratic variances: constant (default), one common SV path, one per series "
        "(sv), or a GARCH(1,1) per series (garch)",
    )
    g.add_argument(
        "--tails",
        choices=["normal", "student_t"],
        default="normal",
        help="shocks: normal (default) or Student-t (a scale mixture per date)",
    )
    g.add_argument("--start", default=None, help="first date used (e.g. 2019-01-01)")
    g.add_argument("--end", default=None, help="last date used")


def _parser() -> argparse.ArgumentParser:
    from bdfm import __version__

    parser = _Parser(
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
    """Entry point of the ``bdfm`` console script.

    Returns the exit code: 0 success, 2 a user mistake (one line on stderr), 130
    interrupted (Ctrl-C, in any phase; files are written whole or not at all). Bad
    options exit with 2 through :class:`SystemExit`, ``--help`` with 0.
    """
    command = "bdfm"
    try:
        args = _parser().parse_args(argv)
        command = f"bdfm {args.command}"
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
        )
        # pytensor's "no BLAS" notes: harmless for bdfm (2% measured, docs/install.md)
        blas_log = logging.getLogger("pytensor.tensor.blas")
        level = blas_log.level
        blas_log.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module="pytensor")
                return args.func(args)
        finally:
            blas_log.setLevel(level)
    except USER_ERRORS as exc:
        msg = str(exc).strip().replace("\n", " ")
        print(f"{command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
