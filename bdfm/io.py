"""Save a fit to netCDF and load it back, refusing files that are not bdfm fits.

Everything needed to rebuild the fit travels in the file: the posterior (with the
factor draws), log-likelihood, sampler statistics, the data in original units
(``observed_data``), the mask and scaling (``constant_data``), and in the attrs
the model spec, the prior structure, the priors and the bdfm version.

By default a save is *compact*: the factor draws, their smoothed means and the
pointwise log-likelihood are left out, because they are functions of the
parameter draws, the data and the recorded seed of the factor draws
(``factor_seed``); :func:`load` rebuilds them (the same numbers, a few seconds
for thousands of draws). That shrinks the demo's fit (20 series x 1,006 dates,
k = 3, 4,000 draws) from 222.7 MB to 7.3 MB
(``benchmarks/results/saved_fit_2026-12-02.md``). ``save(..., full=True)`` stores
everything as it is in memory. Saving
never overwrites a file unless asked (``overwrite=True``), and writes to a
temporary name of its own first so an interrupted save cannot destroy an existing file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import arviz as az
import numpy as np

from bdfm.data import Scaling
from bdfm.inference.fitting import FORMAT_VERSION
from bdfm.inference.pymc_model import BayesSpec
from bdfm.model import DynamicFactorModel
from bdfm.priors import priors_from_json
from bdfm.results import FitResult
from bdfm.spec import DFMSpec

__all__ = ["atomic_write", "fit_from_idata", "load", "refuse_overwrite", "save"]

_REQUIRED_GROUPS = ("posterior", "observed_data", "constant_data", "log_likelihood")
_REQUIRED_ATTRS = ("bdfm_format", "spec", "bayes_spec", "priors")


def refuse_overwrite(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """``path`` as a Path, after checking that writing there replaces nothing unasked.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True or choose another name")
    return path


def atomic_write(
    path: str | os.PathLike, write: Callable[[Path], object], overwrite: bool = False
) -> Path:
    """Write a file all at once: ``write(tmp)`` to a temporary file, then rename it.

    The temporary file is bdfm's own: it lies in a new folder with a unique name
    (``.<name>.<random>.partial``) next to ``path``, so no file of the user's is
    replaced or removed, and writes of the same ``path`` at the same time (threads,
    processes) never share it. Being in the same folder, it is on the same file
    system, where the rename (:func:`os.replace`) is atomic: ``path`` holds either
    its old content or the complete new one, never half a file. Created by
    ``write`` with the usual permissions (umask), it keeps them once renamed. The
    temporary folder is removed whether ``write`` succeeds or fails.

    Parameters
    ----------
    path : where the file goes.
    write : callable writing the whole file to the path it is given.
    overwrite : replace an existing file at ``path``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false (nothing is written).
    """
    path = refuse_overwrite(path, overwrite)
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        tmp = folder / path.name
        write(tmp)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return path


#: Posterior variables and groups a compact save leaves out (:func:`load` rebuilds them).
DERIVED_VARS = ("factors", "factors_smoothed")
DERIVED_GROUPS = ("log_likelihood",)


def _compact(idata: az.InferenceData) -> az.InferenceData:
    groups = {
        g: getattr(idata, g).drop_vars(list(DERIVED_VARS), errors="ignore")
        if g == "posterior"
        else getattr(idata, g)
        for g in idata.groups()
        if g not in DERIVED_GROUPS
    }
    out = az.InferenceData(**groups)
    out.attrs.update(idata.attrs)
    out.attrs["derived_left_out"] = ",".join(
        [v for v in DERIVED_VARS if v in idata.posterior]
        + [g for g in DERIVED_GROUPS if g in idata.groups()]
    )
    return out


def save(
    fit: FitResult, path: str | os.PathLike, overwrite: bool = False, *, full: bool = False
) -> Path:
    """Write ``fit`` to ``path`` (netCDF) with :func:`atomic_write`.

    Parameters
    ----------
    fit : FitResult
    path : str or path-like
    overwrite : bool
        Replace an existing file at ``path``.
    full : bool
        Store the factor draws, their smoothed means and the pointwise
        log-likelihood too. By default they are left out and :func:`load` rebuilds
        them from the parameter draws, the data and the recorded seed of the
        factor draws (fits made before that seed was recorded are always stored in full).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    """
    idata = fit.idata
    if not full and "factor_seed" in idata.attrs:
        idata = _compact(idata)
    return atomic_write(path, lambda tmp: idata.to_netcdf(str(tmp)), overwrite)


