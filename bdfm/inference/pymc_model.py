r"""The Bayesian model: priors, identification and the Kalman likelihood as a PyMC model.

Loadings are centred (the data inform them strongly; a non-centred ``τ·z`` form
made the scales and all their loadings one slow, correlated direction for NUTS):
each free loading ``λ_ij ~ prior("loadings")`` shifted by ``M_ij`` and scaled by ``S_ij``:

* ``S`` — scales: 1 (``loadings="normal"``), a per-factor shrinkage scale τ_j
  (``"shrinkage"``, the default: an unneeded factor's column shrinks towards 0), or a
  regularised horseshoe τ_j·λ̃_ij (``"horseshoe"``, Piironen & Vehtari 2017);
* ``M`` — group means with partial pooling (``groups={series: group}``):
  ``λ_ij ~ N(τ_j m_{g(i)j}, (τ_j ω_{g(i)})²)``; anchors are not pooled;
* the anchors of the lower-triangular identification are half-normal (positive);
  ``BayesSpec.gauge="split"`` samples the same loadings prior in coordinates that
  separate the gauge directions (:mod:`bdfm.inference.gauge`);
* block restrictions (``blocks={series: [factors]}``) and the identification's
  zeros are structural: those loadings are not parameters at all.

The factor VAR is stationary by construction: unconstrained ``factor_ar_raw`` is
mapped by :func:`bdfm.inference.transforms.stationary_var` (``dynamics="var"``) or, for
``dynamics="diagonal"``, one univariate AR(p) per factor through the same map.
The observed term is a ``CustomDist`` whose log-density is the exact Kalman
likelihood, pointwise over time, so PyMC stores a ``log_likelihood`` over ``time``.

Time-varying volatility (``DFMSpec.factor_volatility``, ``idio_volatility``, ``tails``)
enters the same likelihood through its per-date variances, so given the paths the
factors stay integrated out exactly:

* factor SV: ``h_{j,t} = φ_j h_{j,t-1} + σ_j z_{j,t}`` with ``z ~ N(0, 1)``
  (non-centred; :func:`bdfm.statespace.ar1_path.ar1_path`), mean 0 (the factors'
  scale), ``factor_var[t, j] = exp(h_{j,t})``, stored as ``factor_log_var``;
* factor GARCH (``"garch"``): ``h_{j,t} = log q_{j,t}``, a GJR-GARCH(1,1) of the GLS
  factor shocks (:mod:`bdfm.statespace.garch`), ``α_j = π_j s_j (1 - ℓ_j)``,
  ``γ_j = 2 π_j s_j ℓ_j`` and ``β_j = π_j (1 - s_j)`` from the persistence
  π = α + γ/2 + β, the news share s and the leverage share ℓ, stored as
  ``factor_log_var`` with ``factor_log_var_next`` (the variance one step past the data);
* idiosyncratic SV: one common path ``g_t`` (``"common_sv"``) or one per series
  (``"sv"``), ``obs_scale[t, i] = exp(g_t)``, stored as ``idio_log_var``;
* idiosyncratic GARCH (``"garch"``): ``obs_scale[t, i] = r_{i,t}``, a GJR-GARCH(1,1) of
  the series' estimated standardised innovations, coefficients as for the factors (per
  series), stored as ``idio_log_var`` (T, N) and ``idio_log_var_next``;
* Student-t shocks: ``λ_t ~ Gamma(ν/2, ν/2)`` (``tail_scale``) divides every variance
  at ``t``; ``ν = 2 + tails_nu_excess`` is stored as ``tails_nu``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bdfm.dims import FACTOR, FACTOR_FROM, LAG, LOADING, SERIES, TIME, factor_labels
from bdfm.inference.gauge import gauge_pattern
from bdfm.inference.identification import IDENTIFICATION_CHOICES
from bdfm.inference.transforms import stationary_var
from bdfm.priors import Prior, default_priors, resolve_priors, volatility_priors
from bdfm.statespace.ar1_path import ar1_path
from bdfm.statespace.assemble import dfm_loglike_pointwise
from bdfm.statespace.garch import garch_log_var, idio_garch_log_var

__all__ = ["LOADING_CHOICES", "BayesSpec", "build_pymc_model", "make_bayes_spec"]

LOADING_CHOICES = ("shrinkage", "normal", "horseshoe")
DYNAMICS_CHOICES = ("var", "diagonal")
GAUGE_CHOICES = ("direct", "split")


@dataclass(frozen=True)
class BayesSpec:
    """Prior structure of the Bayesian model (frozen; JSON via :meth:`to_json`).

    Attributes
    ----------
    loadings : {"shrinkage", "normal", "horseshoe"}
    identification : {"lower_triangular", "rsp"}
    anchors : tuple of series indices (one per factor) for ``"lower_triangular"``.
    groups : tuple of group labels per series, or None.
    blocks : (N, k) tuple-of-tuples of bools (allowed loadings), or None.
    dynamics : {"var", "diagonal"}
    gauge : {"direct", "split"}
        How NUTS sees the loadings (the model is the same): ``"direct"``, one
        variable per loading (generative: ``pm.draw`` works); ``"split"``, the
        gauge directions as their own coordinates (:mod:`bdfm.inference.gauge`;
        lower-triangular identification only; what :func:`bdfm.inference.fitting.fit`
        samples).
    """

    loadings: str = "shrinkage"
    identification: str = "lower_triangular"
    anchors: tuple[int, ...] | None = None
    groups: tuple[str, ...] | None = None
    blocks: tuple[tuple[bool, ...], ...] | None = None
    dynamics: str = "var"
    gauge: str = "direct"

    def __post_init__(self) -> None:
        errors = []
        if self.loadings not in LOADING_CHOICES:
            errors.append(f"loadings must be one of {LOADING_CHOICES}, got {self.loadings!r}")
        if self.identification not in IDENTIFICATION_CHOICES:
            errors.append(
                f"identification must be one of {IDENTIFICATION_CHOICES}, "
                f"got {self.identification!r}"
            )
        if self.dynamics not in DYNAMICS_CHOICES:
            errors.append(f"dynamics must be one of {DYNAMICS_CHOICES}, got {self.dynamics!r}")
        if self.gauge not in GAUGE_CHOICES:
            errors.append(f"gauge must be one of {GAUGE_CHOICES}, got {self.gauge!r}")
        elif self.gauge == "split" and self.identification != "lower_triangular":
            errors.append("gauge='split' needs identification='lower_triangular'")
        if self.groups is not None and self.loadings == "horseshoe":
            errors.append("groups=... and loadings='horseshoe' cannot be combined; pick one")
        if errors:
            raise ValueError("Invalid Bayesian model options:\n- " + "\n- ".join(errors))

    @property
    def mask(self) -> np.ndarray | None:
        return None if self.blocks is None else np.array(self.blocks, dtype=bool)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BayesSpec:
        d = json.loads(text)
        for key in ("anchors", "groups"):
            if d[key] is not None:
                d[key] = tuple(d[key])
        if d["blocks"] is not None:
            d["blocks"] = tuple(tuple(bool(v) for v in row) for row in d["blocks"])
        return cls(**d)


def _block_mask(blocks: Mapping, columns, k: int) -> tuple[tuple[bool, ...], ...]:
    labels = factor_labels(k)
    unknown = sorted(set(map(str, blocks)) - {str(c) for c in columns})
    if unknown:
        raise ValueError(f"blocks names series that are not in the data: {unknown}")
    mask = np.ones((len(columns), k), dtype=bool)
    for i, col in enumerate(columns):
        if col not in blocks and str(col) not in blocks:
            continue
        allowed = blocks.get(col, blocks.get(str(col)))
        mask[i] = False
        for f in allowed:
            j = labels.index(f) if isinstance(f, str) and f in labels else f
            if not isinstance(j, int | np.integer) or not 0 <= j < k:
                raise ValueError(
                    f"blocks[{col!r}]: {f!r} is not a factor; use 0..{k - 1} or {labels}"
                )
            mask[i, j] = True
        if not mask[i].any():
            raise ValueError(f"blocks[{col!r}] allows no factor; list at least one")
    return tuple(tuple(bool(v) for v in row) for row in mask)


def make_bayes_spec(
    model,
    *,
    loadings: str = "shrinkage",
    identification: str = "lower_triangular",
    anchors=None,
    groups: Mapping | None = None,
    blocks: Mapping | None = None,
    dynamics: str = "var",
    gauge: str = "direct",
    reference_loadings: np.ndarray | None = None,
) -> BayesSpec:
    """Resolve user options (series names) into a :class:`BayesSpec` (indices)."""
    from bdfm.inference.identification import choose_anchors

    if identification == "rsp" and model.spec.factor_volatility != "constant":
        raise ValueError(
            "identification='rsp' rotates the factors after sampling, which would mix "
            "factors with different volatility paths; use identification='lower_triangular' "
            f"with factor_volatility={model.spec.factor_volatility!r}"
        )

    columns = list(model.panel.columns)
    k = model.spec.n_factors
    mask = None if blocks is None else _block_mask(blocks, columns, k)
    group_labels = None
    if groups is not None:
        missing = [c for c in columns if c not in groups]
        if missing:
            raise ValueError(
                f"groups must give a group for every series; missing: {missing[:10]}"
                f"{' ...' if len(missing) > 10 else ''}"
            )
        group_labels = tuple(str(groups[c]) for c in columns)
    anchor_idx = None
    if identification == "lower_triangular":
        if anchors is None:
            if reference_loadings is None:
                from bdfm.inference.mle import initial_params

                reference_loadings = initial_params(model)["loadings"]
            allowed = None if mask is None else np.array(mask)
            anchor_idx = tuple(choose_anchors(reference_loadings, allowed))
        else:
            anchors = list(anchors)
            if len(anchors) != k:
                raise ValueError(f"anchors needs one series per factor ({k}), got {len(anchors)}")
            bad = [a for a in anchors if a not in columns]
            if bad:
                raise ValueError(f"anchors names series that are not in the data: {bad}")
            if len(set(anchors)) != k:
                raise ValueError("anchors must be distinct series")
            anchor_idx = tuple(columns.index(a) for a in anchors)
        if mask is not None:
            for j, a in enumerate(anchor_idx):
                if not mask[a][j]:
                    raise ValueError(
                        f"anchor series {columns[a]!r} of factor {j + 1} may not load on it "
                        "under the block restrictions; choose anchors inside each block"
                    )
    if identification != "lower_triangular" and gauge == "split":
        gauge = "direct"  # nothing to split: the rotation is left free and aligned afterwards
    return BayesSpec(loadings, identification, anchor_idx, group_labels, mask, dynamics, gauge)


def loading_layout(bspec: BayesSpec, n_series: int, k: int):
    """Positions of the free, positive (anchor) and zero loadings.

    Returns ``(free, positive)``: two (N, k) boolean arrays, disjoint.
    """
    allowed = np.ones((n_series, k), dtype=bool) if bspec.mask is None else bspec.mask.copy()
    positive = np.zeros_like(allowed)
    if bspec.identification == "lower_triangular":
        for j, a in enumerate(bspec.anchors):
            allowed[a, j + 1 :] = False
            positive[a, j] = True
    return allowed & ~positive, positive


def _scatter(n_series, k, free_idx, free_vals, pos_idx, pos_vals):
    flat = pt.zeros(n_series * k)
    flat = pt.set_subtensor(flat[free_idx], free_vals)
    if pos_vals is not None:
        flat = pt.set_subtensor(flat[pos_idx], pos_vals)
    return flat.reshape((n_series, k))


def _scales(bspec: BayesSpec, priors: Mapping[str, Prior], n: int, k: int, positive):
    """Prior location M and scale S (N, k) of every loading (hierarchical part)."""
    if bspec.loadings == "normal":
        tau = pt.ones(k)
    else:
        tau = priors["loading_scale"].create("loading_scale", dims=FACTOR)
    if bspec.loadings == "horseshoe":
        local = priors["loading_local"].create("loading_local", dims=(SERIES, FACTOR))
        c2 = priors["slab_scale"].create("slab_scale")
        S = tau[None, :] * pt.sqrt(c2 * local**2 / (c2 + tau[None, :] ** 2 * local**2))
        return pt.zeros((n, k)), S
    S = pt.ones((n, 1)) * tau[None, :]
    if bspec.groups is None:
        return pt.zeros((n, k)), S
    model = pm.modelcontext(None)
    names = sorted(set(bspec.groups))
    model.add_coord("group", names)
    g = np.array([names.index(x) for x in bspec.groups])
    mean = priors["group_loading_mean"].create("group_loading_mean", dims=("group", FACTOR))
    sd = priors["group_loading_sd"].create("group_loading_sd", dims="group")
    is_anchor = positive.any(axis=1)[:, None]  # anchors are not pooled
    M = pt.where(is_anchor, 0.0, tau[None, :] * mean[g])
    S = pt.where(is_anchor, S, tau[None, :] * sd[g][:, None])
    return M, S


def _loadings(bspec: BayesSpec, priors: Mapping[str, Prior], columns, k: int, frame=None):
    """Centred loadings: free entries ~ prior(M, S), anchors ~ HalfNormal(S)."""
    if bspec.gauge == "split":
        return _split_loadings(bspec, priors, columns, k, frame)
    n = len(columns)
    free, positive = loading_layout(bspec, n, k)
    free_idx = np.flatnonzero(free.ravel())
    # one anchor per factor, in factor order (dims FACTOR)
    pos_idx = (
        np.array([a * k + j for j, a in enumerate(bspec.anchors)], dtype=int)
        if positive.any()
        else np.array([], dtype=int)
    )
    model = pm.modelcontext(None)
    labels = factor_labels(k)
    model.add_coord(LOADING, [f"{columns[i // k]}:{labels[i % k]}" for i in free_idx])
    M, S = _scales(bspec, priors, n, k, positive)
    M_flat, S_flat = M.ravel(), S.ravel()
    # the positions are data, not graph constants: with anchors chosen from each data
    # set's starting point, models of the same shape then share one compiled graph
    free_idx = pm.Data("loading_free_index", free_idx)
    if len(pos_idx):
        pos_idx = pm.Data("loading_anchor_index", pos_idx)
    lam_free = priors["loadings"].create_location_scale(
        "loadings_free", M_flat[free_idx], S_flat[free_idx], dims=LOADING
    )
    lam_pos = None
    if positive.any():
        sigma = priors["loadings"].params.get("sigma", 1.0)
        lam_pos = pm.HalfNormal("loadings_anchor", sigma=sigma * S_flat[pos_idx], dims=FACTOR)
    lam = _scatter(n, k, free_idx, lam_free, pos_idx, lam_pos)
    return pm.Deterministic("loadings", lam, dims=(SERIES, FACTOR))


def _split_loadings(bspec: BayesSpec, priors: Mapping[str, Prior], columns, k: int, frame):
    """The same loadings prior through the gauge-split coordinates (``bdfm.inference.gauge``).

    ``Λ = Λ₀ G + (I - P) Z``; the prior of every loading (anchors: the symmetric
    counterpart of their half-normal, folded after sampling), and ``N(0, s²)`` on the
    redundant projections ``U' Z``, enter as potentials.
    """
    n = len(columns)
    free, positive = loading_layout(bspec, n, k)
    active = free | positive
    act_idx = np.flatnonzero(active.ravel())
    free_flat = free.ravel()[act_idx]
    model = pm.modelcontext(None)
    labels = factor_labels(k)
    model.add_coord(LOADING, [f"{columns[i // k]}:{labels[i % k]}" for i in act_idx])
    M, S = _scales(bspec, priors, n, k, positive)
    g_rows, g_cols = gauge_pattern(k, frame.lower)
    lam0 = pm.Data("loading_reference", frame.lam0)
    basis = pm.Data("loading_gauge_basis", frame.basis)  # (k, N, k): U_l, zero-padded
    act = pm.Data("loading_active_index", act_idx)
    # data, not a graph constant: models whose anchors differ share one compiled graph
    is_free = pm.Data("loading_is_free", free_flat.astype(np.int8))
    z = pm.Flat("loadings_z", dims=LOADING)
    g = pm.Flat("loadings_gauge", shape=len(g_rows))
    Z = pt.zeros(n * k)
    Z = pt.set_subtensor(Z[act], z).reshape((n, k))
    G = pt.set_subtensor(pt.zeros((k, k))[g_rows, g_cols], g)
    coef = (basis * Z.T[:, :, None]).sum(axis=1)  # (k, k): c_l = U_l' Z_l
    E = Z - (basis * coef[:, None, :]).sum(axis=2).T
    lam = pm.Deterministic("loadings", lam0 @ G + E, dims=(SERIES, FACTOR))
    flat = lam.ravel()[act]
    M_act, S_act = M.ravel()[act], S.ravel()[act]
    sigma = priors["loadings"].params.get("sigma", 1.0)
    free_lp = priors["loadings"].logp_location_scale(flat, M_act, S_act)
    anchor_lp = pm.logp(pm.Normal.dist(0.0, sigma * S_act), flat)
    pm.Potential("loadings_prior", pt.where(pt.gt(is_free, 0), free_lp, anchor_lp).sum())
    # the redundant coordinates: any proper density leaves the loadings' marginal as is;
    # a scale like the loadings' posterior spread keeps the geometry round
    scale = 1.0 / np.sqrt(max(len(model.coords[TIME]), 1))
    width = np.arange(k, 0, -1) if frame.lower else np.ones(k, dtype=int)  # vectors of U_l
    used = np.arange(k)[None, :] < width[:, None]
    pm.Potential("loadings_gauge_nuisance", pm.logp(pm.Normal.dist(0.0, scale), coef[used]).sum())
    return lam


def _factor_ar(bspec: BayesSpec, priors: Mapping[str, Prior], p: int, k: int):
    if bspec.dynamics == "var":
        raw = priors["factor_ar"].create("factor_ar_raw", dims=(LAG, FACTOR, FACTOR_FROM))
        A = stationary_var(pt.specify_shape(raw, (p, k, k)))
    else:
        raw = priors["factor_ar"].create("factor_ar_raw", dims=(LAG, FACTOR))
        raw = pt.specify_shape(raw, (p, k))
        cols = [stationary_var(raw[:, j].reshape((p, 1, 1)))[:, 0, 0] for j in range(k)]
        coefs = pt.stack(cols, axis=1)  # (p, k)
        A = coefs[:, :, None] * pt.eye(k)[None, :, :]
    return pm.Deterministic("factor_ar", A, dims=(LAG, FACTOR, FACTOR_FROM))


def model_priors(model, bspec: BayesSpec, overrides: Mapping | None) -> dict[str, Prior]:
    """The model's priors: defaults for this configuration merged with ``overrides``."""
    spec = model.spec
    defaults = default_priors(bspec.loadings, spec.idiosyncratic, grouped=bspec.groups is not None)
    defaults |= volatility_priors(spec.factor_volatility, spec.idio_volatility, spec.tails)
    return resolve_priors(defaults, overrides)


