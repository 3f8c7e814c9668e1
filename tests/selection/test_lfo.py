"""Leave-future-out CV: the scores against dense Gaussian predictive densities (log-mean-exp
over the draws of the refits LFO made; no bdfm filter involved), and PSIS-LFO against exact
LFO over the same points (slow: one refit per point)."""

import numpy as np
import pytest
from scipy.special import logsumexp

import bdfm
import bdfm.selection.lfo as lfo_module
from bdfm.selection.lfo import lfo
from tests.conftest import dense_original_terms

FIT = {"draws": 200, "tune": 200, "chains": 2, "sampler": "pymc", "random_seed": 1, "cores": 1}
T, L = 70, 62


@pytest.fixture(scope="module")
def fit():
    df, _ = bdfm.simulate(bdfm.DFMSpec(n_factors=1), n_time=T, n_series=4, random_seed=2)
    df = 2.0 + 3.0 * df  # original units differ from model units
    df.iloc[-3:, 0] = np.nan  # a ragged edge: the scores skip what is missing
    return bdfm.DynamicFactorModel(df, n_factors=1).fit(progressbar=False, **FIT)


@pytest.fixture(scope="module")
def data(fit):
    out = fit.idata.observed_data["y"].to_pandas()
    out.columns.name = None
    return out


def lfo_keeping_refits(fit, *args, **kwargs):
    """:func:`lfo` and the refits it made ({training length: fit}), to check its scores."""
    kept = {}
    real = lfo_module._refits

    def recording(*a, **kw):
        out = real(*a, **kw)
        kept.update(out)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lfo_module, "_refits", recording)
        return lfo(fit, *args, **kwargs), kept


@pytest.fixture(scope="module")
def approx(fit):
    return lfo_keeping_refits(fit, L)


def dense_scores(window_fit, data, i, steps):
    """log p(y_{i+1:i+steps} | y_{1:i}, θ_s) for every draw θ_s of ``window_fit``.

    Dense joint Gaussian of the observed values in original units (scaled with the
    mean and divisor-n sd of the training window, as bdfm standardises it), conditioned
    on the past through the Cholesky factor (see :func:`dense_original_terms`).
    """
    y = data.to_numpy(dtype=float)[: i + steps]
    mean, scale = np.nanmean(y[:i], axis=0), np.nanstd(y[:i], axis=0)
    post = window_fit.posterior.stack(sample=("chain", "draw"))
    names = [n for n in ("loadings", "factor_ar", "idio_sd", "idio_ar") if n in post]
    out = []
    for s in range(post.sizes["sample"]):
        params = {n: post[n].values[..., s] for n in names}
        out.append(dense_original_terms(y, params, mean, scale)[i : i + steps].sum())
    return np.array(out)


def log_mean_exp(x):
    return logsumexp(x) - np.log(len(x))


def test_psis_score_after_a_refit_is_the_log_mean_dense_predictive_density(approx, data):
    # right after the refit at L the draws are weighted equally:
    # elpd_L = log mean_s p(y_{L+1} | y_{1:L}, θ_s), θ_s the draws of the fit on y_{1:L}
    res, refits = approx
    assert res.refits[0] == L
    assert res.pointwise.iloc[0] == pytest.approx(
        log_mean_exp(dense_scores(refits[L], data, L, 1)), rel=1e-8
    )
    # the same after every later refit
    for i in res.refits[1:]:
        n = i - L
        oracle = log_mean_exp(dense_scores(refits[i], data, i, 1))
        assert res.pointwise.iloc[n] == pytest.approx(oracle, rel=1e-8)
    # one score per predicted point L + 1, ..., T, dated by it
    assert (res.pointwise.index == data.index[L:T]).all()


def test_multi_step_scores_are_joint_block_densities(fit, data):
    two, refits = lfo_keeping_refits(fit, L, steps=2)
    assert two.steps == 2
    # one score per block y_{i+1:i+2}, i = L, ..., T - 2, dated by its first point
    assert (two.pointwise.index == data.index[L : T - 1]).all()
    # the first block's score: log mean_s p(y_{L+1}, y_{L+2} | y_{1:L}, θ_s), dense
    oracle = log_mean_exp(dense_scores(refits[L], data, L, 2))
    assert two.pointwise.iloc[0] == pytest.approx(oracle, rel=1e-8)


