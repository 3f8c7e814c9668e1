"""Bayesian fit of the bundled S&P 500 returns: posterior loadings, factors and diagnostics.

Run: python examples/bayesian_returns.py [--fast] [--out fit.nc]
"""

import argparse
import logging

import bdfm

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
parser = argparse.ArgumentParser()
parser.add_argument("--fast", action="store_true", help="short window, few draws (for CI)")
parser.add_argument("--out", help="save the fit to this netCDF file")
args = parser.parse_args()

returns = bdfm.datasets.load("sp500_returns")
if args.fast:
    returns, draws = returns.loc["2022-01-01":].iloc[:, :8], 150
else:
    returns, draws = returns.loc["2018-01-01":], 1000

model = bdfm.DynamicFactorModel(returns, n_factors=2, idiosyncratic="ar1")
fit = model.fit(draws=draws, tune=draws, chains=2 if args.fast else 4, random_seed=1)
print(fit.diagnostics())
print(fit.summary(var_names=["factor_ar", "loading_scale"]).round(3))
print("posterior mean loadings:\n", fit.loadings().round(2))
print("market factor, last days:\n", fit.factors().xs("f1", axis=1, level=1).tail().round(2))
if args.out:
    fit.save(args.out, overwrite=True)
    print(f"saved to {args.out}; reload with bdfm.load({args.out!r})")
