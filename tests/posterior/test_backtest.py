"""VaR backtests: LR tests against hand-computed values, the filter's one-step predictive
against dense conditioning, mixture VaR/ES, coverage on simulated data, the driver."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.stats import binom, chi2, norm

import bdfm
from bdfm.posterior.backtest import (
    BacktestResult,
    backtest_var,
    christoffersen,
    kupiec,
    mixture_var_es,
    one_step_portfolio,
)
from bdfm.spec import DFMSpec
from tests.conftest import (
    dense_condition,
    dense_joint_cov,
    n_lags,
    one_draw,
    simulate_known,
    true_params,
)

#: 20 dates (19 transitions), violations at 3, 4, 10, 17: n00=12, n01=3, n10=3, n11=1
SEQUENCE = np.zeros(20, bool)
SEQUENCE[[3, 4, 10, 17]] = True


def test_kupiec_by_hand():
    # x = 4, n = 20, p = 0.05
    lr = -2 * (16 * np.log(0.95) + 4 * np.log(0.05) - 16 * np.log(0.8) - 4 * np.log(0.2))
    res = kupiec(SEQUENCE, 0.95)
    assert res.statistic == pytest.approx(lr, rel=1e-12)
    assert res.p_value == pytest.approx(chi2.sf(lr, 1), rel=1e-12)
    assert res.df == 1
    # no violations at all: LR = -2 n log(1 - p)
    assert kupiec(np.zeros(50, bool), 0.99).statistic == pytest.approx(-100 * np.log(0.99))


def test_christoffersen_by_hand():
    n00, n01, n10, n11 = 12, 3, 3, 1
    pi0, pi1, pi = 3 / 15, 1 / 4, 4 / 19
    ll0 = (n00 + n10) * np.log(1 - pi) + (n01 + n11) * np.log(pi)
    ll1 = n00 * np.log(1 - pi0) + n01 * np.log(pi0) + n10 * np.log(1 - pi1) + n11 * np.log(pi1)
    ind = -2 * (ll0 - ll1)
    res = christoffersen(SEQUENCE, 0.95)
    assert res["independence"].statistic == pytest.approx(ind, rel=1e-12)
    assert res["independence"].p_value == pytest.approx(chi2.sf(ind, 1), rel=1e-12)
    cc = ind + kupiec(SEQUENCE, 0.95).statistic
    assert res["conditional_coverage"].statistic == pytest.approx(cc, rel=1e-12)
    assert res["conditional_coverage"].p_value == pytest.approx(chi2.sf(cc, 2), rel=1e-12)
    # no consecutive violations possible: n11 = 0 is handled (0 log 0 = 0)
    alt = np.zeros(10, bool)
    alt[[2, 6]] = True
    assert np.isfinite(christoffersen(alt, 0.9)["independence"].statistic)
    with pytest.raises(ValueError, match="booleans"):
        kupiec([0, 2, 1], 0.95)


def test_mixture_var_es():
    # one component: the Gaussian closed form
    var, es = mixture_var_es(np.array([[0.1]]), np.array([[2.0]]), 0.99)
    assert var[0] == pytest.approx(-norm.ppf(0.01, 0.1, 2.0), rel=1e-10)
    assert es[0] == pytest.approx(-0.1 + 2.0 * norm.pdf(norm.ppf(0.99)) / 0.01, rel=1e-10)
    # two components: the CDF at -VaR is 1 - alpha, ES by quadrature
    mu, sd = np.array([[0.0], [1.0]]), np.array([[1.0], [3.0]])
    var, es = mixture_var_es(mu, sd, 0.95)
    q = -var[0]
    assert np.mean(norm.cdf(q, mu[:, 0], sd[:, 0])) == pytest.approx(0.05, abs=1e-12)

    def density(r):
        return np.mean(norm.pdf(r, mu[:, 0], sd[:, 0]))

    tail = integrate.quad(lambda r: r * density(r), -np.inf, q)[0]
    assert es[0] == pytest.approx(-tail / 0.05, rel=1e-7)


@pytest.mark.parametrize("ar1", [False, True])
def test_one_step_portfolio_equals_dense_conditioning(ar1):
    params = true_params(ar1)
    cov = dense_joint_cov(params, 9)
    rng = np.random.default_rng(5)
    y = rng.multivariate_normal(np.zeros(36), cov).reshape(9, 4)
    mask = np.ones((9, 4), bool)  # complete data: the AR(1) restart rule is then exact
    w = np.array([0.4, 0.3, -0.2, 0.5])
    mean, sd = one_step_portfolio(y, mask, one_draw(params), n_lags(params), w)
    for t in (0, 4, 8):
        target = np.zeros((9, 4), bool)
        target[t] = True
        m, v = dense_condition(cov, y[:t], mask[:t], target)
        assert mean[0, t] == pytest.approx(w @ m, abs=1e-10)
        assert sd[0, t] ** 2 == pytest.approx(w @ v @ w, rel=1e-10)


def test_one_step_var_violations_in_binomial_band():
    """Known parameters, 1500 out-of-sample dates: 95% VaR violated about 5% of the time."""
    params = true_params(True)
    _, data = simulate_known(n_time=1600, seed=21)
    y = data.to_numpy()
    w = np.array([0.25, 0.25, 0.25, 0.25])
    mean, sd = one_step_portfolio(y, np.ones_like(y, bool), one_draw(params), 2, w)
    var, _ = mixture_var_es(mean[:, 100:], sd[:, 100:], 0.95)
    hits = (y[100:] @ w) < -var
    n = hits.size
    lo, hi = binom.ppf([0.005, 0.995], n, 0.05)
    assert lo <= hits.sum() <= hi
    # standardised one-step errors are N(0, 1)
    z = (y[100:] @ w - mean[0, 100:]) / sd[0, 100:]
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.06


@pytest.fixture(scope="module")
def simulated_returns():
    spec = DFMSpec(n_factors=1, idiosyncratic="iid")
    data, _ = bdfm.simulate(spec, n_time=160, n_series=5, random_seed=4)
    return 0.01 * data


def test_backtest_var_with_point_estimates(simulated_returns):
    data = simulated_returns.copy()
    data.iloc[130, 2] = np.nan  # a missing return: no realised portfolio return that day
    res = backtest_var(data, {"n_factors": 1}, window=100, alpha=0.95, refit_every=30, method="mle")
    assert isinstance(res, BacktestResult)
    frame = res.frame
    assert list(frame.columns) == [
        "mean", "var", "es", "log_score", "log_score_mc_se", "return", "violation"
    ]  # fmt: skip
    pd.testing.assert_index_equal(frame.index, data.index[100:])
    assert len(res.refits) == 2 and res.refits[1] == data.index[130]
    assert np.isnan(frame.loc[data.index[130], "return"])
    np.testing.assert_allclose(
        frame["return"].drop(data.index[130]), data.iloc[100:].drop(data.index[130]).mean(axis=1)
    )
    assert (frame["var"] > 0).all() and (frame["es"] > frame["var"]).all()
    assert list(res.violations) == list(frame.index[frame["violation"]])
    assert 0 <= res.kupiec().p_value <= 1
    assert set(res.christoffersen()) == {"independence", "conditional_coverage", "unconditional"}
    # rolling vs expanding windows differ only in the training data
    expanding = backtest_var(
        data,
        DFMSpec(n_factors=1),
        window=100,
        alpha=0.95,
        refit_every=30,
        method="mle",
        expanding=True,
    )
    pd.testing.assert_series_equal(expanding.frame["var"].iloc[:30], frame["var"].iloc[:30])


def test_backtest_var_input_errors(simulated_returns):
    with pytest.raises(ValueError, match="window"):
        backtest_var(simulated_returns, {"n_factors": 1}, window=200, method="mle")
    with pytest.raises(ValueError, match="method"):
        backtest_var(simulated_returns, {"n_factors": 1}, window=100, method="ols")
    with pytest.raises(ValueError, match="missing series"):
        backtest_var(
            simulated_returns,
            {"n_factors": 1},
            window=100,
            weights=pd.Series(0.5, index=["y1", "y2"]),
            method="mle",
        )


@pytest.mark.slow
def test_backtest_var_bayes_refits(simulated_returns):
    res = backtest_var(
        simulated_returns,
        {"n_factors": 1},
        window=100,
        alpha=0.95,
        refit_every=30,
        method="bayes",
        executor="serial",
        max_draws=50,
        draws=50,
        tune=50,
        chains=1,
        sampler="pymc",
        random_seed=1,
        progress=False,
    )
    assert res.frame["var"].notna().all() and len(res.refits) == 2


# ---------------------------------------------------------------------------- scores, portfolios
def test_log_score_is_the_models_one_step_density(simulated_returns):
    """The backtest's log score (particle filter path) equals the model's own pytensor
    likelihood graph at the same point estimate, in original units."""
    data = simulated_returns
    res = backtest_var(data, {"n_factors": 1}, window=100, alpha=0.95, refit_every=60, method="mle")
    train = bdfm.DynamicFactorModel(data.iloc[:100], n_factors=1)
    fitted = train.fit_mle()
    scaling = train.panel.scaling
    seg = bdfm.DynamicFactorModel(data.iloc[:130], n_factors=1, scaling=scaling)
    ref = seg.loglike_pointwise(fitted.params)[100:] + seg.panel.log_jacobian()[100:]
    np.testing.assert_allclose(res.frame["log_score"].iloc[:30], ref, rtol=1e-9)
    assert (res.frame["log_score_mc_se"] == 0).all()
    total, se = res.elpd()
    assert total == pytest.approx(res.frame["log_score"].sum()) and se > 0


def test_several_portfolios_and_levels_from_one_set_of_fits(simulated_returns):
    data = simulated_returns
    weights = pd.DataFrame(np.eye(5), index=list(data.columns), columns=data.columns)
    weights.loc["ew"] = 0.2
    both = backtest_var(
        data, {"n_factors": 1}, window=100, alpha=[0.95, 0.99], refit_every=60,
        weights=weights, method="mle",
    )  # fmt: skip
    assert set(both) == {(p, a) for p in weights.index for a in (0.95, 0.99)}
    single = backtest_var(
        data, {"n_factors": 1}, window=100, alpha=0.99, refit_every=60, method="mle"
    )
    pd.testing.assert_frame_equal(both[("ew", 0.99)].frame, single.frame, check_exact=False)
    one = both[("y3", 0.95)]
    np.testing.assert_allclose(one.frame["return"], data["y3"].iloc[100:])
    assert (both[("y3", 0.99)].frame["var"] > one.frame["var"]).all()


def test_tick_loss_and_elpd_difference_by_hand():
    idx = pd.date_range("2020-01-01", periods=4)
    frame = pd.DataFrame(
        {"var": [1.0, 2.0, 1.0, 1.0], "return": [-1.5, 0.5, np.nan, 0.0],
         "log_score": [-1.0, -2.0, -1.5, np.nan]},
        index=idx,
    )  # fmt: skip
    frame["violation"] = frame["return"] < -frame["var"]
    res = BacktestResult(frame, 0.9, "mle", idx[:1])
    # q = -var; losses (1{r<q} - 0.1)(q - r): (0.9)(0.5), (-0.1)(-2.5), (-0.1)(-1.0)
    assert res.tick_loss() == pytest.approx((0.45 + 0.25 + 0.1) / 3)
    other = BacktestResult(frame.assign(log_score=[-2.0, -2.5, -1.0, -3.0]), 0.9, "mle", idx[:1])
    diff, se = res.elpd_difference(other)
    d = np.array([1.0, 0.5, -0.5])
    assert diff == pytest.approx(d.sum()) and se == pytest.approx(np.sqrt(3 * d.var(ddof=1)))


def test_mixture_weights_reduce_to_repeated_components():
    mu = np.array([[0.0], [1.0], [1.0]])
    sd = np.array([[1.0], [3.0], [3.0]])
    equal = mixture_var_es(mu, sd, 0.95)
    weighted = mixture_var_es(mu[:2], sd[:2], 0.95, weights=np.array([[1 / 3], [2 / 3]]))
    np.testing.assert_allclose(weighted, equal, rtol=1e-12)


# ---------------------------------------------------------------------------- volatility models
SV_SPEC = DFMSpec(
    n_factors=1, factor_volatility="sv", idio_volatility="common_sv", tails="student_t"
)


def test_segment_predictive_without_volatility_noise_is_the_constant_one(simulated_returns):
    """Zero vol-of-vol: the particle mixture collapses to the Kalman predictive (the
    Student-t scales are checked against quadrature in tests/statespace/test_particle.py)."""
    from bdfm.posterior.backtest import segment_predictive

    data = simulated_returns.to_numpy() * 100
    mask = np.ones(data.shape, bool)
    const = {
        "loadings": np.array([[0.8, 0.5, -0.3, 0.6, 0.2]]).T[None],
        "factor_ar": np.array([[[0.5]]])[None],
        "idio_sd": np.array([[0.6, 0.7, 0.5, 0.9, 0.4]]),
    }
    sv = const | {
        "factor_sv_phi": np.array([[0.9]]), "factor_sv_sd": np.array([[0.0]]),
        "idio_sv_phi": np.array([0.9]), "idio_sv_sd": np.array([0.0]),
    }  # fmt: skip
    w = np.full(5, 0.2)
    a = segment_predictive(data, mask, const, DFMSpec(n_factors=1), w, 100)
    spec = DFMSpec(n_factors=1, factor_volatility="sv", idio_volatility="common_sv")
    b = segment_predictive(data, mask, sv, spec, w, 100, n_particles=8, random_seed=1)
    np.testing.assert_allclose(b.loglike, a.loglike, rtol=1e-6)
    np.testing.assert_allclose(
        mixture_var_es(b.mean, b.sd, 0.99, weights=b.weight),
        mixture_var_es(a.mean, a.sd, 0.99, weights=a.weight),
        rtol=1e-6,
    )
    np.testing.assert_allclose(b.weight.sum(axis=0), 1.0)


def test_volatility_backtest_refuses_point_estimates_and_per_series_sv(simulated_returns):
    with pytest.raises(ValueError, match="method='bayes'"):
        backtest_var(simulated_returns, SV_SPEC, window=100, method="map")
    with pytest.raises(ValueError, match="common_sv"):
        backtest_var(
            simulated_returns,
            {"n_factors": 1, "idio_volatility": "sv"},
            window=100,
            method="bayes",
        )
    with pytest.raises(ValueError, match="n_particles"):
        backtest_var(simulated_returns, SV_SPEC, window=100, n_particles=1)


@pytest.mark.slow
def test_volatility_backtest_bayes_beats_constant_on_sv_data():
    """Simulated factor + idiosyncratic SV: the SV model's rolling one-step log scores beat
    the constant model's by more than 2 SE, and its 95% VaR is violated about 5% of days."""
    spec = DFMSpec(n_factors=1, factor_volatility="sv", idio_volatility="common_sv")
    params = {
        "loadings": np.array([[0.9, 0.7, 0.8, 0.5, 0.6, 0.4]]).T,
        "factor_ar": np.array([[[0.2]]]),
        "idio_sd": np.full(6, 0.6),
        "factor_sv_phi": np.array([0.97]),
        "factor_sv_sd": np.array([0.3]),
        "idio_sv_phi": np.array(0.97),
        "idio_sv_sd": np.array(0.2),
    }
    data, _ = bdfm.simulate(spec, params=params, n_time=600, random_seed=3)
    common = dict(
        window=300, alpha=0.95, refit_every=150, method="bayes", executor="serial",
        max_draws=40, draws=150, tune=200, chains=2, random_seed=2, progress=False,
    )  # fmt: skip
    sv = backtest_var(data, {"n_factors": 1, "factor_volatility": "sv",
                             "idio_volatility": "common_sv"}, n_particles=50, **common)  # fmt: skip
    const = backtest_var(data, {"n_factors": 1}, **common)
    diff, se = sv.elpd_difference(const)
    assert diff > 2 * se
    assert 0.02 <= sv.violation_rate <= 0.09
    assert (sv.frame["log_score_mc_se"] > 0).all()
