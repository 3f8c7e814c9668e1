"""The Rao–Blackwellised particle filter against exact Kalman values and brute-force integrals.

Oracles, all independent of the particle filter:

- constant volatility: the collapsed Kalman filter (numpy kernels and the pytensor graph);
- random volatility: the dense joint Gaussian density of y_{1:T} given the volatility path
  (built here from the AR(1) recursions), integrated over the path by Gauss–Hermite
  (log-variances) or generalised Gauss–Laguerre (Gamma mixing scales) quadrature;
- Student-t at the first date: the closed-form multivariate t density.
"""

import itertools

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.linalg import solve_discrete_lyapunov
from scipy.special import logsumexp, roots_genlaguerre
from scipy.stats import multivariate_normal, multivariate_t, norm

from bdfm.statespace.assemble import dfm_loglike_pointwise
from bdfm.statespace.inputs import filter_inputs
from bdfm.statespace.kalman import filter_states
from bdfm.statespace.particle import particle_loglike
from bdfm.statespace.stats import ar1_inputs

LAM = np.array([[1.0, 0.2], [0.5, -0.7], [-0.3, 0.9], [0.8, 0.4], [0.2, 0.1]])
AR2 = np.stack([np.array([[0.5, 0.1], [0.05, 0.3]]), np.diag([0.2, -0.1])])
SD = np.array([0.5, 0.8, 0.6, 1.0, 0.7])
RHO = np.array([0.6, 0.3, -0.4, 0.8, 0.0])


def _panel(T, N, seed, missing=True):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((T, N)) * 1.5
    mask = np.ones((T, N), bool)
    if missing:
        mask[:3, 0] = False  # ragged start
        mask[-2:, 1] = False  # ragged end
        mask[7] = False  # a date with nothing observed
    return np.where(mask, y, np.nan), mask


def _kalman(y, mask, lam, ar, sd, rho=None):
    """Exact pointwise log-likelihood from the numpy filter (constant variances)."""
    y0 = np.where(mask, y, 0.0)
    n_lags = max(ar.shape[0], 1 if rho is None else 2)
    inp = filter_inputs(y0, mask, lam, ar, sd, rho, n_lags=n_lags)
    return inp.const + filter_states(inp.C, inp.b, inp.top, inp.q, inp.P0).loglike_state


def _graph(y, mask, lam, ar, sd, rho=None, factor_var=None, obs_scale=None):
    """The pytensor likelihood graph, evaluated."""
    y0 = np.where(mask, y, 0.0)
    kw = {} if rho is None else ar1_inputs(y0, mask)
    return dfm_loglike_pointwise(
        y0, mask.astype(float), lam, ar, sd, rho, factor_var=factor_var, obs_scale=obs_scale, **kw
    ).eval()


# ------------------------------------------------------------------- dense oracle given a path
def _ar1_factor(coef, var, first_var):
    """B (G, T, T) with x = B e, e ~ N(0, I): x_0 ~ N(0, first_var), x_t = coef x_{t-1} + sqrt(var_t) e_t."""
    T = var.shape[1]
    pw = np.tril(coef ** np.maximum(np.subtract.outer(np.arange(T), np.arange(T)), 0))
    sd = np.sqrt(var.copy())
    sd[:, 0] = np.sqrt(first_var)
    return pw[None] * sd[:, None, :]


def _dense_loglike_given_path(y, lam, a, sd, q, c, rho=None):
    """log p(y_{1:T} | path) for one factor (AR(1) coefficient a), fully observed y.

    q (G, T): factor innovation variances; c (G, T): idiosyncratic multipliers. The
    first factor is stationary with variance q_1 / (1 - a²); AR(1) errors start from
    σ² c_1 / (1 - ρ²) and have innovation variances σ² c_t.
    """
    T, N = y.shape
    G = q.shape[0]
    Bf = _ar1_factor(a, q, q[:, 0] / (1 - a**2))
    cov_f = Bf @ np.swapaxes(Bf, 1, 2)  # (G, T, T)
    cov = np.einsum("gts,i,j->gtisj", cov_f, lam, lam)
    for i in range(N):
        v = sd[i] ** 2 * c
        if rho is None:
            cov[:, np.arange(T), i, np.arange(T), i] += v
        else:
            Bu = _ar1_factor(rho[i], v, v[:, 0] / (1 - rho[i] ** 2))
            cov[:, :, i, :, i] += Bu @ np.swapaxes(Bu, 1, 2)
    cov = cov.reshape(G, T * N, T * N)
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, np.broadcast_to(y.ravel(), (G, T * N))[..., None])[..., 0]
    logdet = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return -0.5 * (T * N * np.log(2 * np.pi) + logdet + (z**2).sum(axis=1))