def _sv_path(priors: Mapping[str, Prior], prefix: str, dims, time_dims):
    """A non-centred stationary AR(1) log-variance path (T, J) with mean 0."""
    phi = priors[f"{prefix}_sv_phi"].create(f"{prefix}_sv_phi", dims=dims)
    sd = priors[f"{prefix}_sv_sd"].create(f"{prefix}_sv_sd", dims=dims)
    z = pm.Normal(f"{prefix}_sv_z", 0.0, 1.0, dims=time_dims)
    if dims is None:  # one common path
        return ar1_path(z[:, None], phi[None], sd[None])[:, 0]
    return ar1_path(z, phi, sd)


def _garch_coefficients(priors: Mapping[str, Prior], part: str, dims: str) -> dict:
    """``alpha``, ``beta``, ``gamma`` of GJR-GARCH(1,1) recursions, stored as Deterministics."""
    persistence, share, lev = (
        priors[f"{part}_garch_{n}"].create(f"{part}_garch_{n}", dims=dims)
        for n in ("persistence", "share", "leverage")
    )
    news = persistence * share
    return {
        "alpha": pm.Deterministic(f"{part}_garch_alpha", news * (1.0 - lev), dims=dims),
        "gamma": pm.Deterministic(f"{part}_garch_gamma", 2.0 * news * lev, dims=dims),
        "beta": pm.Deterministic(f"{part}_garch_beta", persistence * (1.0 - share), dims=dims),
    }


