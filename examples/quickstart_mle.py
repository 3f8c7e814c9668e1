"""Quickstart: exact likelihood and maximum likelihood on the bundled S&P 500 returns.

Run: python examples/quickstart_mle.py [--fast]
"""

import argparse

import bdfm

parser = argparse.ArgumentParser()
parser.add_argument("--fast", action="store_true", help="a short window (for CI)")
args = parser.parse_args()

returns = bdfm.datasets.load("sp500_returns")
returns = returns.loc["2022-07-01":] if args.fast else returns.loc["2015-01-01":]

model = bdfm.DynamicFactorModel(returns, n_factors=2, factor_order=1, idiosyncratic="ar1")
fit = model.fit_mle()
print(fit.summary())

# the same likelihood, evaluated pointwise at the estimate: log p(y_t | y_{1:t-1})
pointwise = model.loglike_pointwise(fit.params)
print(f"worst day: {returns.index[pointwise.argmin()].date()} (log-lik {pointwise.min():.1f})")

# smoothed market factors E[f_t | all data]
print(model.smoothed_factors(fit.params).tail())
