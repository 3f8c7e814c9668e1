"""Save/load without sampling: a FitResult assembled from a few fixed parameter draws."""

import arviz as az
import numpy as np
import pytest
import xarray as xr

import bdfm
from bdfm.dims import CHAIN, DRAW, FACTOR, FACTOR_FROM, LAG, SERIES, TIME
from bdfm.inference.fitting import assemble_idata, prepare_bayes
from bdfm.io import atomic_write
from bdfm.results import FitResult
from bdfm.spec import DFMSpec


@pytest.fixture(scope="module")
def small_fit():
    spec = DFMSpec(n_factors=2, idiosyncratic="ar1")
    data, truth = bdfm.simulate(spec, n_time=40, n_series=5, random_seed=3)
    data.iloc[:4, 1] = np.nan
    model = bdfm.DynamicFactorModel(data, n_factors=2, idiosyncratic="ar1")
    bspec, priors, _ = prepare_bayes(model, reference_loadings=truth["loadings"])
    rng = np.random.default_rng(0)
    s = model.panel.scaling.scale
    post = {}
    for name in model.param_names:
        value = truth[name] / s[:, None] if name == "loadings" else truth[name]
        value = value / s if name == "idio_sd" else value
        post[name] = value[None, None] * (1 + 0.01 * rng.standard_normal((2, 3, *np.shape(value))))
    dims = {"loadings": [SERIES, FACTOR], "factor_ar": [LAG, FACTOR, FACTOR_FROM]}
    raw = az.from_dict(posterior=post, dims=dims, coords={SERIES: list(data.columns)})
    idata = assemble_idata(model, raw, bspec, priors, 5, {})
    return FitResult(idata, model, bspec, priors)


def test_round_trip_keeps_everything(small_fit, tmp_path):
    path = small_fit.save(tmp_path / "a.nc")
    back = bdfm.load(path)
    for group in small_fit.idata.groups():
        for name, var in small_fit.idata[group].data_vars.items():
            np.testing.assert_array_equal(var.values, back.idata[group][name].values)
    assert back.model.spec == small_fit.model.spec
    assert back.bspec == small_fit.bspec and back.priors == small_fit.priors
    assert back.posterior["factors"].dims == (CHAIN, DRAW, TIME, FACTOR)
    assert (back.factors().index == small_fit.model.panel.index).all()
    # the data come back in original units, NaN where missing
    y = back.idata.observed_data["y"]
    assert np.isnan(y.values[:4, 1]).all()
    # bit for bit as given, so the reloaded model standardises them exactly as before
    np.testing.assert_array_equal(y.values, small_fit.model.panel.original)
    np.testing.assert_array_equal(back.model.panel.values, small_fit.model.panel.values)


def test_compact_file_leaves_out_what_load_rebuilds(small_fit, tmp_path):
    compact = small_fit.save(tmp_path / "compact.nc")
    full = small_fit.save(tmp_path / "full.nc", full=True)
    raw = az.from_netcdf(compact)
    assert "factors" not in raw.posterior and "factors_smoothed" not in raw.posterior
    assert "log_likelihood" not in raw.groups()
    assert raw.attrs["factor_seed"] == small_fit.idata.attrs["factor_seed"]
    assert "factors" in az.from_netcdf(full).posterior
    assert compact.stat().st_size < full.stat().st_size
    a, b = bdfm.load(compact), bdfm.load(full)
    for group in ("posterior", "log_likelihood"):
        for name, var in b.idata[group].data_vars.items():
            np.testing.assert_array_equal(var.values, a.idata[group][name].values)
    assert "derived_left_out" not in a.idata.attrs


def test_fit_without_a_seed_records_the_factor_seed(small_fit, tmp_path):
    model, bspec, priors = small_fit.model, small_fit.bspec, small_fit.priors
    raw = az.from_dict(
        posterior={n: small_fit.posterior[n].values for n in model.param_names},
        dims={"loadings": [SERIES, FACTOR], "factor_ar": [LAG, FACTOR, FACTOR_FROM]},
        coords={SERIES: list(small_fit.posterior[SERIES].values)},
    )
    fits = [FitResult(assemble_idata(model, raw, bspec, priors, None, {}), model, bspec, priors)]
    fits.append(bdfm.load(fits[0].save(tmp_path / "noseed.nc")))
    seeds = [f.idata.attrs["factor_seed"] for f in fits]
    assert seeds[0] == seeds[1] >= 0
    np.testing.assert_array_equal(
        fits[0].posterior["factors"].values, fits[1].posterior["factors"].values
    )


