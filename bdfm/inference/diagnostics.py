"""Sampler diagnostics with plain-language warnings and what to try.

:func:`diagnose` returns a table (one row per parameter group) of the worst
R-hat, the smallest bulk and tail ESS, plus divergences and E-BFMI per chain, and
a list of warnings. Thresholds follow Vehtari et al. (2021): R-hat ≤ 1.01 and
ESS ≥ 100 per chain (at least 400 in total), E-BFMI ≥ 0.3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bdfm.dims import CHAIN, DRAW

__all__ = ["Diagnostics", "diagnose", "min_ess_target", "varying_entries"]

RHAT_MAX = 1.01
EBFMI_MIN = 0.3


@dataclass
class Diagnostics:
    """Convergence summary of a fit: ``table`` (per variable) and ``warnings`` (text)."""

    table: pd.DataFrame
    divergences: int
    n_draws: int
    ebfmi: np.ndarray
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed (no warnings)."""
        return not self.warnings

    def __str__(self) -> str:
        head = f"{self.n_draws} draws, {self.divergences} divergences, E-BFMI " + ", ".join(
            f"{v:.2f}" for v in self.ebfmi
        )
        body = self.table.to_string(float_format=lambda v: f"{v:.3g}")
        tail = "\n".join(f"WARNING: {w}" for w in self.warnings) or "All checks passed."
        return f"{head}\n{body}\n{tail}"

    def __repr__(self) -> str:
        return str(self)


def varying_entries(var: xr.DataArray) -> np.ndarray:
    """Entries of a posterior variable that vary across draws.

    Structural zeros are excluded: ArviZ reports a constant's ESS as the number
    of draws, which would hide a bad one.

    Parameters
    ----------
    var : DataArray (chain, draw, ...)

    Returns
    -------
    ndarray of bool, shape ``var.shape[2:]``.
    """
    values = var.values
    return np.ptp(values.reshape((-1, *values.shape[2:])), axis=0) > 0


def min_ess_target(n_chains: int) -> float:
    """The smallest acceptable bulk and tail ESS: 100 per chain and at least 400 in total.

    A single chain needs 100.
    """
    return max(100.0 * n_chains, 400.0) if n_chains > 1 else 100.0


def diagnose(idata: az.InferenceData, var_names: list[str]) -> Diagnostics:
    """Diagnostics of ``var_names`` in ``idata.posterior`` (and sample_stats).

    Parameters
    ----------
    idata : InferenceData with a posterior (and, for divergences and E-BFMI,
        ``sample_stats``).
    var_names : the posterior variables to check; absent ones are skipped.

    Returns
    -------
    Diagnostics
        The worst R-hat and smallest ESS per variable, divergences, E-BFMI and
        the warnings (empty when every check passes).
    """
    post = idata.posterior
    n_chains, n_draws = post.sizes[CHAIN], post.sizes[DRAW]
    rows = {}
    present = [v for v in var_names if v in post]
    # structural zeros (identification, blocks) have no variance: NaN, ignored
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = az.rhat(post[present]) if n_chains > 1 else None
        ess_bulk = az.ess(post[present], method="bulk")
        ess_tail = az.ess(post[present], method="tail")
    for v in present:
        varying = varying_entries(post[v])
        if not varying.any():
            continue
        rows[v] = {
            "r_hat": float(np.nanmax(rhat[v].values[varying])) if rhat is not None else np.nan,
            "ess_bulk": float(np.nanmin(ess_bulk[v].values[varying])),
            "ess_tail": float(np.nanmin(ess_tail[v].values[varying])),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "variable"
    stats = idata.get("sample_stats")
    divergences = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    ebfmi = (
        np.atleast_1d(az.bfmi(idata))
        if stats is not None and "energy" in stats
        else np.array([np.nan])
    )
    warnings = []
    if rhat is not None and (table["r_hat"] > RHAT_MAX).any():
        bad = table.index[table["r_hat"] > RHAT_MAX].tolist()
        warnings.append(
            f"R-hat above {RHAT_MAX} for {bad} (worst {table['r_hat'].max():.3f}): the chains "
            "disagree. Run more tuning/draws (tune=2000), check for multiple modes "
            "(identification='rsp' aligns mirror-image solutions), or simplify the model."
        )
    target = min_ess_target(n_chains)
    low = table.index[(table["ess_bulk"] < target) | (table["ess_tail"] < target)].tolist()
    if low:
        warnings.append(
            f"effective sample size below {target:.0f} for {low} (smallest bulk "
            f"{table['ess_bulk'].min():.0f}, tail {table['ess_tail'].min():.0f}): posterior "
            "summaries are noisy. Draw more (draws=2000) or run more chains."
        )
    if divergences:
        warnings.append(
            f"{divergences} divergent transitions: the sampler met curvature it could not "
            "follow and the posterior may be biased. Try target_accept=0.95 (pymc) / "
            "a longer tune, tighter priors, or loadings='normal' instead of 'horseshoe'."
        )
    if np.any(ebfmi < EBFMI_MIN):
        warnings.append(
            f"E-BFMI below {EBFMI_MIN} in some chains ({np.round(ebfmi, 2).tolist()}): the "
            "sampler explores the energy distribution poorly (often a funnel in the "
            "hierarchical scales). Try loadings='normal' or tighter scale priors."
        )
    return Diagnostics(table, divergences, n_chains * n_draws, ebfmi, warnings)