def _gh_ar1_paths(T, phi, s, n_nodes):
    """Gauss–Hermite nodes (G, T) and log weights (G,) of a stationary AR(1) path, mean 0."""
    x, w = hermegauss(n_nodes)
    w = w / np.sqrt(2 * np.pi)
    lags = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    chol = np.linalg.cholesky(s**2 / (1 - phi**2) * phi**lags)
    z = np.array(list(itertools.product(x, repeat=T)))
    logw = np.log(np.array(list(itertools.product(w, repeat=T)))).sum(axis=1)
    return z @ chol.T, logw


# ------------------------------------------------------------------- exactness without randomness
@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_constant_gaussian_equals_kalman_exactly(idio):
    y, mask = _panel(30, 5, 1)
    rho = RHO if idio == "ar1" else None
    res = particle_loglike(y, mask, LAM, AR2, SD, rho, n_particles=20, random_seed=0)
    ref = _kalman(y, mask, LAM, AR2, SD, rho)
    np.testing.assert_allclose(res.loglike, ref, rtol=0, atol=1e-10)
    assert np.all(res.se == 0.0)
    assert np.all(res.ess == pytest.approx(20.0))
    assert not res.resampled.any()
    assert res.h_mean is None and res.g_mean is None and res.lam_mean is None
    assert res.total_se == 0.0
    # the same against the pytensor likelihood graph
    np.testing.assert_allclose(res.loglike, _graph(y, mask, LAM, AR2, SD, rho), atol=1e-10)


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_known_factor_log_var_path_equals_graph_given_the_path(idio):
    """A known (e.g. observation-driven) factor variance path: the exact Kalman filter given it."""
    T = 25
    y, mask = _panel(T, 5, 12)
    rho = RHO if idio == "ar1" else None
    path = np.random.default_rng(3).normal(0.0, 0.6, (T, 2))
    res = particle_loglike(
        y, mask, LAM, AR2, SD, rho, factor_log_var=path, n_particles=7, random_seed=1
    )
    ref = _graph(y, mask, LAM, AR2, SD, rho, factor_var=np.exp(path))
    np.testing.assert_allclose(res.loglike, ref, rtol=0, atol=1e-10)
    assert np.all(res.se == 0.0) and not res.resampled.any()
    # the path matters: a constant one gives another likelihood
    assert not np.allclose(res.loglike, _kalman(y, mask, LAM, AR2, SD, rho), atol=1e-3)


@pytest.mark.parametrize("nu", [None, 6.0])
def test_factor_garch_is_the_known_path_computed_from_the_data(nu):
    """factor_garch=(α, β): the GARCH path of the GLS shocks of y, then as factor_log_var."""
    from bdfm.statespace.garch import factor_garch_variance

    y, mask = _panel(30, 5, 13)
    coefs = np.array([0.15, 0.05]), np.array([0.8, 0.9]), np.array([0.0, 0.08])
    q, _ = factor_garch_variance(np.where(mask, y, 0.0), mask, LAM, AR2, SD, *coefs)
    kw = {"nu": nu, "n_particles": 50}
    res = particle_loglike(y, mask, LAM, AR2, SD, factor_garch=coefs, random_seed=4, **kw)
    ref = particle_loglike(y, mask, LAM, AR2, SD, factor_log_var=np.log(q), random_seed=4, **kw)
    np.testing.assert_array_equal(res.loglike, ref.loglike)
    if nu is None:  # no latent state: exact, against the pytensor graph given the path
        np.testing.assert_allclose(
            res.loglike, _graph(y, mask, LAM, AR2, SD, factor_var=q), atol=1e-10
        )


