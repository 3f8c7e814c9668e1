"""The gauge-split parameterisation: a one-to-one linear map, the same density, folded signs."""

import numpy as np
import pytest
import xarray as xr

import bdfm
from bdfm.inference.fitting import _fold_signs, prepare_bayes
from bdfm.inference.gauge import fold_anchor_signs, gauge_frame
from bdfm.inference.posterior_mode import natural_params_fn, unconstrained_point
from bdfm.inference.pymc_model import loading_layout
from bdfm.inference.start import frame_of, identified_params, point_to_free
from bdfm.simulation import random_params, simulate
from bdfm.spec import DFMSpec


def _forward(frame, z, g, active):
    """The map (z, g) -> loadings written out per column (independent of the model's graph)."""
    n, k = frame.lam0.shape
    Z = np.zeros((n, k))
    Z[active] = z
    G = np.zeros((k, k))
    G[frame.gauge_index] = g
    lam = frame.lam0 @ G
    for col in range(k):
        U = frame.basis[col]
        lam[:, col] += Z[:, col] - U @ (U.T @ Z[:, col])
    return lam


@pytest.mark.parametrize("lower", [True, False])
def test_split_is_one_to_one(lower):
    rng = np.random.default_rng(0)
    n, k = 9, 3
    active = np.ones((n, k), dtype=bool)
    active[0, 1:] = active[1, 2] = False  # anchors 0, 1, 2 lower triangular
    if not lower:
        active[5, 0] = active[6, 2] = False  # block zeros
    lam0 = np.where(active, rng.normal(size=(n, k)), 0.0)
    frame = gauge_frame(lam0, active, lower)
    # each basis is orthonormal on the rows of its column
    for col in range(k):
        U = frame.basis[col][:, : (k - col if lower else 1)]
        np.testing.assert_allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-12)
        assert np.all(frame.basis[col][~active[:, col]] == 0)
    lam = np.where(active, rng.normal(size=(n, k)), 0.0)
    z, g = frame.split(lam, active)
    np.testing.assert_allclose(_forward(frame, z, g, active), lam, atol=1e-12)
    # the reference itself is G = I, Z = 0
    z0, g0 = frame.split(frame.lam0, active)
    np.testing.assert_allclose(z0, 0.0, atol=1e-12)
    G = np.zeros((k, k))
    G[frame.gauge_index] = g0
    np.testing.assert_allclose(G, np.eye(k), atol=1e-12)


def test_degenerate_reference_is_refused():
    active = np.ones((6, 2), dtype=bool)
    active[0, 1] = False
    lam0 = np.zeros((6, 2))
    lam0[:, 0] = 1.0
    assert gauge_frame(lam0, active, lower=True) is None


def _panel(k=2, n=8, T=60, seed=3):
    spec = DFMSpec(n_factors=k, idiosyncratic="ar1")
    params = random_params(spec, n, seed)
    data, _ = simulate(spec, params, T, random_seed=seed)
    data.iloc[:7, 1] = np.nan
    return data, params


@pytest.mark.parametrize("options", [{}, {"groups": True}, {"loadings": "horseshoe"}])
def test_split_model_has_the_direct_models_density(options):
    """log p(Λ, θ | y) of the split model (redundant part 0) minus the direct model's is
    the same constant at any two points: the reparameterisation is linear and one to one."""
    data, params = _panel()
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1")
    if options.get("groups"):
        options = {"groups": {c: "ab"[i % 2] for i, c in enumerate(data.columns)}}
    built = {
        gauge: prepare_bayes(model, reference_loadings=params["loadings"], gauge=gauge, **options)
        for gauge in ("direct", "split")
    }
    bspec = built["split"][0]
    assert bspec.gauge == "split"
    rng = np.random.default_rng(1)
    diffs = []
    for shift in (0.0, 0.3):
        p = dict(params)
        p["loadings"] = params["loadings"] + shift * rng.normal(size=params["loadings"].shape)
        ident = identified_params(p, bspec)
        logps = {}
        for gauge, (bs, _, pm_model) in built.items():
            free = point_to_free(ident, bs, "ar1", frame=frame_of(pm_model, bs))
            point = unconstrained_point(pm_model, free)
            lam = natural_params_fn(pm_model)(point)["loadings"]
            np.testing.assert_allclose(lam, ident["loadings"], atol=1e-9)
            logp = pm_model.compile_logp(jacobian=False)(point)
            if gauge == "direct":  # the anchors' half-normal density is twice the normal's
                logp -= 2 * np.log(2.0)
            logps[gauge] = logp
        diffs.append(logps["split"] - logps["direct"])
    assert np.isfinite(diffs).all()
    assert diffs[0] == pytest.approx(diffs[1], abs=1e-8)


