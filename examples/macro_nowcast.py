"""Nowcasting the ragged edge of the bundled monthly US macro panel (FRED-MD) with a DFM.

The panel ends unevenly: a few series are not yet published for the last month. A dynamic
factor model fits the exact likelihood over the missing values; its smoother fills them in
(the nowcast) from the series that are published.

Run: python examples/macro_nowcast.py [--fast]
"""

import argparse
import logging

import pandas as pd

import bdfm

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fast", action="store_true", help="short window, few series and draws (CI)")
args = parser.parse_args()

FAST_SERIES = [
    "INDPRO", "PAYEMS", "UNRATE", "RETAILx", "CMRMTSPLx", "BUSINVx",
    "HOUST", "CPIAUCSL", "M2SL", "NONREVSL",
]  # fmt: skip
HEADLINE = ["INDPRO", "PAYEMS", "CMRMTSPLx", "BUSINVx"]

macro = bdfm.datasets.load("us_macro")  # stationary, NaN = missing (see describe("us_macro"))
info = bdfm.datasets.series_info("us_macro")
if args.fast:
    panel, n_factors, draws, chains = macro.loc["2010-01-01":, FAST_SERIES], 1, 100, 2
else:
    panel, n_factors, draws, chains = macro.loc["1985-01-01":], 3, 1000, 4
# FRED-MD's rule: values > 10 IQRs from the median (e.g. April 2020) become missing
panel = bdfm.datasets.mask_outliers(panel)
print(f"{panel.shape[1]} series, {panel.index[0]:%Y-%m} to {panel.index[-1]:%Y-%m}; "
      f"{int(panel.isna().to_numpy().sum())} missing values (outliers masked)")  # fmt: skip

# --- the ragged edge: which series are missing in the last months
edge = panel.iloc[-4:]
ragged = edge.columns[edge.isna().any()]
grid = edge[ragged].notna().T.replace({True: "obs", False: "--"})
grid.columns = grid.columns.strftime("%Y-%m")
print("\nragged edge (series missing in the last 4 months; -- = not yet published):")
print(grid.join(info.loc[ragged, "description"]).to_string())

# --- maximum likelihood: loadings, smoothed factors, in-sample fit
model = bdfm.DynamicFactorModel(panel, n_factors=n_factors, factor_order=1, idiosyncratic="iid")
mle = model.fit_mle()
print("\n" + mle.summary())
factors = model.smoothed_factors(mle.params)
print("\nsmoothed factors E[f_t | all data], last 6 months:")
print(factors.tail(6).round(2))

# the common component Λ E[f_t | data], in the series' own units: the in-sample fit where a
# series is observed, the nowcast where it is missing
scaling = model.panel.scaling
common = pd.DataFrame(
    scaling.to_original(factors.to_numpy() @ mle.params["loadings"].T),
    index=panel.index,
    columns=panel.columns,
)
resid = panel - common
r2 = 1 - resid.var() / panel.var()
print("\nin-sample R² of the common component (observed months):")
print(r2.sort_values(ascending=False).round(2).to_string())
show = [s for s in HEADLINE if s in panel]
print("\nobserved vs fitted, last 4 months (transformed units, see series_info):")
print(pd.concat({"observed": panel[show], "fitted": common[show]}, axis=1).tail(4).round(4))
print("\nMLE nowcast of the missing ragged-edge values:")
print(common[ragged].where(edge[ragged].isna()).dropna(how="all").round(4).to_string())

# --- Bayesian fit: posterior factors, diagnostics and, when available, a predictive nowcast
fit = model.fit(draws=draws, tune=draws, chains=chains, random_seed=1)
print("\n" + str(fit.diagnostics()))
posterior_f = fit.factors()["mean"]
corr = posterior_f.corrwith(factors).round(3)
print(f"correlation of posterior-mean and MLE factors (sign is arbitrary): {corr.to_dict()}")
if hasattr(fit, "forecast"):
    from bdfm.dims import TIME

    pred = fit.forecast(steps=1, random_seed=1)
    table = pred.summary(prob=0.9, nowcast=True)
    missing = edge[ragged].isna().stack()
    wanted = missing[missing].index
    print("\nBayesian nowcast of the ragged edge (mean and 90% interval):")
    print(table.loc[table.index.intersection(wanted)].round(4).to_string())
    print("\none-month-ahead forecast of the headline series:")
    print(table.loc[(pred.draws[TIME].values[0], show), :].round(4).to_string())