def test_known_path_with_student_t_matches_gauss_laguerre():
    """Known factor path and t shocks: the date's density integrates only over λ."""
    T, N = 1, 5
    y, mask = _panel(T, N, 13, missing=False)
    path = np.array([[0.7, -0.4]])
    nu = 5.0
    res = particle_loglike(
        y, mask, LAM, AR2, SD, factor_log_var=path, nu=nu, n_particles=20000, random_seed=2
    )
    # λ ~ Gamma(ν/2, rate ν/2): Gauss–Laguerre in x = λ ν / 2
    x, w = roots_genlaguerre(60, nu / 2 - 1)
    lam = 2 * x / nu
    top = np.zeros((2, 4))
    top[:, :2], top[:, 2:] = AR2[0], AR2[1]
    comp = np.zeros((4, 4))
    comp[:2] = top
    comp[2:, :2] = np.eye(2)
    dens = []
    for lj in lam:
        q = np.zeros((4, 4))
        q[:2, :2] = np.diag(np.exp(path[0]) / lj)
        P0 = solve_discrete_lyapunov(comp, q)[:2, :2]
        cov = LAM @ P0 @ LAM.T + np.diag(SD**2 / lj)
        dens.append(multivariate_normal(np.zeros(N), cov).logpdf(y[0]))
    ref = logsumexp(np.array(dens) + np.log(w)) - np.log(np.sum(w))
    assert abs(res.loglike[0] - ref) < 4 * res.se[0] + 1e-3


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_zero_sd_sv_at_nonzero_levels_equals_scaled_graph(idio):
    """sd = 0 fixes h and g at their means: the graph with factor_var and obs_scale, exactly."""
    T, N = 20, 5
    y, mask = _panel(T, N, 2)
    rho = RHO if idio == "ar1" else None
    mu_h, mu_g = np.array([0.4, -0.3]), -0.5
    res = particle_loglike(
        y,
        mask,
        LAM,
        AR2,
        SD,
        rho,
        factor_sv=(np.array([0.9, 0.5]), 0.0, mu_h),
        idio_sv=(0.7, 0.0, mu_g),
        n_particles=10,
        random_seed=0,
    )
    ref = _graph(
        y,
        mask,
        LAM,
        AR2,
        SD,
        rho,
        factor_var=np.tile(np.exp(mu_h), (T, 1)),
        obs_scale=np.full((T, N), np.exp(mu_g)),
    )
    np.testing.assert_allclose(res.loglike, ref, rtol=0, atol=1e-10)
    assert np.all(res.se == 0.0)
    np.testing.assert_allclose(res.h_mean, np.tile(mu_h, (T, 1)))
    np.testing.assert_allclose(res.g_mean, mu_g)


def test_sv_sd_to_zero_converges_to_kalman():
    y, mask = _panel(40, 5, 3)
    ref = _kalman(y, mask, LAM, AR2, SD)
    errs, ses = [], []
    for s in (1e-2, 1e-4):
        res = particle_loglike(
            y,
            mask,
            LAM,
            AR2,
            SD,
            factor_sv=(0.9, s),
            idio_sv=(0.9, s),
            n_particles=50,
            random_seed=1,
        )
        errs.append(np.abs(res.loglike - ref).max())
        ses.append(res.se.max())
    assert errs[1] < 1e-3 and ses[1] < 1e-2
    assert errs[1] < errs[0] / 10 and ses[1] < ses[0] / 10