def test_split_point_reproduces_the_start_and_blocks_stay_zero():
    data, params = _panel(k=2)
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1")
    blocks = {"y3": ["f1"], "y4": ["f2"]}
    bspec, _, pm_model = prepare_bayes(
        model, reference_loadings=params["loadings"], gauge="split", blocks=blocks
    )
    frame = frame_of(pm_model, bspec)
    assert not frame.lower  # block zeros: the gauge is diagonal
    ident = identified_params(params, bspec)
    free = point_to_free(ident, bspec, "ar1", frame=frame)
    lam = natural_params_fn(pm_model)(unconstrained_point(pm_model, free))["loadings"]
    free_mask, positive = loading_layout(bspec, 8, 2)
    active = free_mask | positive
    # (with blocks the start is not rotated, so an anchor's other loadings are cut to 0)
    np.testing.assert_allclose(lam[active], ident["loadings"][active], atol=1e-9)
    assert np.all(lam[~active] == 0.0)
    assert lam[2, 1] == 0.0 and lam[3, 0] == 0.0


def test_rsp_has_nothing_to_split():
    data, params = _panel()
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1")
    bspec, _, _ = prepare_bayes(
        model, reference_loadings=params["loadings"], gauge="split", identification="rsp"
    )
    assert bspec.gauge == "direct"


def test_signs_are_folded_with_the_var():
    rng = np.random.default_rng(2)
    lam = rng.normal(size=(2, 3, 5, 2))
    lam[..., 0, 0] = np.abs(lam[..., 0, 0])
    lam[..., 1, 1] = np.abs(lam[..., 1, 1])
    A = rng.normal(size=(2, 3, 1, 2, 2))
    flip = np.array([1.0, -1.0])
    lam[1, 2] *= flip
    A[1, 2] = A[1, 2] * flip[None, :, None] * flip[None, None, :]
    out, A_out, signs = fold_anchor_signs(lam, [0, 1], A)
    assert np.all(out[..., [0, 1], [0, 1]] > 0)
    assert signs[1, 2].tolist() == [1.0, -1.0] and np.all(signs[0] == 1)
    np.testing.assert_allclose(out[1, 2], lam[1, 2] * flip)
    np.testing.assert_allclose(A_out[1, 2], A[1, 2] * flip[None, :, None] * flip[None, None, :])
    # and through the posterior Dataset (raw VAR and group means follow)
    dims = ("chain", "draw")
    post = xr.Dataset(
        {
            "loadings": ((*dims, "series", "factor"), lam),
            "factor_ar": ((*dims, "lag", "factor", "factor_from"), A),
            "factor_ar_raw": ((*dims, "lag", "factor", "factor_from"), A.copy()),
            "group_loading_mean": ((*dims, "group", "factor"), np.ones((2, 3, 2, 2))),
        }
    )

    class Spec:
        anchors, dynamics = (0, 1), "var"

    folded = _fold_signs(post, Spec)
    np.testing.assert_allclose(folded["loadings"].values, out)
    np.testing.assert_allclose(folded["factor_ar_raw"].values, A_out)
    assert folded["group_loading_mean"].values[1, 2, :, 1].tolist() == [-1.0, -1.0]
