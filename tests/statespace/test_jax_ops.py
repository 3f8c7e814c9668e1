"""The JAX registration of the kernels: values and JAX's own gradients equal the C backend."""

import numpy as np
import pytest

from bdfm.spec import DFMSpec


@pytest.mark.slow  # JAX compile (11 s); numpyro/blackjax fits exercise the same Ops by default
@pytest.mark.filterwarnings("ignore:Skipping:UserWarning")
def test_jax_backend_matches_c_backend():
    """logp and gradient of the whole PyMC model on JAX equal the C backend."""
    jax = pytest.importorskip("jax")
    import pytensor

    import bdfm.statespace.jax_ops

    jax.config.update("jax_enable_x64", True)
    spec = DFMSpec(n_factors=2, idiosyncratic="ar1")
    data, _ = bdfm.simulate(spec, n_time=60, n_series=6, random_seed=1)
    data.iloc[:5, 2] = np.nan
    pm_model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1").build_model()
    value_vars = pm_model.value_vars
    logp = pm_model.logp()
    outs = [logp, *pytensor.grad(logp, value_vars)]
    point = pm_model.initial_point()
    args = [point[v.name] for v in value_vars]
    c_out = pytensor.function(value_vars, outs)(*args)
    jax_fn = pytensor.function(value_vars, outs, mode="JAX")
    for a, b in zip(c_out, jax_fn(*args), strict=True):
        np.testing.assert_allclose(np.asarray(b), a, rtol=1e-10, atol=1e-10)
    # JAX's own gradient of the converted log-density (what numpyro/blackjax use:
    # custom_vjp around the kernels) equals pytensor's gradient
    from pymc.sampling.jax import get_jaxified_logp

    logp_jax = get_jaxified_logp(pm_model)
    value, grads = jax.value_and_grad(logp_jax)([np.asarray(a) for a in args])
    assert float(value) == pytest.approx(float(c_out[0]), rel=1e-10)
    for g, ref in zip(grads, c_out[1:], strict=True):
        np.testing.assert_allclose(np.asarray(g), ref, rtol=1e-8, atol=1e-8)