# ------------------------------------------------------------------- random volatility: quadrature
def test_factor_sv_total_matches_gauss_hermite():
    """T = 3, N = 2, k = 1: log p(y_{1:3}) against 30³-point Gauss–Hermite over (h_1, h_2, h_3)."""
    T, a, phi, s = 3, 0.5, 0.8, 0.7
    lam, sd = np.array([1.0, 0.6]), np.array([0.5, 0.7])
    y = np.array([[1.2, 0.4], [-2.5, -1.1], [0.3, 0.9]])
    h, logw = _gh_ar1_paths(T, phi, s, 30)
    ll = _dense_loglike_given_path(y, lam, a, sd, np.exp(h), np.ones_like(h))
    exact = logsumexp(ll + logw)
    res = particle_loglike(
        y,
        np.ones_like(y, bool),
        lam[:, None],
        np.array([[[a]]]),
        sd,
        factor_sv=(phi, s),
        n_particles=20000,
        random_seed=7,
    )
    assert 0 < res.total_se < 0.02
    assert abs(res.total - exact) < 4 * res.total_se
    # the first date alone is a one-dimensional integral
    h1, w1 = _gh_ar1_paths(1, phi, s, 60)
    first = logsumexp(
        _dense_loglike_given_path(y[:1], lam, a, sd, np.exp(h1), np.ones_like(h1)) + w1
    )
    assert abs(res.loglike[0] - first) < 4 * res.se[0]
    assert res.h_mean.shape == (T, 1)


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_factor_and_idio_sv_total_matches_gauss_hermite(idio):
    """T = 2: 14⁴-point Gauss–Hermite over (h_1, h_2, g_1, g_2)."""
    T, a = 2, 0.6
    lam, sd = np.array([1.0, -0.5]), np.array([0.6, 0.8])
    rho = np.array([0.5, -0.3]) if idio == "ar1" else None
    y = np.array([[1.5, -0.2], [-0.7, 1.9]])
    fsv, isv = (0.9, 0.5), (0.7, 0.6)
    h, wh = _gh_ar1_paths(T, *fsv, 14)
    g, wg = _gh_ar1_paths(T, *isv, 14)
    ih, ig = np.meshgrid(np.arange(len(wh)), np.arange(len(wg)), indexing="ij")
    ih, ig = ih.ravel(), ig.ravel()
    ll = _dense_loglike_given_path(y, lam, a, sd, np.exp(h[ih]), np.exp(g[ig]), rho)
    exact = logsumexp(ll + wh[ih] + wg[ig])
    res = particle_loglike(
        y,
        np.ones_like(y, bool),
        lam[:, None],
        np.array([[[a]]]),
        sd,
        rho,
        factor_sv=fsv,
        idio_sv=isv,
        n_particles=20000,
        random_seed=11,
    )
    assert 0 < res.total_se < 0.02
    assert abs(res.total - exact) < 4 * res.total_se


def test_student_t_with_ar1_errors_total_matches_gauss_laguerre():
    """T = 3, t shocks only: generalised Gauss–Laguerre over (λ_1, λ_2, λ_3)."""
    T, a, nu = 3, 0.5, 5.0
    lam, sd, rho = np.array([0.9, 0.4]), np.array([0.5, 0.8]), np.array([0.6, 0.2])
    y = np.array([[2.2, 0.4], [-1.0, -3.1], [0.3, 0.8]])
    x, w = roots_genlaguerre(40, nu / 2 - 1)
    logw1 = np.log(w) - np.log(np.sum(w))  # Gamma(ν/2, 1) weights, normalised
    scales = np.array(list(itertools.product(2 * x / nu, repeat=T)))  # λ ~ Gamma(ν/2, rate ν/2)
    logw = np.array(list(itertools.product(logw1, repeat=T))).sum(axis=1)
    ll = _dense_loglike_given_path(y, lam, a, sd, 1 / scales, 1 / scales, rho)
    exact = logsumexp(ll + logw)
    res = particle_loglike(
        y,
        np.ones_like(y, bool),
        lam[:, None],
        np.array([[[a]]]),
        sd,
        rho,
        nu=nu,
        n_particles=20000,
        random_seed=5,
    )
    assert 0 < res.total_se < 0.02
    assert abs(res.total - exact) < 4 * res.total_se
    assert np.all(res.lam_mean > 0)


