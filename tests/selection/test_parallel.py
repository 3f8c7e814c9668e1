"""fit_many: the same fits as sequential ones, through any executor; failures kept apart."""

import numpy as np
import pytest

import bdfm
from bdfm.selection.parallel import FitFailed, fit_many

FIT = {"draws": 40, "tune": 40, "chains": 1, "sampler": "pymc", "random_seed": 3}
SPECS = {"k=1": {"n_factors": 1}, "k=2 ar1": {"n_factors": 2, "idiosyncratic": "ar1"}}


@pytest.fixture(scope="module")
def data():
    df, _ = bdfm.simulate(bdfm.DFMSpec(n_factors=1), n_time=60, n_series=4, random_seed=5)
    return df


@pytest.fixture(scope="module")
def serial(data):
    return fit_many(SPECS, data, executor="serial", progress=False, **FIT)


def _same(a, b):
    for name in SPECS:
        for var in ("loadings", "idio_sd", "factors"):
            np.testing.assert_array_equal(
                a[name].posterior[var].values, b[name].posterior[var].values
            )
        np.testing.assert_array_equal(
            a[name].idata.log_likelihood["y"].values, b[name].idata.log_likelihood["y"].values
        )


def test_serial_results_are_fits_in_order(serial, data):
    assert list(serial) == list(SPECS)
    fit = serial["k=2 ar1"]
    assert fit.model.spec.n_factors == 2 and fit.model.spec.idiosyncratic == "ar1"
    assert fit.posterior.sizes["draw"] == 40
    assert not serial.errors
    # identical to a direct fit with the same seed
    direct = bdfm.DynamicFactorModel(data, n_factors=1).fit(progressbar=False, **FIT)
    np.testing.assert_array_equal(
        direct.posterior["loadings"].values, serial["k=1"].posterior["loadings"].values
    )


def test_process_pool_equals_serial(serial, data, capsys):
    pooled = fit_many(SPECS, data, **FIT)
    _same(pooled, serial)
    assert "[2/2]" in capsys.readouterr().err  # progress shown


@pytest.mark.slow  # starts a LocalCluster (14-25 s); the process pool is tested by default
def test_dask_local_cluster_equals_serial(serial, data):
    distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = fit_many(SPECS, data, executor=client.get_executor(), progress=False, **FIT)
    _same(result, serial)


def test_failure_is_kept_apart_and_named(data):
    specs = {"good": {"n_factors": 1}, "too many": {"n_factors": 9}}
    with pytest.warns(RuntimeWarning, match="1 of 2 fits failed"):
        res = fit_many(specs, data, executor="serial", progress=False, **FIT)
    assert list(res) == ["good"]
    assert "too many" in str(res.errors["too many"]) and "n_factors=9" in str(
        res.errors["too many"]
    )
    with pytest.raises(FitFailed, match="too many"):
        res["too many"]
    with pytest.raises(FitFailed, match="1 fit"):
        res.raise_errors()


def test_per_task_data_and_options(data):
    windows = {"early": data.iloc[:40], "late": data.iloc[20:]}
    specs = {
        "early": {"n_factors": 1},
        "late": {"n_factors": 1, "fit": {"draws": 20}},
    }
    res = fit_many(specs, windows, executor="serial", progress=False, **FIT)
    assert res["early"].model.n_time == 40 and res["late"].model.n_time == 40
    assert res["late"].posterior.sizes["draw"] == 20


def test_list_of_specs_is_named(data):
    res = fit_many(
        [bdfm.DFMSpec(n_factors=1), {"n_factors": 1, "idiosyncratic": "ar1"}],
        data,
        executor="serial",
        progress=False,
        **FIT,
    )
    assert list(res) == ["k=1,p=1,iid", "k=1,p=1,ar1"]


@pytest.mark.parametrize(
    ("specs", "data_arg", "err", "match"),
    [
        ({"a": {"n_factor": 1}}, None, ValueError, "unknown spec options"),
        ({"a": {"factor_order": 1}}, None, ValueError, "needs 'n_factors'"),
        ({"a": 3}, None, TypeError, "DFMSpec or a dict"),
        ({}, None, ValueError, "no specs"),
        ({"a": {"n_factors": 1}}, {"b": None}, ValueError, "no data given"),
    ],
)
def test_bad_specs(specs, data_arg, err, match, data):
    with pytest.raises(err, match=match):
        fit_many(specs, data if data_arg is None else data_arg, executor="serial", **FIT)


def test_fast_malloc_restores_dask_setting(monkeypatch):
    # Dask workers fix MALLOC_TRIM_THRESHOLD_; a fit raises glibc's thresholds and puts them back
    import bdfm.selection.parallel as par

    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(par.ctypes, "CDLL", lambda name: FakeLibc())
    monkeypatch.setattr(par.sys, "platform", "linux")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with par._fast_malloc():
        assert calls == [(-3, 32 * 2**20), (-1, 64 * 2**20)]
    assert calls[2:] == [(-3, 128 * 2**10), (-1, 65536)]
    calls.clear()
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    with par._fast_malloc():
        pass
    assert calls == []  # nothing changed where nobody fixed the thresholds
