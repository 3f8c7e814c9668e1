"""fit_options / refit: a fit's specification, structure and sampler settings, repeated."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from bdfm.selection.refit import fit_options, refit


def test_refit_on_the_same_data_repeats_the_fit(k_fits):
    fit = k_fits["k=2"]
    model_kwargs, fit_kwargs = fit_options(fit)
    assert model_kwargs == {
        "n_factors": 2,
        "factor_order": 1,
        "idiosyncratic": "iid",
        "standardize": True,
    }
    columns = list(fit.model.panel.columns)
    assert fit_kwargs["anchors"] == [columns[a] for a in fit.bspec.anchors]
    assert (fit_kwargs["sampler"], fit_kwargs["draws"], fit_kwargs["tune"]) == ("pymc", 150, 250)
    assert fit_kwargs["chains"] == 2 and fit_kwargs["random_seed"] == 11
    assert fit_kwargs["priors"] == fit.priors
    data = fit.idata.observed_data["y"].to_pandas()
    data.columns.name = None
    again = refit(fit, data, progressbar=False, cores=1)
    for var in ("loadings", "factor_ar", "idio_sd"):
        np.testing.assert_array_equal(again.posterior[var].values, fit.posterior[var].values)
    with pytest.raises(ValueError, match="same columns"):
        refit(fit, data[columns[::-1]])


def test_groups_and_blocks_are_given_by_series_name(k_fits):
    fit = k_fits["k=2"]
    columns = list(fit.model.panel.columns)
    blocks = tuple((True, i % 2 == 0) for i in range(len(columns)))
    groups = tuple("a" if i < 3 else "b" for i in range(len(columns)))
    fake = SimpleNamespace(
        model=fit.model,
        bspec=replace(fit.bspec, groups=groups, blocks=blocks),
        priors=fit.priors,
        idata=SimpleNamespace(attrs={"random_seed": -1, "tune": -1}),
        posterior=fit.posterior,
    )
    _, kw = fit_options(fake)
    assert kw["groups"] == dict(zip(columns, groups, strict=True))
    assert kw["blocks"][columns[0]] == [0, 1] and kw["blocks"][columns[1]] == [0]
    assert kw["random_seed"] is None and kw["tune"] == kw["draws"]  # not recorded: draws
    assert "sampler" not in kw


def test_volatility_options_are_repeated(k_fits):
    from bdfm.spec import DFMSpec

    fit = k_fits["k=2"]
    spec = DFMSpec(n_factors=2, factor_volatility="sv", tails="student_t")
    fake = SimpleNamespace(
        model=SimpleNamespace(spec=spec, panel=fit.model.panel),
        bspec=fit.bspec,
        priors=fit.priors,
        idata=SimpleNamespace(attrs={"random_seed": -1, "tune": -1}),
        posterior=fit.posterior,
    )
    model_kwargs, _ = fit_options(fake)
    assert model_kwargs["factor_volatility"] == "sv" and model_kwargs["tails"] == "student_t"
    assert "idio_volatility" not in model_kwargs  # the default is left out