@pytest.mark.parametrize("N", [1, 3])
def test_student_t_first_date_is_multivariate_t(N):
    """y_1 | λ ~ N(0, Σ / λ) with Σ the stationary covariance: a multivariate t_ν(0, Σ)."""
    a, nu = 0.7, 4.5
    lam = np.array([1.0, 0.5, -0.8])[:N, None]
    sd = np.array([0.6, 0.9, 0.5])[:N]
    cov = lam @ lam.T / (1 - a**2) + np.diag(sd**2)
    y = np.array([[2.5, -1.0, 0.7], [0.1, 0.2, 0.3]])[:, :N]
    res = particle_loglike(
        y,
        np.ones_like(y, bool),
        lam,
        np.array([[[a]]]),
        sd,
        nu=nu,
        n_particles=20000,
        random_seed=3,
    )
    exact = multivariate_t(loc=np.zeros(N), shape=cov, df=nu).logpdf(y[0])
    assert 0 < res.se[0] < 0.02
    assert abs(res.loglike[0] - exact) < 4 * res.se[0]


def test_reported_se_matches_spread_over_seeds():
    """The reported Monte Carlo error is of the size of the actual spread across seeds."""
    y, mask = _panel(8, 5, 4, missing=False)
    kw = {"factor_sv": (0.9, 0.5), "idio_sv": (0.8, 0.4), "nu": 6.0, "n_particles": 200}
    runs = [particle_loglike(y, mask, LAM, AR2, SD, random_seed=s, **kw) for s in range(40)]
    spread = np.std([r.total for r in runs], ddof=1)
    reported = np.mean([r.total_se for r in runs])
    assert 0.5 < spread / reported < 2.0


# ------------------------------------------------------------------- bookkeeping and errors
def test_reproducible_with_seed():
    y, mask = _panel(15, 5, 5)
    kw = {"factor_sv": (0.9, 0.5), "idio_sv": (0.8, 0.4), "nu": 6.0, "n_particles": 100}
    r1 = particle_loglike(y, mask, LAM, AR2, SD, random_seed=42, **kw)
    r2 = particle_loglike(y, mask, LAM, AR2, SD, random_seed=42, **kw)
    r3 = particle_loglike(y, mask, LAM, AR2, SD, random_seed=43, **kw)
    for f in ("loglike", "se", "ess", "resampled", "factor_mean", "h_mean", "g_mean", "lam_mean"):
        np.testing.assert_array_equal(getattr(r1, f), getattr(r2, f))
    assert not np.array_equal(r1.loglike, r3.loglike)
    assert np.all(np.isfinite(r1.loglike))
    # date 7 has nothing observed: log p = 0 exactly, with no Monte Carlo error
    assert r1.loglike[7] == 0.0 and r1.se[7] == 0.0
    assert np.all(np.delete(r1.se, 7) > 0)
    assert np.all((r1.ess > 0) & (r1.ess <= 100 + 1e-9))
    assert r1.h_mean.shape == (15, 2) and r1.g_mean.shape == (15,)
    assert r1.factor_mean.shape == (15, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_particles": 1}, "n_particles"),
        ({"n_particles": 2.5}, "n_particles"),
        ({"nu": 2.0}, "nu"),
        ({"nu": 1.0}, "nu"),
        ({"nu": np.inf}, "nu"),
        ({"factor_sv": (1.0, 0.2)}, "phi"),
        ({"factor_sv": (np.array([0.5, -1.2]), 0.2)}, "phi"),
        ({"factor_sv": (0.5, -0.1)}, "sd"),
        ({"factor_sv": (0.5, np.array([0.1, 0.2, 0.3]))}, "length 2"),
        ({"factor_sv": (0.5,)}, "factor_sv"),
        ({"idio_sv": (-1.0, 0.2)}, "phi"),
        ({"idio_sv": (0.5, -0.2)}, "sd"),
        ({"idio_sv": (0.5, np.nan)}, "finite"),
        ({"factor_log_var": np.zeros((5, 3))}, "factor_log_var"),
        ({"factor_log_var": np.full((5, 2), np.inf)}, "factor_log_var"),
        ({"factor_log_var": np.zeros((5, 2)), "factor_sv": (0.5, 0.2)}, "give one of"),
        ({"factor_garch": (0.1, 0.8), "factor_sv": (0.5, 0.2)}, "give one of"),
        ({"factor_garch": (0.3, 0.8)}, "alpha \\+ gamma/2 \\+ beta < 1"),
        ({"factor_garch": (0.1, 0.7, 0.5)}, "alpha \\+ gamma/2 \\+ beta < 1"),
        ({"idio_garch": (0.1, 0.8), "idio_sv": (0.5, 0.2)}, "not both"),
    ],
)
def test_bad_inputs_raise(kwargs, match):
    y, mask = _panel(5, 5, 6, missing=False)
    with pytest.raises(ValueError, match=match):
        particle_loglike(y, mask, LAM, AR2, SD, **kwargs)