def _check(idata, path) -> None:
    attrs = idata.posterior.attrs if "posterior" in idata.groups() else {}
    attrs = {**attrs, **idata.attrs}
    required = list(_REQUIRED_GROUPS)
    rebuilt = "log_likelihood" in str(attrs.get("derived_left_out", "")).split(",")
    if rebuilt or ("spec" in attrs and not DFMSpec.from_json(attrs["spec"]).constant_gaussian):
        required.remove("log_likelihood")  # rebuilt on load / latent paths: none is stored
    missing = [g for g in required if g not in idata.groups()]
    missing_attrs = [a for a in _REQUIRED_ATTRS if a not in attrs]
    if missing or missing_attrs:
        raise ValueError(
            f"{path} is not a bdfm fit (missing groups {missing}, attributes {missing_attrs}); "
            "it may come from another program or an older, incompatible bdfm"
        )


def load(path: str | os.PathLike) -> FitResult:
    """Load a fit written by :meth:`FitResult.save`; rebuilds the model from the stored data.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not netCDF, not a bdfm fit, of another file format version, or
        its data and scaling disagree.
    """

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
    idata.attrs.update({a: attrs[a] for a in attrs})
    fit = fit_from_idata(idata, path)
    left_out = [x for x in str(attrs.get("derived_left_out", "")).split(",") if x]
    if left_out:
        # fits saved before the stream version was recorded used stream 1
        _rebuild(fit, int(attrs["factor_seed"]), int(attrs.get("factor_stream", 1)), left_out)
    return fit


def _rebuild(fit: FitResult, factor_seed: int, stream: int, left_out: list[str]) -> None:
    """Put back what a compact save left out (same seed, same numbers)."""
    from bdfm.inference.fitting import derived_quantities

    idata = fit.idata
    post, log_lik = derived_quantities(fit.model, idata.posterior, factor_seed, stream=stream)
    idata.posterior = post
    if "log_likelihood" in left_out and log_lik is not None:
        idata.add_groups({"log_likelihood": log_lik})
    del idata.attrs["derived_left_out"]


def fit_from_idata(idata: az.InferenceData, source: object = "the InferenceData") -> FitResult:
    """Rebuild a :class:`bdfm.results.FitResult` (model included) from a fit's InferenceData.

    The model is rebuilt from the stored data (original units) and the stored
    scaling is checked against the one the data give, so a file whose data were
    altered is refused.

    Parameters
    ----------
    idata : InferenceData of a fit (as :func:`bdfm.inference.fitting.assemble_idata` makes it).
    source : where ``idata`` came from, named in error messages.

    Raises
    ------
    ValueError
        The stored data and scaling disagree.
    """
    from bdfm.results import FitResult

    attrs = {**idata.posterior.attrs, **idata.attrs}
    spec = DFMSpec.from_json(attrs["spec"])
    data = idata.observed_data["y"].to_pandas()
    data.columns.name = None
    stored = Scaling(
        mean=idata.constant_data["scaling_mean"].values,
        scale=idata.constant_data["scaling_scale"].values,
    )
    given = bool(int(attrs.get("scaling_given", 0)))
    model = DynamicFactorModel(
        data,
        n_factors=spec.n_factors,
        factor_order=spec.factor_order,
        idiosyncratic=spec.idiosyncratic,
        standardize=spec.standardize,
        scaling=stored if given else None,
        factor_volatility=spec.factor_volatility,
        idio_volatility=spec.idio_volatility,
        tails=spec.tails,
    )
    if not np.allclose(stored.mean, model.panel.scaling.mean, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{source}: the stored data and scaling disagree; the file was altered")
    return FitResult(
        idata=idata,
        model=model,
        bspec=BayesSpec.from_json(attrs["bayes_spec"]),
        priors=priors_from_json(attrs["priors"]),
        timings={},
    )
