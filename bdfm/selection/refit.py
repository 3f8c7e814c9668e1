"""Refit a fitted model's specification to other data (windows, LFO, backtests).

:func:`fit_options` recovers, from a :class:`~bdfm.results.FitResult`, everything needed to
repeat the fit: the model options (spec) and the fit options (priors, structure
with anchors/groups/blocks by series name, sampler, draws, tune, chains, seed). The
structure is taken as it was, so a refit on a shorter window is identified the same way
(same anchor series) and is comparable draw for draw.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from bdfm.dims import CHAIN, DRAW
from bdfm.model import DynamicFactorModel
from bdfm.results import fit as fit_model
from bdfm.spec import DFMSpec

VOLATILITY_OPTIONS = ("factor_volatility", "idio_volatility", "tails")

__all__ = ["fit_options", "refit"]


def fit_options(fit) -> tuple[dict, dict]:
    """``(model_kwargs, fit_kwargs)`` that repeat ``fit`` on other data with the same columns."""
    model = fit.model
    columns = list(model.panel.columns)
    b = fit.bspec
    defaults = DFMSpec(n_factors=model.spec.n_factors)
    # the volatility options only when set: a constant model's options read as before them
    model_kwargs = {
        key: value
        for key, value in asdict(model.spec).items()
        if key not in VOLATILITY_OPTIONS or value != getattr(defaults, key)
    }
    fit_kwargs: dict = {
        "loadings": b.loadings,
        "identification": b.identification,
        "dynamics": b.dynamics,
        "priors": dict(fit.priors),
    }
    if b.anchors is not None:
        fit_kwargs["anchors"] = [columns[a] for a in b.anchors]
    if b.groups is not None:
        fit_kwargs["groups"] = dict(zip(columns, b.groups, strict=True))
    if b.blocks is not None:
        mask = np.array(b.blocks, dtype=bool)
        fit_kwargs["blocks"] = {c: np.flatnonzero(mask[i]).tolist() for i, c in enumerate(columns)}
    attrs = fit.idata.attrs
    post = fit.posterior
    fit_kwargs["chains"] = int(post.sizes[CHAIN])
    fit_kwargs["draws"] = int(post.sizes[DRAW])
    tune = int(attrs.get("tune", -1))
    fit_kwargs["tune"] = tune if tune >= 0 else fit_kwargs["draws"]
    if attrs.get("sampler"):
        fit_kwargs["sampler"] = str(attrs["sampler"])
    seed = int(attrs.get("random_seed", -1))
    fit_kwargs["random_seed"] = None if seed < 0 else seed
    return model_kwargs, fit_kwargs


def refit(fit, data, **overrides):
    """Fit ``fit``'s specification to ``data`` (same columns); ``overrides`` change fit options."""

    model_kwargs, fit_kwargs = fit_options(fit)
    if list(data.columns) != list(fit.model.panel.columns):
        raise ValueError("refit needs data with the same columns, in the same order, as the fit")
    return fit_model(DynamicFactorModel(data, **model_kwargs), **{**fit_kwargs, **overrides})
