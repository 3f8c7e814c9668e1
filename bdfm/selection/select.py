"""How many factors? Bayesian comparison over k, and Bai & Ng's criteria as a fast first answer.

:func:`select_factors` fits every k (in parallel through :func:`bdfm.fit_many`), compares
the fits (:func:`bdfm.compare`, PSIS-LOO by default) and chooses the **smallest k whose
elpd is within one standard error of the best** (of the paired difference): a larger
model must earn its extra factor clearly. :func:`information_criteria` gives Bai & Ng
(2002) IC_p1..3 from posterior-mode fits in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bdfm.inference.fitting import fit_map
from bdfm.model import DynamicFactorModel
from bdfm.selection.compare import compare
from bdfm.selection.parallel import fit_many

__all__ = ["FactorSelection", "information_criteria", "select_factors"]


@dataclass(frozen=True)
class FactorSelection:
    """The chosen number of factors, why, and the evidence.

    Attributes
    ----------
    n_factors : int
        The chosen k.
    reason : str
        A short justification in words.
    table : pandas.DataFrame
        The comparison (``bdfm.compare``) or information criteria used.
    method : str
    fits : Mapping
        The fits by name (``"k=1"``...), empty for ``method="ic"``.
    """

    n_factors: int
    reason: str
    table: pd.DataFrame
    method: str
    fits: object = None

    def __repr__(self) -> str:
        return f"FactorSelection(n_factors={self.n_factors}, method={self.method!r})\n{self.reason}"


def _k_values(k_range: Iterable[int], n_series: int) -> list[int]:
    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 1:
        raise ValueError(f"k_range must hold positive numbers of factors, got {list(k_range)}")
    too_many = [k for k in ks if k >= n_series]
    if too_many:
        raise ValueError(
            f"k_range has {too_many} factors but the data have {n_series} series; every k must "
            "be smaller than the number of series"
        )
    return ks


def information_criteria(
    data: pd.DataFrame,
    k_range: Iterable[int] = range(1, 6),
    *,
    factor_order: int = 1,
    idiosyncratic: str = "iid",
    standardize: bool = True,
    **map_options,
) -> pd.DataFrame:
    r"""Bai & Ng (2002) criteria from the posterior mode of each k (fast, no sampling).

    ``V(k)`` is the mean squared residual ``y - Λ E[f | y]`` over the observed values
    (model units) at the mode; with n observed values, ``C² = min(N, T)``,

    - IC_p1 = ln V + k (N + T)/(N T) ln(N T/(N + T)),
    - IC_p2 = ln V + k (N + T)/(N T) ln C²,
    - IC_p3 = ln V + k ln(C²)/C²,

    with N T replaced by the number of observed values when some are missing.
    Returns one row per k (index ``k``) with ``V``, ``IC_p1..3``, the log posterior
    at the mode and the seconds taken; the smallest IC_p2 is Bai & Ng's choice.
    """

    rows = []
    n_series = data.shape[1]
    for k in _k_values(k_range, n_series):
        model = DynamicFactorModel(
            data,
            k,
            factor_order=factor_order,
            idiosyncratic=idiosyncratic,
            standardize=standardize,
        )
        res = fit_map(model, **map_options)
        f = model.smoothed_factors(res.params).to_numpy()
        resid = model.panel.values - f @ res.params["loadings"].T
        n_obs, (T, N) = model.n_obs, model.panel.values.shape
        V = float(np.nanmean(np.where(model.panel.mask, resid, np.nan) ** 2))
        c2 = min(N, T)
        scale = (N + T) / n_obs
        rows.append(
            {
                "k": k,
                "V": V,
                "IC_p1": np.log(V) + k * scale * np.log(n_obs / (N + T)),
                "IC_p2": np.log(V) + k * scale * np.log(c2),
                "IC_p3": np.log(V) + k * np.log(c2) / c2,
                "logp_map": res.logp,
                "converged": res.converged,
                "seconds": res.seconds + res.compile_seconds,
            }
        )
    return pd.DataFrame(rows).set_index("k")


def _choose(table: pd.DataFrame) -> tuple[int, str]:
    """Smallest k within one (paired) standard error of the best elpd, and why."""
    ks = {name: int(name.split("=")[1]) for name in table.index}
    best = table.index[0]
    close = [n for n in table.index if table.loc[n, "elpd_diff"] >= -table.loc[n, "dse"]]
    chosen = min(close, key=ks.get)
    lines = [f"k={ks[best]} has the highest elpd ({table.loc[best, 'elpd']:.1f})."]
    if chosen != best:
        d = table.loc[chosen]
        lines.append(
            f"k={ks[chosen]} is within one standard error of it "
            f"({d['elpd_diff']:.1f} ± {d['dse']:.1f}), so the smaller model is chosen."
        )
    for name in table.index:
        if name in close:
            continue
        d = table.loc[name]
        z = -d["elpd_diff"] / d["dse"] if d["dse"] > 0 else np.inf
        lines.append(
            f"k={ks[name]} is worse by {-d['elpd_diff']:.1f} ± {d['dse']:.1f} ({z:.1f} SE)."
        )
    if len(ks) > 1 and ks[chosen] == max(ks.values()):
        lines.append("It is the largest k tried: try larger values too before settling on it.")
    return ks[chosen], " ".join(lines)


def select_factors(
    data: pd.DataFrame,
    k_range: Iterable[int] = range(1, 6),
    *,
    method: str = "loo",
    factor_order: int = 1,
    idiosyncratic: str = "iid",
    standardize: bool = True,
    executor=None,
    lfo_options: dict | None = None,
    progress: bool = True,
    **fit_kwargs,
) -> FactorSelection:
    """Fit each number of factors and choose one.

    Parameters
    ----------
    data : pandas.DataFrame
    k_range : iterable of int
        The numbers of factors to try (each smaller than the number of series).
    method : {"loo", "lfo", "ic"}
        "loo" / "lfo": Bayesian fits compared by :func:`bdfm.compare`; the smallest
        k within one standard error of the best is chosen. "ic": Bai & Ng's IC_p2
        from posterior-mode fits (seconds; no uncertainty).
    factor_order, idiosyncratic, standardize :
        The rest of the specification, shared by every k.
    executor : see :func:`bdfm.fit_many` (None: a local process pool).
    lfo_options : dict
        ``min_train``, ``steps``, ... for method="lfo" (see :func:`bdfm.selection.lfo.lfo`).
    **fit_kwargs
        Options of every Bayesian fit (``draws``, ``tune``, ``chains``, ``random_seed``,
        ...); not used by ``method="ic"``, which finds posterior modes only.
    """

    ks = _k_values(k_range, data.shape[1])
    shared = {
        "factor_order": factor_order,
        "idiosyncratic": idiosyncratic,
        "standardize": standardize,
    }
    if method == "ic":
        ic = information_criteria(data, ks, **shared)
        k = int(ic["IC_p2"].idxmin())
        reason = (
            f"Bai & Ng's IC_p2 is smallest at k={k} ({ic.loc[k, 'IC_p2']:.4f}); "
            "a fast first answer from posterior modes, without uncertainty."
        )
        if len(ks) > 1 and k == max(ks):
            reason += " It is the largest k tried: try larger values too."
        return FactorSelection(k, reason, ic, method, {})
    if method not in ("loo", "lfo"):
        raise ValueError(f"method must be 'loo', 'lfo' or 'ic', got {method!r}")
    specs = {f"k={k}": {"n_factors": k, **shared} for k in ks}
    fits = fit_many(specs, data, executor=executor, progress=progress, **fit_kwargs)
    fits.raise_errors()
    table = compare(dict(fits), method=method, **(lfo_options or {}))
    k, reason = _choose(table)
    return FactorSelection(k, reason, table, method, fits)
