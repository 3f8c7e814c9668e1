"""Save a fit to netCDF and load it back, refusing files that are not bdfm fits.

Everything needed to rebuild the fit travels in the file: the posterior (with the
factor draws), log-likelihood, sampler statistics, the data in original units
(``observed_data``), the mask and scaling (``constant_data``), and in the attrs
the model spec, the prior structure, the priors and the bdfm version. Saving
never overwrites a file unless asked (``overwrite=True``), and writes to a
temporary name first so an interrupted save cannot destroy an existing file.
"""

from __future__ import annotations

import os
from pathlib import Path

import arviz as az
import numpy as np

__all__ = ["load", "save"]

_REQUIRED_GROUPS = ("posterior", "observed_data", "constant_data", "log_likelihood")
_REQUIRED_ATTRS = ("bdfm_format", "spec", "bayes_spec", "priors")


def save(fit, path, overwrite: bool = False) -> Path:
    """Write ``fit`` (a :class:`bdfm.fit.FitResult`) to ``path`` (netCDF)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True or choose another name")
    tmp = path.with_name(path.name + ".partial")
    try:
        fit.idata.to_netcdf(str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _check(idata, path) -> None:
    missing = [g for g in _REQUIRED_GROUPS if g not in idata.groups()]
    attrs = idata.posterior.attrs if "posterior" in idata.groups() else {}
    attrs = {**attrs, **idata.attrs}
    missing_attrs = [a for a in _REQUIRED_ATTRS if a not in attrs]
    if missing or missing_attrs:
        raise ValueError(
            f"{path} is not a bdfm fit (missing groups {missing}, attributes {missing_attrs}); "
            "it may come from another program or an older, incompatible bdfm"
        )


def load(path):
    """Load a fit written by :meth:`FitResult.save`; rebuilds the model from the stored data."""
    from bdfm.bayes import BayesSpec
    from bdfm.fit import FORMAT_VERSION, FitResult
    from bdfm.model import DynamicFactorModel
    from bdfm.priors import priors_from_json
    from bdfm.spec import DFMSpec

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        idata = az.from_netcdf(str(path))
    except Exception as err:
        raise ValueError(
            f"{path} could not be read as netCDF ({err}); is the file corrupted?"
        ) from None
    _check(idata, path)
    attrs = {**idata.posterior.attrs, **idata.attrs}
    if int(attrs["bdfm_format"]) != FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in bdfm file format {attrs['bdfm_format']}; this bdfm reads "
            f"format {FORMAT_VERSION}"
        )
    spec = DFMSpec.from_json(attrs["spec"])
    data = idata.observed_data["y"].to_pandas()
    data.columns.name = None
    model = DynamicFactorModel(
        data,
        n_factors=spec.n_factors,
        factor_order=spec.factor_order,
        idiosyncratic=spec.idiosyncratic,
        standardize=spec.standardize,
    )
    stored_mean = idata.constant_data["scaling_mean"].values
    if not np.allclose(stored_mean, model.panel.scaling.mean, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{path}: the stored data and scaling disagree; the file was altered")
    idata.attrs.update({a: attrs[a] for a in attrs})
    return FitResult(
        idata=idata,
        model=model,
        bspec=BayesSpec.from_json(attrs["bayes_spec"]),
        priors=priors_from_json(attrs["priors"]),
        timings={},
    )