@pytest.mark.slow
def test_psis_lfo_agrees_with_exact_lfo_over_the_same_points(fit, approx, data):
    approx, _ = approx
    exact, refits = lfo_keeping_refits(fit, L, exact=True, executor=None)
    assert exact.refits == list(range(L, T)) == sorted(refits)
    assert len(approx.refits) < len(exact.refits)
    # every exact score against the dense oracle on its own refit
    for n, i in enumerate(exact.refits):
        oracle = log_mean_exp(dense_scores(refits[i], data, i, 1))
        assert exact.pointwise.iloc[n] == pytest.approx(oracle, rel=1e-8)
    # the same points, dated by the predicted point
    assert (approx.pointwise.index == exact.pointwise.index).all()
    assert abs(approx.elpd - exact.elpd) < exact.se
    # point by point too: importance weighting only shifts each score a little
    np.testing.assert_allclose(approx.pointwise, exact.pointwise, atol=0.25)
    assert np.isnan(approx.pareto_k.iloc[0]) and (approx.pareto_k.iloc[1:].dropna() < 0.7).all()


def test_compare_by_lfo(fit, approx, monkeypatch):
    """The table holds each fit's LFO scores (lfo itself is checked above)."""
    import bdfm.selection.compare as compare_module

    approx, _ = approx
    calls = []

    def fake_lfo(fit_, **options):
        calls.append(options)
        return approx

    monkeypatch.setattr(compare_module, "lfo", fake_lfo)
    table = bdfm.compare({"a": fit, "b": fit}, method="lfo", min_train=L)
    assert calls == [{"min_train": L}] * 2
    assert set(table.index) == {"a", "b"}
    np.testing.assert_allclose(table["elpd"], approx.elpd)
    np.testing.assert_allclose(table["se"], approx.se)
    assert (table["n_points"] == T - L).all()
    assert (table["elpd_diff"] == 0).all()
    assert np.isnan(table["p_eff"]).all()


@pytest.mark.parametrize(
    ("kw", "match"), [({"min_train": 1}, "min_train"), ({"min_train": L, "steps": 0}, "steps")]
)
def test_bad_options(fit, kw, match):
    with pytest.raises(ValueError, match=match):
        lfo(fit, **kw)


@pytest.mark.slow
def test_lfo_of_a_volatility_fit_filters_the_paths_out(data):
    """Factor SV + t: right after the refit at L the score is log mean_s p(y_{L+1} | y_{1:L},
    θ_s) with the latent paths integrated out by the particle filter, checked here with
    a 20x larger particle count straight on the refit's model-unit data."""
    from bdfm.statespace.particle import particle_loglike

    sv_fit = bdfm.DynamicFactorModel(
        data, n_factors=1, factor_volatility="sv", tails="student_t"
    ).fit(progressbar=False, **FIT)
    res, refits = lfo_keeping_refits(sv_fit, L, n_particles=200)
    assert np.all(np.isfinite(res.pointwise)) and res.refits[0] == L
    post = refits[L].posterior
    scaling = refits[L].model.panel.scaling
    y = scaling.to_model(data.to_numpy()[: L + 1])
    mask = np.isfinite(y)
    terms = []
    for c in post.chain.values[:1]:
        for d in post.draw.values[::10]:
            p = {n: post[n].sel(chain=c, draw=d).to_numpy() for n in post.data_vars}
            pf = particle_loglike(
                y, mask, p["loadings"], p["factor_ar"], p["idio_sd"],
                factor_sv=(p["factor_sv_phi"], p["factor_sv_sd"]), nu=float(p["tails_nu"]),
                n_particles=4000, random_seed=int(d),
            )  # fmt: skip
            terms.append(pf.loglike[L] - mask[L] @ np.log(scaling.scale))
    # the oracle uses every 10th draw of one chain: compare with the same draws' mean
    ours = lfo_module.window_loglik(refits[L], data, n_particles=200, random_seed=L)
    sub = ours.reshape(post.sizes["chain"], post.sizes["draw"], -1)[0, ::10, L]
    # 200 particles: each term within Monte Carlo noise, no bias on average
    err = sub - np.array(terms)
    assert np.abs(err).max() < 0.2 and abs(err.mean()) < 0.04
    assert res.pointwise.iloc[0] == pytest.approx(log_mean_exp(ours[:, L]), rel=1e-12)
