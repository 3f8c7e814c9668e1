"""Compare fitted specifications by expected log predictive density (PSIS-LOO or LFO).

Both methods reduce every model to a vector of pointwise log predictive densities
over time, in the units of the data (original units, so models with different
scalings compare); :func:`comparison_table` then ranks the models, gives each
difference to the best its paired standard error, and computes stacking weights
(Yao, Vehtari, Simpson & Gelman 2018).

``method="loo"`` applies PSIS-LOO to the one-step terms ``log p(y_t | y_{1:t-1}, θ)``
stored in ``fit.idata.log_likelihood``. For a time series this approximates
leaving the time point out (the later terms still see y_t); it is quick and right
for ranking in-sample fit. ``method="lfo"`` (:mod:`bdfm.selection.lfo`) answers the
out-of-sample question: predict what comes next from the past only.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import logsumexp, softmax

from bdfm.dims import CHAIN, DRAW, TIME
from bdfm.io import load
from bdfm.selection.lfo import lfo

__all__ = ["compare", "comparison_table", "loo_pointwise", "stacking_weights"]

PARETO_K_THRESHOLD = 0.7
MIN_DRAWS = 100
COLUMNS = ["rank", "elpd", "se", "elpd_diff", "dse", "p_eff", "weight", "n_points", "warning"]


def stacking_weights(lpd: np.ndarray) -> np.ndarray:
    """Stacking weights maximising ``sum_t log sum_m w_m exp(lpd[m, t])`` over the simplex.

    Parameters
    ----------
    lpd : (M, T) array of pointwise log predictive densities, one row per model.
    """
    lpd = np.asarray(lpd, dtype=float)
    m = lpd.shape[0]
    if m == 1:
        return np.ones(1)
    shifted = lpd - lpd.max(axis=0)

    def objective(z):
        logw = np.append(z, 0.0) - logsumexp(np.append(z, 0.0))
        mix = logsumexp(shifted + logw[:, None], axis=0)
        resp = np.exp(shifted + logw[:, None] - mix)  # (M, T) responsibilities
        w = np.exp(logw)
        grad_logw = resp.sum(axis=1)
        # d logw_m / d z_j = delta_mj - w_j, for j < M-1
        grad = grad_logw[:-1] - w[:-1] * grad_logw.sum()
        return -mix.sum(), -grad

    res = optimize.minimize(objective, np.zeros(m - 1), jac=True, method="L-BFGS-B")
    return softmax(np.append(res.x, 0.0))


def loo_pointwise(fit) -> tuple[np.ndarray, float, np.ndarray, list[str]]:
    """PSIS-LOO of one fit: pointwise elpd (T,), p_loo, Pareto k (T,), warnings."""
    fit.model.spec.require_constant_gaussian(
        "PSIS-LOO (not valid over time for latent volatility paths)"
    )
    ll = fit.idata.log_likelihood["y"]
    notes = []
    n_draws = ll.sizes[CHAIN] * ll.sizes[DRAW]
    if n_draws < MIN_DRAWS:
        notes.append(f"only {n_draws} posterior draws; PSIS needs a few hundred to be reliable")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's own warnings are rephrased below
        res = az.loo(fit.idata, pointwise=True, var_name="y")
    k = np.asarray(res.pareto_k)
    bad = np.flatnonzero(k > PARETO_K_THRESHOLD)
    if bad.size:
        dates = pd.DatetimeIndex(ll[TIME].values)[bad]
        shown = ", ".join(str(d.date()) for d in dates[:5]) + (" ..." if bad.size > 5 else "")
        notes.append(
            f"Pareto k > {PARETO_K_THRESHOLD} at {bad.size} time point(s) ({shown}): PSIS-LOO is "
            "unreliable there; use method='lfo' or more draws"
        )
    return np.asarray(res.loo_i), float(res.p_loo), k, notes


def _check_same_data(fits: Mapping) -> None:
    names = list(fits)
    ref = fits[names[0]].idata.observed_data["y"]
    for name in names[1:]:
        other = fits[name].idata.observed_data["y"]
        same = (
            other.shape == ref.shape
            and np.array_equal(other[TIME].values, ref[TIME].values)
            and np.allclose(other.values, ref.values, equal_nan=True, rtol=1e-12, atol=0)
        )
        if not same:
            raise ValueError(
                f"fits {names[0]!r} and {name!r} are not of the same data (dates, series or "
                "values differ); models are compared on one and the same data set"
            )


def _check_distinct_names(fits: Mapping) -> None:
    """Refuse names that become the same text (the table's index): one fit would vanish."""
    seen: dict[str, list] = {}
    for name in fits:
        seen.setdefault(str(name), []).append(name)
    clashes = [keys for keys in seen.values() if len(keys) > 1]
    if clashes:
        shown = "; ".join(" and ".join(map(repr, keys)) for keys in clashes)
        raise ValueError(
            f"fits {shown} have the same name once written as text (the table's row "
            "labels), so one would silently replace the other; give every fit a distinct name"
        )


def comparison_table(
    pointwise: Mapping[str, np.ndarray],
    p_eff: Mapping[str, float] | None = None,
    notes: Mapping[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Rank models from their pointwise elpd (same points, same order for every model).

    Returns a DataFrame indexed by model name, best first, with columns ``rank``,
    ``elpd``, ``se``, ``elpd_diff`` (to the best, ≤ 0), ``dse`` (standard error of
    the paired difference), ``p_eff``, ``weight`` (stacking), ``n_points`` and
    ``warning`` (text, empty when none).
    """
    names = list(pointwise)
    lpd = np.vstack([np.asarray(pointwise[n], dtype=float) for n in names])
    n_points = lpd.shape[1]
    elpd = lpd.sum(axis=1)
    se = (
        np.sqrt(n_points * lpd.var(axis=1, ddof=1)) if n_points > 1 else np.full(len(names), np.nan)
    )
    best = int(np.argmax(elpd))
    diff = lpd - lpd[best]
    dse = np.sqrt(n_points * diff.var(axis=1, ddof=1)) if n_points > 1 else np.zeros(len(names))
    table = pd.DataFrame(
        {
            "elpd": elpd,
            "se": se,
            "elpd_diff": diff.sum(axis=1),
            "dse": dse,
            "p_eff": [np.nan if p_eff is None else p_eff.get(n, np.nan) for n in names],
            "weight": stacking_weights(lpd),
            "n_points": n_points,
            "warning": ["; ".join((notes or {}).get(n, [])) for n in names],
        },
        index=pd.Index(names, name="model"),
    )
    table = table.sort_values("elpd", ascending=False)
    table.insert(0, "rank", np.arange(len(table)))
    return table[COLUMNS]


def compare(
    fits: Mapping,
    method: str = "loo",
    **lfo_options,
) -> pd.DataFrame:
    """Rank fitted specifications of the same data by expected log predictive density.

    Parameters
    ----------
    fits : dict
        ``name -> FitResult`` (or a path to a saved fit), all of the same data.
    method : {"loo", "lfo"}
        ``"loo"``: PSIS-LOO on the stored one-step log-likelihood (no refits).
        ``"lfo"``: leave-future-out cross-validation, see :func:`bdfm.selection.lfo.lfo`, whose
        options (``min_train``, ``steps``, ``exact``, ``k_threshold``, ``executor``
        and refit options) are passed through.

    Returns
    -------
    pandas.DataFrame
        One row per model, best first: ``rank``, ``elpd``, ``se``, ``elpd_diff``,
        ``dse``, ``p_eff`` (LOO's effective number of parameters; NaN for LFO),
        ``weight`` (stacking), ``n_points`` and ``warning``. A warning is also
        issued when an estimate is unreliable (Pareto k̂ > 0.7 at named dates, too
        few draws). Differences smaller than about two ``dse`` are not clear.
    """

    if not isinstance(fits, Mapping) or len(fits) < 1:
        raise TypeError("fits must be a dict name -> FitResult (or path of a saved fit)")
    _check_distinct_names(fits)
    fits = {
        str(n): (load(f) if isinstance(f, str | bytes) or hasattr(f, "__fspath__") else f)
        for n, f in fits.items()
    }
    if method not in ("loo", "lfo"):
        raise ValueError(f"method must be 'loo' or 'lfo', got {method!r}")
    if method == "loo" and lfo_options:
        raise TypeError(f"options {sorted(lfo_options)} apply to method='lfo' only")
    _check_same_data(fits)
    pointwise, p_eff, notes = {}, {}, {}
    for name, fit in fits.items():
        if method == "loo":
            pointwise[name], p_eff[name], _, notes[name] = loo_pointwise(fit)
        else:
            res = lfo(fit, **lfo_options)
            pointwise[name], notes[name] = res.pointwise.to_numpy(), res.notes
    table = comparison_table(pointwise, p_eff if method == "loo" else None, notes)
    table.attrs["method"] = method
    for name, msgs in notes.items():
        for msg in msgs:
            warnings.warn(f"{name}: {msg}", UserWarning, stacklevel=2)
    return table
