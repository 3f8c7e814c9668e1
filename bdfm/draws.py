"""Posterior draws as plain arrays: the (chain, draw) dims stacked into one leading axis."""

from __future__ import annotations

import numpy as np
import xarray as xr

from bdfm.dims import CHAIN, DRAW

__all__ = ["stack_draws"]


def stack_draws(var: xr.DataArray) -> np.ndarray:
    """The values of ``var`` with chain and draw stacked into one leading axis D (chain-major)."""
    var = var.transpose(CHAIN, DRAW, ...)
    return var.values.reshape((-1, *var.shape[2:]))
