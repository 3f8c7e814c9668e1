import numpy as np
import pytest

from bdfm.inference.identification import (
    align_to_reference,
    choose_anchors,
    rotate_params,
    rotation_to_anchors,
    rsp_align,
    varimax,
)


def _orthogonal(rng, k):
    q, r = np.linalg.qr(rng.standard_normal((k, k)))
    return q * np.sign(np.diag(r))


def test_rotation_to_anchors_gives_lower_triangular_positive(rng):
    lam = rng.standard_normal((10, 3))
    anchors = [4, 1, 7]
    R = rotation_to_anchors(lam, anchors)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    block = (lam @ R)[anchors]
    assert np.allclose(np.triu(block, 1), 0.0, atol=1e-12)
    assert np.all(np.diag(block) > 0)


def test_rotate_params_leaves_the_likelihood_unchanged(rng):
    """Λ R, R'AR, same innovation covariance: the implied covariance of y is identical."""
    from scipy.linalg import solve_discrete_lyapunov

    lam = rng.standard_normal((6, 2))
    A = np.array([[[0.5, 0.1], [-0.2, 0.3]]])
    R = _orthogonal(rng, 2)
    new = rotate_params({"loadings": lam, "factor_ar": A}, R)
    for p in ({"loadings": lam, "factor_ar": A}, new):
        S = solve_discrete_lyapunov(p["factor_ar"][0], np.eye(2))
        p["cov0"] = p["loadings"] @ S @ p["loadings"].T
        p["cov1"] = p["loadings"] @ p["factor_ar"][0] @ S @ p["loadings"].T
    np.testing.assert_allclose(new["cov0"], lam @ solve_discrete_lyapunov(A[0], np.eye(2)) @ lam.T)
    np.testing.assert_allclose(
        new["cov1"], lam @ A[0] @ solve_discrete_lyapunov(A[0], np.eye(2)) @ lam.T, atol=1e-12
    )


def test_varimax_is_rotation_invariant(rng):
    """Varimax of any rotation of the same loadings gives the same loadings up to sign/order."""
    lam = np.zeros((12, 2))
    lam[:6, 0] = rng.uniform(0.5, 1.0, 6)
    lam[6:, 1] = rng.uniform(0.5, 1.0, 6)
    lam += 0.05 * rng.standard_normal(lam.shape)
    R = _orthogonal(rng, 2)
    a = lam @ varimax(lam)
    b = (lam @ R) @ varimax(lam @ R)
    S = align_to_reference(b, a)
    np.testing.assert_allclose(b @ S, a, atol=1e-5)


def test_align_to_reference_undoes_sign_and_permutation(rng):
    ref = rng.standard_normal((8, 3))
    P = np.zeros((3, 3))
    P[[0, 1, 2], [2, 0, 1]] = [-1.0, 1.0, -1.0]
    draw = ref @ P.T  # a mirrored, relabelled copy
    S = align_to_reference(draw, ref)
    np.testing.assert_allclose(draw @ S, ref, atol=1e-12)


def test_rsp_align_makes_mirror_draws_agree(rng):
    base = rng.standard_normal((10, 2))
    draws = []
    for _d in range(40):
        R = _orthogonal(rng, 2)
        draws.append((base + 0.01 * rng.standard_normal(base.shape)) @ R)
    draws = np.array(draws)
    T = rsp_align(draws)
    aligned = np.einsum("dnk,dkj->dnj", draws, T)
    spread = aligned.std(axis=0).max()
    assert spread < 0.05, spread  # raw draws are spread over all rotations
    assert draws.std(axis=0).max() > 0.3


def test_choose_anchors_picks_clear_distinct_series(rng):
    lam = 0.05 * rng.standard_normal((9, 3))
    lam[2, 0], lam[5, 1], lam[7, 2] = 1.5, 1.4, 1.3
    anchors = choose_anchors(lam)
    assert sorted(anchors) == [2, 5, 7]
    assert len(set(anchors)) == 3


def test_choose_anchors_respects_blocks(rng):
    lam = rng.standard_normal((6, 2))
    allowed = np.ones((6, 2), dtype=bool)
    allowed[:, 1] = False
    with pytest.raises(ValueError, match="no series can anchor factor"):
        choose_anchors(lam, allowed)
