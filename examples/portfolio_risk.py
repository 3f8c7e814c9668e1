"""Forecasts and posterior portfolio risk from a Bayesian fit of the S&P 500 returns.

Fan chart numbers, the factor-implied covariance, VaR/ES with Euler risk
contributions (each a posterior distribution), the variance decomposition, and a
one-step VaR backtest with Kupiec and Christoffersen tests.

Run: python examples/portfolio_risk.py [--fast]
"""

import argparse
import logging

import numpy as np
import pandas as pd

import bdfm
from bdfm.posterior.backtest import backtest_var
from bdfm.posterior.forecast import summarize_draws

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
parser = argparse.ArgumentParser()
parser.add_argument("--fast", action="store_true", help="short window, few draws (for CI)")
args = parser.parse_args()

returns = bdfm.datasets.load("sp500_returns")
if args.fast:
    returns, draws = returns.loc["2022-01-01":].iloc[:, :8], 150
else:
    returns, draws = returns.loc["2018-01-01":], 1000

model = bdfm.DynamicFactorModel(returns, n_factors=2, idiosyncratic="ar1")
fit = model.fit(draws=draws, tune=draws, chains=2 if args.fast else 4, random_seed=1)

# 1. five-day posterior predictive of every stock (original units: returns)
forecast = fit.forecast(steps=5, random_seed=2)
print("5-day forecast, 90% intervals:\n", forecast.summary(prob=0.9).head(10).round(4))

# 2. the factor-implied covariance, conditional on the data to the last date
cov = fit.covariance(horizon=1)
print(
    "posterior mean of the conditional vols:\n",
    np.sqrt(cov.mean(("chain", "draw")).values.diagonal()).round(4),
)

# 3. risk of an equal-weight and a long-short portfolio
series = model.panel.columns
weights = pd.DataFrame(
    [np.full(len(series), 1 / len(series)), np.r_[np.ones(4), -np.ones(len(series) - 4)] / 4],
    index=["equal", "long_short"],
    columns=series,
)
risk = fit.risk(weights, alpha=(0.95, 0.99))
print(risk.summary().round(4).to_string())

# 4. how much of each stock's variance the factors explain
shares = summarize_draws(fit.variance_decomposition())
print(shares["mean"].unstack().round(2))

# 5. one-step 95% VaR backtest with fast posterior-mode refits
bt = backtest_var(
    returns,
    {"n_factors": 2, "idiosyncratic": "ar1"},
    window=250 if not args.fast else 150,
    alpha=0.95,
    refit_every=50,
    method="map",
)
print(
    bt, "\nKupiec:", bt.kupiec(), "\nChristoffersen:", bt.christoffersen()["conditional_coverage"]
)
