"""Collapsed observation statistics against direct loops over series."""

import numpy as np

from bdfm.statespace.stats import ar1_masks, obs_stats_ar1, obs_stats_iid


def test_ar1_masks():
    mask = np.array([[0, 1], [1, 1], [1, 0], [0, 1], [1, 1]], dtype=bool)
    m_diff, m_start, _ = ar1_masks(mask)
    np.testing.assert_array_equal(m_start[:, 0], [0, 1, 0, 0, 1])
    np.testing.assert_array_equal(m_diff[:, 0], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(m_start[:, 1], [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(m_diff[:, 1], [0, 1, 0, 0, 1])
    np.testing.assert_array_equal(m_diff + m_start, mask)


def test_iid_stats_equal_loops(rng):
    T, N, k = 6, 4, 2
    y = rng.standard_normal((T, N))
    mask = rng.random((T, N)) > 0.3
    y0 = np.where(mask, y, 0.0)
    lam = rng.standard_normal((N, k))
    var = rng.uniform(0.5, 2, N)
    C, b, const = (x.eval() for x in obs_stats_iid(y0, mask.astype(float), lam, var))
    for t in range(T):
        obs = mask[t]
        H, v, yt = lam[obs], var[obs], y[t, obs]
        np.testing.assert_allclose(C[t], H.T @ np.diag(1 / v) @ H)
        np.testing.assert_allclose(b[t], H.T @ (yt / v))
        ref = -0.5 * (obs.sum() * np.log(2 * np.pi) + np.log(v).sum() + (yt**2 / v).sum())
        np.testing.assert_allclose(const[t], ref)


def test_ar1_stats_equal_loops(rng):
    T, N, k = 6, 3, 2
    y = rng.standard_normal((T, N))
    mask = np.ones((T, N), dtype=bool)
    mask[:2, 0] = False
    mask[3, 1] = False
    y0 = np.where(mask, y, 0.0)
    lam = rng.standard_normal((N, k))
    var = rng.uniform(0.5, 2, N)
    rho = rng.uniform(-0.8, 0.8, N)
    m_diff, m_start, _ = ar1_masks(mask)
    y_lag = np.zeros_like(y0)
    y_lag[1:] = y0[:-1]
    C, b, const = (x.eval() for x in obs_stats_ar1(y0, y_lag, m_diff, m_start, lam, var, rho))
    for t in range(T):
        Cr, br, cr = np.zeros((2 * k, 2 * k)), np.zeros(2 * k), 0.0
        for i in range(N):
            if not mask[t, i]:
                continue
            if t > 0 and mask[t - 1, i]:
                z = np.r_[lam[i], -rho[i] * lam[i]]
                obs, v = y[t, i] - rho[i] * y[t - 1, i], var[i]
            else:
                z = np.r_[lam[i], np.zeros(k)]
                obs, v = y[t, i], var[i] / (1 - rho[i] ** 2)
            Cr += np.outer(z, z) / v
            br += z * obs / v
            cr += -0.5 * (np.log(2 * np.pi) + np.log(v) + obs**2 / v)
        np.testing.assert_allclose(C[t], Cr, atol=1e-12)
        np.testing.assert_allclose(b[t], br, atol=1e-12)
        np.testing.assert_allclose(const[t], cr)


def test_ar1_inputs_lag_and_masks():
    from bdfm.statespace.stats import ar1_inputs

    y = np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 4.0]])
    mask = np.array([[1, 0], [1, 1], [0, 1]], dtype=bool)
    out = ar1_inputs(y, mask)
    np.testing.assert_array_equal(out["y_lag"], [[0, 0], [1, 0], [2, 3]])
    np.testing.assert_array_equal(out["m_diff"], [[0, 0], [1, 0], [0, 1]])
    np.testing.assert_array_equal(out["m_start"], [[1, 0], [0, 1], [0, 0]])
