"""Bayesian factors of a real daily crypto price panel (read from disk, never bundled).

The panel (23 assets, 2017-2025, NaN before each asset's listing) lives outside the package,
in ../shared/data/crypto/ beside the repository; its README gives provenance and units.
Prices become log returns in percent (ragged starts stay NaN: the model skips them), and a
Bayesian dynamic factor model finds the common drivers.

Run: python examples/crypto_factors.py [CSV] [--fast] [--factors K] [--idiosyncratic ar1]
Exit code 2 when the CSV is not found.
"""

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

import bdfm

REPO = Path(__file__).resolve().parents[1]
RELATIVE = Path("shared", "data", "crypto", "crypto_daily_close.csv")
# beside the repository (../shared, as on CI), else inside it (shared/, as on some machines)
CANDIDATES = [REPO.parent / RELATIVE, REPO / RELATIVE]
FAST_ASSETS = ["BTC", "ETH", "SOL", "XRP", "DOGE", "TON"]  # TON lists on 2024-08-08
FAST_WINDOW = ("2024-05-01", "2024-12-31")

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("csv", nargs="?", type=Path, help=f"daily closes (default: ../{RELATIVE})")
parser.add_argument("--fast", action="store_true", help="short window, 6 assets, few draws (CI)")
parser.add_argument("--factors", type=int, help="number of factors (default 2 fast, 3 full)")
parser.add_argument("--idiosyncratic", choices=["iid", "ar1"], default="iid")
args = parser.parse_args()

path = args.csv or next((p for p in CANDIDATES if p.is_file()), CANDIDATES[0])
if not path.is_file():
    print(
        f"crypto price panel not found: {path}\n"
        f"pass the path of a CSV of daily closes (first column: date) as the first argument; "
        f"the project's panel is ../{RELATIVE} beside the repository",
        file=sys.stderr,
    )
    sys.exit(2)

prices = pd.read_csv(path, index_col=0, parse_dates=True).sort_index()
returns = bdfm.datasets.log_returns(prices)  # percent; NaN before listing / after delisting
if args.fast:
    window = returns.loc[FAST_WINDOW[0] : FAST_WINDOW[1]]
    if window.empty:  # another file: its last 240 days
        window = returns.iloc[-240:]
    assets = [a for a in FAST_ASSETS if a in window] or list(window.columns)
    window = window[assets[:6]]
    n_factors, draws, chains, min_obs = args.factors or 2, 100, 2, 60
else:
    window = returns.loc["2019-01-01":]
    n_factors, draws, chains, min_obs = args.factors or 3, 1000, 4, 365
window = window.loc[:, window.count() >= min_obs].dropna(how="all")
print(f"{path.name}: {window.shape[1]} assets, {window.index[0].date()} to "
      f"{window.index[-1].date()}, {int(window.isna().to_numpy().sum())} missing returns")  # fmt: skip
first = window.apply(pd.Series.first_valid_index).dt.strftime("%Y-%m-%d")
print("first return (ragged starts):", first.to_dict())

model = bdfm.DynamicFactorModel(window, n_factors=n_factors, idiosyncratic=args.idiosyncratic)
fit = model.fit(draws=draws, tune=draws, chains=chains, random_seed=1)
print(fit.diagnostics())
print(fit.summary(var_names=["factor_ar"]).round(3).to_string())
print("\nposterior mean loadings (standardised returns):\n", fit.loadings().round(2))

if hasattr(fit, "variance_decomposition"):
    from bdfm.dims import IDIOSYNCRATIC, SOURCE
    from bdfm.posterior.forecast import summarize_draws

    shares = fit.variance_decomposition()
    common = shares.drop_sel({SOURCE: IDIOSYNCRATIC}).sum(SOURCE)
    table = summarize_draws(common, prob=0.9)[["mean", "lower", "upper"]]
    print("\nshare of each asset's variance explained by the factors (posterior, 90% interval):")
    print(table.sort_values("mean", ascending=False).round(2).to_string())

market = fit.factors().xs("f1", axis=1, level=1)
print("\nfirst factor, last days (posterior mean and 90% interval):\n", market.tail().round(2))
