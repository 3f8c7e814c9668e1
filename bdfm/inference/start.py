"""Starting values for the Bayesian model from a point estimate of the natural parameters.

Random (jittered) starts land chains of a factor model in different modes; every
chain starts instead from one fast point estimate, rotated into the identified
form and mapped onto the model's free variables (their non-centred scales
included). :func:`point_to_free` gives the values of the free random variables
(constrained space) that reproduce given loadings, VAR and idiosyncratic
parameters as closely as the prior structure allows.
"""

from __future__ import annotations

import numpy as np

from bdfm.inference.gauge import GaugeFrame, fold_anchor_signs, gauge_frame
from bdfm.inference.identification import rotate_params, rotation_to_anchors
from bdfm.inference.pymc_model import BayesSpec, loading_layout

__all__ = ["frame_of", "identified_params", "point_to_free", "split_frame"]

_FLOOR = 1e-3


def identified_params(params: dict[str, np.ndarray], bspec: BayesSpec) -> dict[str, np.ndarray]:
    """Rotate a point estimate into the identified form of ``bspec``.

    Lower-triangular identification: rotate so the anchors' loadings are lower
    triangular with a positive diagonal (with block restrictions, where a
    rotation would break the zeros, only the column signs are fixed and the
    masked entries are set to zero).
    """
    out = {k: np.array(v, dtype=float, copy=True) for k, v in params.items()}
    if bspec.identification != "lower_triangular":
        return out
    anchors = list(bspec.anchors)
    if bspec.mask is None:
        return rotate_params(out, rotation_to_anchors(out["loadings"], anchors))
    out["loadings"], out["factor_ar"], _ = fold_anchor_signs(
        out["loadings"], anchors, out["factor_ar"]
    )
    out["loadings"] = out["loadings"] * bspec.mask
    return out


def split_frame(reference_loadings: np.ndarray, bspec: BayesSpec) -> GaugeFrame | None:
    """The gauge-split frame around the identified ``reference_loadings`` (None: degenerate)."""
    lam = np.asarray(reference_loadings, dtype=float)
    n, k = lam.shape
    ident = identified_params({"loadings": lam, "factor_ar": np.zeros((1, k, k))}, bspec)
    free, positive = loading_layout(bspec, n, k)
    return gauge_frame(ident["loadings"], free | positive, lower=bspec.mask is None)


def frame_of(pm_model, bspec: BayesSpec) -> GaugeFrame | None:
    """The gauge-split frame a PyMC model was built with (None for ``gauge="direct"``)."""
    if bspec.gauge != "split":
        return None
    return GaugeFrame(
        np.asarray(pm_model["loading_reference"].get_value()),
        np.asarray(pm_model["loading_gauge_basis"].get_value()),
        lower=bspec.mask is None,
    )


def _ar_raw(factor_ar: np.ndarray, dynamics: str) -> np.ndarray:
    """Approximate unconstrained VAR values: each factor's own lag-1 coefficient only."""
    p, k, _ = factor_ar.shape
    a = np.clip(np.diag(factor_ar[0]), -0.95, 0.95)
    raw_diag = a / np.sqrt(1.0 - a**2)
    if dynamics == "diagonal":
        raw = np.zeros((p, k))
        raw[0] = raw_diag
        return raw
    raw = np.zeros((p, k, k))
    raw[0] = np.diag(raw_diag)
    return raw


def point_to_free(
    params: dict[str, np.ndarray],
    bspec: BayesSpec,
    idiosyncratic: str,
    frame: GaugeFrame | None = None,
) -> dict[str, np.ndarray]:
    """Free-variable values (constrained space, by name) for identified ``params``.

    ``frame`` (:func:`frame_of`) is needed for ``bspec.gauge == "split"``.
    """
    lam = np.asarray(params["loadings"], dtype=float)
    n, k = lam.shape
    free, positive = loading_layout(bspec, n, k)
    allowed = free | positive
    out: dict[str, np.ndarray] = {}
    lam = np.where(allowed, lam, 0.0)
    lam[positive] = np.maximum(lam[positive], _FLOOR)
    if bspec.loadings != "normal":
        cnt = np.maximum(allowed.sum(axis=0), 1)
        tau = np.maximum(np.sqrt(np.sum(lam**2, axis=0) / cnt), _FLOOR)
        out["loading_scale"] = tau
    if bspec.loadings == "horseshoe":
        out["loading_local"] = np.ones((n, k))
        out["slab_scale"] = np.array(2.0)
    elif bspec.groups is not None:
        names = sorted(set(bspec.groups))
        g = np.array([names.index(x) for x in bspec.groups])
        is_anchor = positive.any(axis=1)
        Z = lam / tau
        mean = np.zeros((len(names), k))
        sd = np.ones(len(names))
        for gi in range(len(names)):
            rows = (g == gi) & ~is_anchor
            if rows.any():
                mean[gi] = Z[rows].mean(axis=0)
                sd[gi] = max(float(np.std(Z[rows] - mean[gi])), 0.05)
        out["group_loading_mean"] = mean
        out["group_loading_sd"] = sd
    if bspec.gauge == "split":
        if frame is None:
            raise ValueError(
                "gauge='split' needs the model's frame (bdfm.inference.start.frame_of)"
            )
        out["loadings_z"], out["loadings_gauge"] = frame.split(lam, allowed)
    else:
        out["loadings_free"] = lam[free]
        if positive.any():
            out["loadings_anchor"] = lam[list(bspec.anchors), range(k)]
    out["factor_ar_raw"] = _ar_raw(np.asarray(params["factor_ar"], dtype=float), bspec.dynamics)
    out["idio_sd"] = np.maximum(np.asarray(params["idio_sd"], dtype=float), _FLOOR)
    if idiosyncratic == "ar1":
        out["idio_ar"] = np.clip(np.asarray(params["idio_ar"], dtype=float), -0.95, 0.95)
    return out