def test_bad_shapes_raise():
    y, mask = _panel(5, 5, 6, missing=False)
    with pytest.raises(ValueError, match="loadings"):
        particle_loglike(y, mask, LAM[:4], AR2, SD)
    with pytest.raises(ValueError, match="factor_ar"):
        particle_loglike(y, mask, LAM, AR2[:, :1, :1], SD)
    with pytest.raises(ValueError, match="idio_sd"):
        particle_loglike(y, mask, LAM, AR2, -SD)
    with pytest.raises(ValueError, match="idio_ar"):
        particle_loglike(y, mask, LAM, AR2, SD, np.ones(5))
    with pytest.raises(ValueError, match="mask"):
        particle_loglike(y, mask[:4], LAM, AR2, SD)


def test_stationary_start_matches_lyapunov_at_first_date():
    """With a single date and no SV the predictive is N(0, Λ P0 Λ' + Ψ), P0 from Lyapunov."""
    y, mask = _panel(1, 5, 8, missing=False)
    A = np.array([[[0.6, 0.1], [-0.2, 0.4]]])
    P0 = solve_discrete_lyapunov(A[0], np.eye(2))
    cov = LAM @ P0 @ LAM.T + np.diag(SD**2)
    res = particle_loglike(y, mask, LAM, A, SD, n_particles=2, random_seed=0)
    exact = multivariate_normal(mean=np.zeros(5), cov=cov).logpdf(y[0])
    np.testing.assert_allclose(res.loglike[0], exact, rtol=0, atol=1e-10)


# ------------------------------------------------------------------- portfolio predictive
@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_portfolio_predictive_of_a_constant_model_is_the_kalman_one(idio):
    from bdfm.posterior.backtest import one_step_portfolio

    y, mask = _panel(30, 5, 2)
    rho = RHO if idio == "ar1" else None
    w = np.array([0.3, -0.2, 0.5, 0.1, 0.4])
    res = particle_loglike(y, mask, LAM, AR2, SD, rho, n_particles=4, random_seed=0, portfolio=w)
    draws = {"loadings": LAM[None], "factor_ar": AR2[None], "idio_sd": SD[None]}
    if rho is not None:
        draws["idio_ar"] = rho[None]
    n_lags = max(AR2.shape[0], 1 if rho is None else 2)
    mean, sd = one_step_portfolio(np.where(mask, y, 0.0), mask, draws, n_lags, w)
    pred = res.portfolio
    np.testing.assert_allclose(pred.mean[..., 0], np.repeat(mean.T, 4, axis=1), atol=1e-10)
    np.testing.assert_allclose(pred.sd[..., 0], np.repeat(sd.T, 4, axis=1), atol=1e-10)
    np.testing.assert_allclose(pred.weight, 0.25)
    # several portfolios at once give each one's own predictive
    two = particle_loglike(
        y, mask, LAM, AR2, SD, rho, n_particles=4, random_seed=0, portfolio=np.stack([w, -2 * w])
    )
    np.testing.assert_allclose(two.portfolio.mean[..., 0], pred.mean[..., 0], atol=1e-12)
    np.testing.assert_allclose(two.portfolio.mean[..., 1], -2 * pred.mean[..., 0], atol=1e-10)
    np.testing.assert_allclose(two.portfolio.sd[..., 1], 2 * pred.sd[..., 0], atol=1e-10)


