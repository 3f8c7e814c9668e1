import arviz as az
import numpy as np

from bdfm.inference.diagnostics import diagnose, varying_entries


def _idata(shift=0.0, diverging=0, rng=None):
    rng = rng or np.random.default_rng(0)
    x = rng.standard_normal((2, 500, 3))
    x[1] += shift
    zeros = np.zeros((2, 500, 2))  # a structural zero, like a restricted loading
    lam = np.concatenate([x[..., :2], zeros], axis=-1)
    div = np.zeros((2, 500), dtype=bool)
    div[0, :diverging] = True
    energy = rng.standard_normal((2, 500))
    return az.from_dict(
        posterior={"a": x, "loadings": lam},
        sample_stats={"diverging": div, "energy": energy},
    )


def test_clean_fit_has_no_warnings():
    d = diagnose(_idata(), ["a", "loadings"])
    assert d.ok, d.warnings
    assert d.divergences == 0
    assert "All checks passed" in str(d)
    # structural zeros do not count (ArviZ gives them ESS = number of draws)
    assert d.table.loc["loadings", "ess_bulk"] < 1000 * 2


def test_disagreeing_chains_and_divergences_are_reported():
    d = diagnose(_idata(shift=3.0, diverging=7), ["a"])
    text = " ".join(d.warnings)
    assert "R-hat above 1.01" in text and "['a']" in text
    assert "7 divergent transitions" in text
    assert "target_accept" in text  # says what to try
    assert d.table.loc["a", "r_hat"] > 1.5


def test_varying_entries():
    idata = _idata()
    keep = varying_entries(idata.posterior["loadings"])
    assert keep.tolist() == [True, True, False, False]