def _factor_garch(priors: Mapping[str, Prior], garch_inputs: Mapping):
    """The factor GARCH log-variance path (T, k), stored with its value one step past the data."""
    coefs = _garch_coefficients(priors, "factor", FACTOR)
    inputs = {n: v for n, v in garch_inputs.items() if n != "idio_ar"}
    log_q, log_q_next = garch_log_var(**coefs, **inputs)
    pm.Deterministic("factor_log_var_next", log_q_next, dims=FACTOR)
    return log_q


def _idio_garch(priors: Mapping[str, Prior], garch_inputs: Mapping):
    """The idiosyncratic GARCH log-multipliers (T, N), stored with their next values."""
    coefs = _garch_coefficients(priors, "idio", SERIES)
    inputs = {n: garch_inputs[n] for n in ("y", "mask", "loadings", "idio_sd", "idio_ar")}
    log_r, log_r_next = idio_garch_log_var(**coefs, **inputs)
    pm.Deterministic("idio_log_var_next", log_r_next, dims=SERIES)
    return log_r


def _volatility(spec, priors: Mapping[str, Prior], n_series: int, k: int, garch_inputs=None):
    """Per-date ``factor_var`` (T, k) and ``obs_scale`` (T, N) tensors, None when constant.

    ``garch_inputs``: the data and parameters of :func:`garch_log_var` other than
    the GARCH coefficients, and ``idio_ar`` (the ``"garch"`` volatilities).
    """
    factor_var = obs_scale = None
    if spec.factor_volatility != "constant":
        path = (
            _sv_path(priors, "factor", FACTOR, (TIME, FACTOR))
            if spec.factor_volatility == "sv"
            else _factor_garch(priors, garch_inputs)
        )
        h = pm.Deterministic("factor_log_var", path, dims=(TIME, FACTOR))
        factor_var = pt.exp(h)
    if spec.idio_volatility == "garch":
        g = _idio_garch(priors, garch_inputs)
        obs_scale = pt.exp(pm.Deterministic("idio_log_var", g, dims=(TIME, SERIES)))
    elif spec.idio_volatility == "common_sv":
        g = pm.Deterministic("idio_log_var", _sv_path(priors, "idio", None, TIME), dims=TIME)
        obs_scale = pt.exp(g)[:, None] * pt.ones((1, n_series))
    elif spec.idio_volatility == "sv":
        g = _sv_path(priors, "idio", SERIES, (TIME, SERIES))
        obs_scale = pt.exp(pm.Deterministic("idio_log_var", g, dims=(TIME, SERIES)))
    if spec.tails == "student_t":
        excess = priors["tails_nu"].create("tails_nu_excess")
        nu = pm.Deterministic("tails_nu", 2.0 + excess)
        lam = pm.Gamma("tail_scale", alpha=nu / 2, beta=nu / 2, dims=TIME)
        factor_var = (pt.ones((1, k)) if factor_var is None else factor_var) / lam[:, None]
        obs_scale = (pt.ones((1, n_series)) if obs_scale is None else obs_scale) / lam[:, None]
    return factor_var, obs_scale


