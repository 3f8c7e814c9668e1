"""Filter and smoother moments against dense Gaussian conditioning (independent oracle)."""

import numpy as np
from scipy.linalg import solve_discrete_lyapunov

from bdfm.statespace.kalman import filter_states, smooth_states


def _dense_posterior(Y, mask, lam, A, sd):
    """E[f | y] and Var(f_t | y) for a VAR(1) factor model by brute-force conditioning."""
    T = Y.shape[0]
    k = A.shape[0]
    g0 = solve_discrete_lyapunov(A, np.eye(k))
    cov_f = np.zeros((T * k, T * k))
    for s in range(T):
        for t in range(s + 1):
            blk = np.linalg.matrix_power(A, s - t) @ g0
            cov_f[s * k : (s + 1) * k, t * k : (t + 1) * k] = blk
            cov_f[t * k : (t + 1) * k, s * k : (s + 1) * k] = blk.T
    H = np.kron(np.eye(T), lam)
    cov_y = H @ cov_f @ H.T + np.diag(np.tile(sd**2, T))
    keep = mask.ravel()
    Hk = H[keep]
    cyy = cov_y[np.ix_(keep, keep)]
    gain = cov_f @ Hk.T @ np.linalg.inv(cyy)
    mean = gain @ Y.ravel()[keep]
    var = cov_f - gain @ Hk @ cov_f
    return mean.reshape(T, k), np.array(
        [var[t * k : (t + 1) * k, t * k : (t + 1) * k] for t in range(T)]
    )


def test_smoother_matches_dense_conditioning(rng):
    T, N, k = 12, 5, 2
    lam = rng.standard_normal((N, k))
    A = np.array([[0.6, 0.1], [-0.2, 0.4]])
    sd = rng.uniform(0.5, 1.0, N)
    Y = rng.standard_normal((T, N))
    mask = rng.random((T, N)) > 0.2
    mask[5] = False  # a period with nothing observed
    y0 = np.where(mask, Y, 0.0)
    w = mask / sd**2
    C = np.einsum("tn,ni,nj->tij", w, lam, lam)
    b = (w * y0) @ lam
    filt = filter_states(C, b, A, np.ones((T, k)), solve_discrete_lyapunov(A, np.eye(k)))
    sm = smooth_states(filt, A)
    mean, var = _dense_posterior(y0, mask, lam, A, sd)
    np.testing.assert_allclose(sm.x_smooth, mean, atol=1e-10)
    np.testing.assert_allclose(sm.P_smooth, var, atol=1e-10)
    # the filtered moments at T equal the smoothed ones
    np.testing.assert_allclose(filt.x_filt[-1], sm.x_smooth[-1])
    # the predicted mean at t=0 is the stationary mean (zero)
    np.testing.assert_allclose(filt.x_pred[0], 0.0)
