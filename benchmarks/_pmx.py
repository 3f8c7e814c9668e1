"""The pymc-extras reference model shared by the benchmark scripts (no thread settings here)."""

from __future__ import annotations


def pmx_model(Y, k):
    """pymc-extras BayesianDynamicFactor (VAR(1), AR(1) errors) with its docstring's priors.

    Returns the PyMC model and the statespace object.
    """
    import pymc as pm
    from pymc_extras.statespace.models import BayesianDynamicFactor

    ss = BayesianDynamicFactor(
        k_factors=k,
        factor_order=1,
        endog_names=[f"y{i}" for i in range(Y.shape[1])],
        error_order=1,
        error_var=False,
        error_cov_type="diagonal",
        measurement_error=False,
        verbose=False,
    )
    with pm.Model(coords=ss.coords) as model:  # priors as in the class docstring
        pm.Normal("x0", dims=["state"])
        pm.HalfNormal("P0", dims=["state", "state_aux"])
        pm.Normal("factor_loadings", sigma=1, dims=["observed_state", "factor"])
        pm.Normal("factor_ar", sigma=1, dims=["factor", "lag_ar"])
        pm.Normal("error_ar", sigma=1, dims=["observed_state", "error_lag_ar"])
        pm.HalfNormal("error_sigma", dims=["observed_state"])
        ss.build_statespace_graph(data=Y)
    return model, ss