@pytest.mark.parametrize("idio", ["iid", "ar1"])
@pytest.mark.parametrize("nu", [None, 5.0])
def test_portfolio_mixture_of_one_series_is_the_predictive_density(idio, nu):
    """With one series and weight one the portfolio *is* y_t: the particle mixture's
    density at y_t equals the filter's own estimate of p(y_t | y_{1:t-1}). Exactly without
    tail scales; with them the mixture takes its scale from the prior (y_t unseen) while
    the filter's weights use a proposal adapted to y_t, so the two agree in expectation."""
    rng = np.random.default_rng(5)
    T = 40
    y = rng.standard_normal((T, 1)) * np.exp(rng.standard_normal((T, 1)))
    mask = np.ones((T, 1), bool)
    mask[6] = False
    lam, ar = np.array([[0.9]]), np.array([[[0.6]]])
    rho = np.array([0.5]) if idio == "ar1" else None
    res = particle_loglike(
        y, mask, lam, ar, np.array([0.4]), rho, factor_sv=(0.9, 0.5), idio_sv=(0.8, 0.4),
        nu=nu, n_particles=64 if nu is None else 20000, random_seed=3, portfolio=np.array([1.0]),
    )  # fmt: skip
    pred = res.portfolio
    np.testing.assert_allclose(pred.weight.sum(axis=1), 1.0)
    dens = np.sum(pred.weight * norm.pdf(y, pred.mean[..., 0], pred.sd[..., 0]), axis=1)
    obs = mask[:, 0]
    if nu is None:
        np.testing.assert_allclose(np.log(dens[obs]), res.loglike[obs], rtol=1e-9)
    else:
        err = np.log(dens[obs]) - res.loglike[obs]
        assert np.abs(err).max() < 0.05 and abs(err.mean()) < 0.01
    assert np.all(np.isfinite(pred.mean)) and np.all(pred.sd > 0)


def test_bad_portfolio_raises():
    y, mask = _panel(10, 5, 1)
    with pytest.raises(ValueError, match="portfolio must be"):
        particle_loglike(y, mask, LAM, AR2, SD, portfolio=np.ones(3))


@pytest.mark.parametrize("idio", ["iid", "ar1"])
def test_idio_garch_is_the_known_obs_scale_computed_from_the_data(idio):
    """idio_garch: known per-series multipliers r (T, N); with factor GARCH too, exact."""
    from bdfm.statespace.garch import factor_garch_variance, idio_garch_variance

    y, mask = _panel(30, 5, 14)
    rho = RHO if idio == "ar1" else None
    y0 = np.where(mask, y, 0.0)
    icoef = np.full(5, 0.1), np.full(5, 0.7), np.linspace(0.0, 0.2, 5)
    fcoef = np.array([0.1, 0.05]), np.array([0.8, 0.85]), np.array([0.05, 0.0])
    r, _ = idio_garch_variance(y0, mask, LAM, SD, rho, *icoef)
    q, _ = factor_garch_variance(y0, mask, LAM, AR2, SD, *fcoef)
    w = np.array([0.2, 0.3, 0.1, 0.25, 0.15])
    res = particle_loglike(
        y, mask, LAM, AR2, SD, rho, factor_garch=fcoef, idio_garch=icoef, n_particles=5,
        random_seed=1, portfolio=w,
    )  # fmt: skip
    ref = _graph(y, mask, LAM, AR2, SD, rho, factor_var=q, obs_scale=r)
    np.testing.assert_allclose(res.loglike, ref, rtol=0, atol=1e-10)
    assert np.all(res.se == 0.0)
    # the portfolio's idiosyncratic variance uses the multipliers: compare with r = 1
    flat = particle_loglike(
        y, mask, LAM, AR2, SD, rho, factor_garch=fcoef, n_particles=5, random_seed=1, portfolio=w
    )
    assert not np.allclose(res.portfolio.sd, flat.portfolio.sd)
    if idio == "iid":  # the portfolio predictive against the dense joint Gaussian
        from tests.conftest import dense_condition
        from tests.statespace.dense_tv import tv_y_cov

        T = y.shape[0]
        cov = tv_y_cov(np.ones_like(mask), LAM, AR2, SD, factor_var=q, obs_scale=r)
        for t in (0, 1, 8, 17, T - 1):
            target = np.zeros_like(mask)
            target[t] = True
            mean, var = dense_condition(cov, y0[:t], mask[:t], target)
            assert res.portfolio.mean[t, 0, 0] == pytest.approx(w @ mean, abs=1e-9)
            assert res.portfolio.sd[t, 0, 0] == pytest.approx(np.sqrt(w @ var @ w), rel=1e-9)