def build_pymc_model(model, bspec: BayesSpec, priors: Mapping[str, Prior], frame=None) -> pm.Model:
    """The PyMC model of ``model`` (a :class:`bdfm.DynamicFactorModel`).

    ``frame`` (a :class:`bdfm.inference.gauge.GaugeFrame`) is required when
    ``bspec.gauge == "split"``.
    """
    if bspec.gauge == "split" and frame is None:
        raise ValueError("gauge='split' needs the reference frame (bdfm.inference.gauge)")
    spec, panel = model.spec, model.panel
    k, p = spec.n_factors, spec.factor_order
    coords = {
        TIME: panel.index,
        SERIES: list(panel.columns),
        FACTOR: factor_labels(k),
        FACTOR_FROM: factor_labels(k),
        LAG: list(range(1, p + 1)),
    }
    c = model._data_constants
    ar1 = spec.idiosyncratic == "ar1"
    with pm.Model(coords=coords) as pm_model:
        mask = pm.Data("mask", c["mask"], dims=(TIME, SERIES))
        extra = []
        if ar1:
            extra = [
                pm.Data(name, c[name], dims=(TIME, SERIES))
                for name in ("y_lag", "m_diff", "m_start")
            ]
        loadings = _loadings(bspec, priors, list(panel.columns), k, frame)
        factor_ar = _factor_ar(bspec, priors, p, k)
        idio_sd = priors["idio_sd"].create("idio_sd", dims=SERIES)
        params = [loadings, factor_ar, idio_sd]
        if ar1:
            params.append(priors["idio_ar"].create("idio_ar", dims=SERIES))
        n_time = panel.n_time
        garch_inputs = {
            "y": c["y"],
            "mask": c["mask"],
            "loadings": pt.specify_shape(loadings, (panel.n_series, k)),
            "factor_ar": factor_ar,
            "idio_sd": idio_sd,
            "idio_ar": params[3] if ar1 else None,
            "n_lags": p,
        }
        factor_var, obs_scale = _volatility(spec, priors, panel.n_series, k, garch_inputs)
        if factor_var is not None:
            factor_var = pt.broadcast_to(factor_var, (n_time, k))
        if obs_scale is not None:
            obs_scale = pt.broadcast_to(obs_scale, (n_time, panel.n_series))
        paths = [v for v in (factor_var, obs_scale) if v is not None]
        pm.CustomDist(
            "y",
            mask,
            *extra,
            *params,
            *paths,
            logp=_make_logp(ar1, p, n_time, k, factor_var is not None, obs_scale is not None),
            # a Data variable, so that a compiled model serves another data set
            observed=pm.Data("y_obs", c["y"], dims=(TIME, SERIES)),
            dims=(TIME, SERIES),
            signature=_signature(ar1, factor_var is not None, obs_scale is not None),
        )
    return pm_model


