import json

import pytest

from bdfm.priors import Prior, default_priors, priors_from_json, priors_to_json, resolve_priors


def test_prior_round_trip_nested():
    p = Prior("Normal", mu=0.0, sigma=Prior("HalfNormal", sigma=2.0))
    d = p.to_dict()
    assert d == {"dist": "Normal", "mu": 0.0, "sigma": {"dist": "HalfNormal", "sigma": 2.0}}
    assert Prior.from_dict(json.loads(json.dumps(d))) == p
    priors = {"idio_sd": Prior("HalfStudentT", nu=3, sigma=1), "loadings": p}
    assert priors_from_json(priors_to_json(priors)) == priors


def test_unknown_distribution_is_an_error():
    with pytest.raises(ValueError, match="unknown distribution 'Normall'"):
        Prior("Normall", sigma=1)


def test_prior_is_immutable():
    p = Prior("Normal")
    with pytest.raises(AttributeError):
        p.dist = "Cauchy"


def test_typo_in_prior_name_lists_valid_names():
    defaults = default_priors("shrinkage", "iid", grouped=False)
    with pytest.raises(ValueError) as err:
        resolve_priors(defaults, {"idio_sdd": Prior("HalfNormal")})
    msg = str(err.value)
    assert "idio_sdd" in msg
    for name in defaults:
        assert name in msg


def test_names_depend_on_configuration():
    assert "idio_ar" not in default_priors("shrinkage", "iid", False)
    assert "idio_ar" in default_priors("shrinkage", "ar1", False)
    hs = default_priors("horseshoe", "iid", False)
    assert {"loading_local", "slab_scale", "loading_scale"} <= set(hs)
    assert "loading_scale" not in default_priors("normal", "iid", False)
    assert "group_loading_sd" in default_priors("shrinkage", "iid", True)
    # a prior the configuration does not use is refused, with the reason
    with pytest.raises(ValueError, match="idiosyncratic='ar1'"):
        resolve_priors(default_priors("shrinkage", "iid", False), {"idio_ar": Prior("Normal")})


def test_overrides_accept_dicts():
    defaults = default_priors("shrinkage", "iid", False)
    out = resolve_priors(defaults, {"idio_sd": {"dist": "Exponential", "lam": 2.0}})
    assert out["idio_sd"] == Prior("Exponential", lam=2.0)
    assert out["loadings"] == defaults["loadings"]


def test_prior_pickles_for_worker_processes():
    import pickle

    p = Prior("Normal", mu=0.0, sigma=Prior("HalfNormal", sigma=[1.0, 2.0]))
    q = pickle.loads(pickle.dumps(p))
    assert q == p and isinstance(q.params["sigma"], Prior)
