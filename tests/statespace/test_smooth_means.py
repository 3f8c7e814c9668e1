"""smooth_means (one covariance pass, several right-hand sides) against the full filter + RTS smoother."""

import numpy as np
import pytest

from bdfm import DFMSpec, simulate
from bdfm.simulation import random_params
from bdfm.statespace import kernels
from bdfm.statespace.inputs import obs_stats, stationary_cov, transition_top
from bdfm.statespace.smooth_means import smooth_means
from bdfm.statespace.stats import ar1_inputs


@pytest.mark.parametrize("idio", ["iid", "ar1"])
@pytest.mark.parametrize("order", [1, 2])
def test_each_right_hand_side_matches_its_own_filter_and_smoother(idio, order):
    spec = DFMSpec(n_factors=2, factor_order=order, idiosyncratic=idio)
    rng = np.random.default_rng(order)
    p = random_params(spec, 6, rng)
    data, _ = simulate(spec, p, n_time=80, random_seed=order)
    y = data.to_numpy()
    mask = np.ones_like(y)
    mask[10:25, 2] = 0.0  # a gap: the filter leaves its steady state
    mask[40:43, :] = 0.0  # dates with nothing observed
    mask[:5, 0] = 0.0  # a late start
    ys = [y * mask, rng.normal(size=y.shape) * mask]
    rho = p.get("idio_ar")
    top = transition_top(p["factor_ar"], spec.n_state_lags)
    q = np.exp(rng.normal(0, 0.3, (80, 2)))  # time-varying innovation variances
    P0 = stationary_cov(top, q[0])
    stats = []
    for yy in ys:
        ar1 = None if rho is None else ar1_inputs(yy, mask > 0)
        stats.append(obs_stats(yy, mask, p["loadings"], p["idio_sd"], rho, ar1)[:2])
    C = stats[0][0]
    np.testing.assert_array_equal(C, stats[1][0])  # same precisions, as the method assumes
    _, _, P_pred, _, P_filt = kernels.filter_full(C, stats[0][1], top, q, P0)
    got = smooth_means(C, np.stack([b for _, b in stats]), top, P_pred, P_filt)
    for r, (_, b) in enumerate(stats):
        _, xp, Pp, xf, Pf = kernels.filter_full(C, b, top, q, P0)
        want = kernels.smoother(xp, Pp, xf, Pf, top)[0]
        np.testing.assert_allclose(got[r], want, rtol=1e-10, atol=1e-12)


def test_not_positive_definite_gives_nan():
    C = np.zeros((3, 1, 1))
    B = np.zeros((1, 3, 1))
    A = np.array([[0.5]])
    bad = np.full((3, 1, 1), -1.0)
    assert np.isnan(smooth_means(C, B, A, bad, bad)).all()
