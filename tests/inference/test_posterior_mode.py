import numpy as np

import bdfm
from bdfm.inference.start import identified_params
from bdfm.spec import DFMSpec


def test_fit_map_is_close_to_the_mle():
    spec = DFMSpec(n_factors=2)
    data, _ = bdfm.simulate(spec, n_time=300, n_series=10, random_seed=9)
    model = bdfm.DynamicFactorModel(data, n_factors=2)
    res = model.fit_map(loadings="normal")
    assert res.converged
    mle = identified_params(model.fit_mle().params, _bspec(model))
    np.testing.assert_allclose(res.params["loadings"], mle["loadings"], atol=0.05)


def _bspec(model):
    from bdfm.inference.fitting import prepare_bayes
    from bdfm.inference.mle import initial_params

    return prepare_bayes(model, reference_loadings=initial_params(model)["loadings"])[0]