def test_existing_files_are_never_replaced_silently(small_fit, tmp_path):
    path = tmp_path / "a.nc"
    path.write_text("precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        small_fit.save(path)
    assert path.read_text() == "precious"
    small_fit.save(path, overwrite=True)
    assert bdfm.load(path).model.spec == small_fit.model.spec
    assert not list(tmp_path.glob("*.partial"))


def test_bad_files_give_clear_errors(small_fit, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        bdfm.load(tmp_path / "missing.nc")
    other = tmp_path / "other.nc"
    az.from_dict(posterior={"x": np.zeros((1, 5))}).to_netcdf(str(other))
    with pytest.raises(ValueError, match="not a bdfm fit"):
        bdfm.load(other)
    good = small_fit.save(tmp_path / "good.nc")
    broken = tmp_path / "broken.nc"
    broken.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(ValueError, match="corrupted"):
        bdfm.load(broken)
    # data altered after saving: the stored scaling no longer matches
    idata = small_fit.idata.copy()
    idata.observed_data["y"] = idata.observed_data["y"] * 2.0
    altered = tmp_path / "altered.nc"
    idata.to_netcdf(str(altered))
    with pytest.raises(ValueError, match="altered"):
        bdfm.load(altered)
    assert isinstance(small_fit.idata.observed_data, xr.Dataset)


def test_save_leaves_a_users_partial_file_alone(small_fit, tmp_path):
    """The temporary file is bdfm's own: ``<path>.partial`` may be the user's."""
    theirs = tmp_path / "a.nc.partial"
    theirs.write_text("the user's file")
    small_fit.save(tmp_path / "a.nc")
    assert theirs.read_text() == "the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc", "a.nc.partial"]


def test_simultaneous_writes_use_their_own_temporary_files(tmp_path):
    """A second write of the same path starting while the first is under way (another
    thread or process) neither shares nor deletes the first one's temporary file."""
    path = tmp_path / "out.txt"
    temporaries = []

    def inner(tmp):
        temporaries.append(tmp)
        tmp.write_text("second")

    def outer(tmp):
        temporaries.append(tmp)
        tmp.write_text("first")
        atomic_write(path, inner, overwrite=True)  # starts and ends during the first write
        assert tmp.read_text() == "first"

    assert atomic_write(path, outer) == path
    assert temporaries[0] != temporaries[1]
    assert all(tmp_path in t.parents for t in temporaries)  # same file system: atomic rename
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # nothing left behind


def test_failed_write_leaves_no_temporary_file(tmp_path):
    def fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "out.txt", fail)
    assert not list(tmp_path.iterdir())


def test_compact_file_from_before_the_stream_version_rebuilds_stream_1(small_fit, tmp_path):
    """A compact file without ``factor_stream`` (saved before it was recorded) gets the
    factor draws of stream 1 back, the stream it was drawn with; new files record 2."""
    from bdfm.inference.fitting import derived_quantities

    assert small_fit.idata.attrs["factor_stream"] == 2
    path = small_fit.save(tmp_path / "compact.nc")
    old = az.from_netcdf(path)
    old.load()
    del old.attrs["factor_stream"]
    old_path = tmp_path / "old.nc"
    old.to_netcdf(str(old_path))
    back = bdfm.load(old_path)
    seed = small_fit.idata.attrs["factor_seed"]
    post = small_fit.idata.posterior.drop_vars(["factors", "factors_smoothed"])
    want, _ = derived_quantities(small_fit.model, post, seed, stream=1)
    np.testing.assert_array_equal(back.idata.posterior["factors"], want["factors"])
    new = bdfm.load(path).idata.posterior["factors"]
    np.testing.assert_array_equal(new, small_fit.idata.posterior["factors"])
    assert not np.array_equal(new, want["factors"])  # AR(1) errors: the streams differ
