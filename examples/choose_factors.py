"""How many factors drive 20 large US stocks? Bai & Ng first, then Bayesian comparison.

1. ``bdfm.select_factors(..., method="ic")``: Bai & Ng's IC_p2 from posterior-mode fits,
   a first answer in seconds;
2. ``bdfm.select_factors(...)``: a Bayesian fit for every k (in parallel, through
   ``bdfm.fit_many``), compared by PSIS-LOO; the smallest k within one standard error of
   the best is chosen, and the reason is printed;
3. optionally (``--lfo``) the two best by leave-future-out cross-validation (PSIS-LFO).

Run: ``python examples/choose_factors.py [--fast] [--lfo]``.
"""

import argparse
import warnings

import bdfm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fast", action="store_true", help="small window, few draws (for CI)")
    parser.add_argument("--lfo", action="store_true", help="also compare by leave-future-out CV")
    args = parser.parse_args()

    returns = bdfm.datasets.load("sp500_returns")
    if args.fast:
        data, ks, fit_opts = (
            returns.loc["2022-07-01":].iloc[:, :8],
            range(1, 4),
            {"draws": 150, "tune": 150, "chains": 2, "sampler": "pymc", "cores": 1},
        )
    else:
        data, ks, fit_opts = returns.loc["2019-01-01":], range(1, 6), {"draws": 1000, "tune": 1000}
    print(f"{data.shape[1]} stocks x {data.shape[0]} days, k in {list(ks)}")

    ic = bdfm.select_factors(data, ks, method="ic", idiosyncratic="ar1")
    print("\n1) Bai & Ng (posterior modes):")
    print(ic.table[["V", "IC_p1", "IC_p2", "IC_p3"]].round(4).to_string())
    print(ic.reason)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        sel = bdfm.select_factors(data, ks, idiosyncratic="ar1", random_seed=1, **fit_opts)
    print("\n2) Bayesian fits compared by PSIS-LOO:")
    print(sel.table.drop(columns="warning").round(2).to_string())
    print(sel.reason)
    for w in caught:
        print("note:", w.message)

    if args.lfo:
        best_two = list(sel.table.index[:2])
        print(f"\n3) leave-future-out (PSIS-LFO, 1 step ahead) for {best_two}:")
        lfo = bdfm.compare(
            {n: sel.fits[n] for n in best_two}, method="lfo", min_train=int(0.8 * len(data))
        )
        print(lfo.drop(columns="warning").round(2).to_string())


# the guard matters: fit_many starts worker processes that import this file
if __name__ == "__main__":
    main()