def _signature(ar1: bool, tv_factor: bool = False, tv_obs: bool = False) -> str:
    data = ["(t,n)"] * (4 if ar1 else 1)
    params = ["(n,k)", "(p,k,k)", "(n)"] + (["(n)"] if ar1 else [])
    paths = (["(t,k)"] if tv_factor else []) + (["(t,n)"] if tv_obs else [])
    return ",".join(data + params + paths) + "->(t,n)"


def _make_logp(ar1: bool, p: int, n_time: int, k: int, tv_factor=False, tv_obs=False):
    constant_var = np.ones((n_time, k))

    def logp(value, mask, *rest):
        rest = list(rest)
        obs_scale = rest.pop() if tv_obs else None
        factor_var = rest.pop() if tv_factor else constant_var
        if ar1:
            y_lag, m_diff, m_start, loadings, factor_ar, idio_sd, idio_ar = rest
            extra = {"y_lag": y_lag, "m_diff": m_diff, "m_start": m_start}
        else:
            loadings, factor_ar, idio_sd = rest
            idio_ar, extra = None, {}
        factor_ar = pt.specify_shape(factor_ar, (p, None, None))
        return dfm_loglike_pointwise(
            value,
            mask,
            loadings,
            factor_ar,
            idio_sd,
            idio_ar,
            factor_var=factor_var,
            obs_scale=obs_scale,
            **extra,
        )

    return logp
