"""Command line interface: ``bdfm demo``, ``bdfm datasets``, ``bdfm --version``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    import bdfm

    t0 = time.perf_counter()
    data = bdfm.datasets.load(args.dataset)
    if args.start:
        data = data.loc[args.start :]
    if args.end:
        data = data.loc[: args.end]
    print(
        f"[1/3] data: {args.dataset} — {data.shape[1]} series x {data.shape[0]} days "
        f"({data.index[0].date()} to {data.index[-1].date()})",
        flush=True,
    )
    model = bdfm.DynamicFactorModel(
        data,
        n_factors=args.factors,
        factor_order=args.order,
        idiosyncratic=args.idiosyncratic,
    )
    print(
        f"[2/3] model: {model!r}; compiling the likelihood and maximising it "
        "(the first run on a machine also compiles bdfm's kernels, about 20-30 s) ...",
        flush=True,
    )
    result = model.fit_mle()
    print("[3/3] result:", flush=True)
    print(result.summary())
    print(f"done in {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from bdfm import datasets

    for name in datasets.list_datasets():
        print(f"{name}: {datasets.describe(name)}")
    return 0


def _parser() -> argparse.ArgumentParser:
    from bdfm import __version__

    parser = argparse.ArgumentParser(
        prog="bdfm", description="Bayesian dynamic factor models with an exact Kalman likelihood."
    )
    parser.add_argument("--version", action="version", version=f"bdfm {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit the bundled S&P 500 returns panel and print a summary")
    demo.add_argument(
        "--dataset", default="sp500_returns", help="bundled dataset (see `bdfm datasets`)"
    )
    demo.add_argument("--factors", type=int, default=3, help="number of factors (default 3)")
    demo.add_argument("--order", type=int, default=1, help="factor VAR order (default 1)")
    demo.add_argument("--idiosyncratic", choices=["iid", "ar1"], default="ar1")
    demo.add_argument("--start", default="2015-01-01", help="first date used (default 2015-01-01)")
    demo.add_argument("--end", default=None, help="last date used (default: end of data)")
    demo.set_defaults(func=_demo)
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
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"bdfm: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
