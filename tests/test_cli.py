"""The command line end to end on a small bundled subset: fit -> report -> compare, the demo,
exit codes, files written, and one-line messages for user mistakes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bdfm
from bdfm.cli import _demo_dir, main

SAMPLING = ["--draws", "60", "--tune", "60", "--chains", "2", "--sampler", "pymc", "--quiet"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    prices = bdfm.datasets.load("sp500_prices").iloc[-150:, :5]
    prices.iloc[:20, 4] = np.nan  # a late start
    prices.to_csv(d / "prices.csv")
    return d


@pytest.fixture(scope="module")
def fitted(workdir):
    for k in (1, 2):
        rc = main(
            [
                "fit",
                str(workdir / "prices.csv"),
                "--returns",
                "--factors",
                str(k),
                "--idiosyncratic",
                "iid",
                "--out",
                str(workdir / f"k{k}.nc"),
                *SAMPLING,
            ]
        )
        assert rc == 0
    return workdir


def test_fit_writes_a_loadable_fit(fitted):
    fit = bdfm.load(fitted / "k2.nc")
    assert fit.model.spec.n_factors == 2 and fit.model.n_series == 5
    assert fit.posterior.sizes["draw"] == 60
    # --returns: log returns in percent of the CSV's prices
    prices = pd.read_csv(fitted / "prices.csv", index_col=0, parse_dates=True)
    expected = 100 * np.log(prices).diff().iloc[1:]
    np.testing.assert_allclose(fit.idata.observed_data["y"].values, expected.to_numpy(), rtol=1e-10)


def test_report_with_comparison(fitted, capsys):
    out = fitted / "report.html"
    rc = main(
        [
            "report",
            str(fitted / "k1.nc"),
            "--compare",
            str(fitted / "k2.nc"),
            "--out",
            str(out),
            "--steps",
            "5",
        ]
    )
    assert rc == 0 and out.exists()
    html = out.read_text()
    assert 'id="comparison"' in html and "k2" in html and "<img" in html
    assert str(out.resolve()) in capsys.readouterr().out
    # never replaced without --overwrite
    assert main(["report", str(fitted / "k1.nc"), "--out", str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_report_with_weights_file(fitted):
    series = list(bdfm.load(fitted / "k1.nc").model.panel.columns)
    w = pd.DataFrame({"long": 0.2, "tilt": np.linspace(-0.5, 1.0, 5)}, index=series)
    w.to_csv(fitted / "w.csv")  # one row per series, one column per portfolio
    out = fitted / "weights.html"
    assert (
        main(
            [
                "report",
                str(fitted / "k1.nc"),
                "--weights",
                str(fitted / "w.csv"),
                "--out",
                str(out),
                "--steps",
                "3",
            ]
        )
        == 0
    )
    assert "tilt" in out.read_text()


def test_compare_prints_table_and_writes_csv(fitted, capsys):
    csv = fitted / "table.csv"
    assert main(["compare", str(fitted / "k1.nc"), str(fitted / "k2.nc"), "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "elpd" in out and "k1" in out and "k2" in out
    table = pd.read_csv(csv, index_col=0)
    assert set(table.index) == {"k1", "k2"} and {"elpd", "dse", "weight"} <= set(table.columns)


def test_demo_writes_fit_and_report(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--factors", "1", "--start", "2022-08-01", *SAMPLING])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert (out / "fit.nc").exists() and (out / "report.html").exists()
    for stage in ("[1/5] data", "[3/5] posterior factors", "[5/5] report written"):
        assert stage in text
    assert "share of variance explained" in text and "AAPL" in text
    # a second run into the same folder refuses to replace the files
    assert main(["demo", "--out", str(out), *SAMPLING]) == 2
    assert "already holds a demo" in capsys.readouterr().err


def test_default_demo_folder_is_numbered_not_replaced(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert str(_demo_dir(None, False)) == "bdfm-demo"
    (tmp_path / "bdfm-demo").mkdir()
    (tmp_path / "bdfm-demo" / "fit.nc").write_text("x")
    assert str(_demo_dir(None, False)) == "bdfm-demo-2"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["fit", "nope.csv", "--factors", "1", "--out", "x.nc"], "no such file: nope.csv"),
        (["fit", "{nodates}", "--factors", "1", "--out", "x.nc"], "does not hold dates"),
        (["fit", "{prices}", "--factors", "9", "--out", "x.nc", "--returns"], "n_factors=9"),
        (["report", "{prices}", "--out", "r.html"], "could not be read as netCDF"),
        (["report", "missing.nc", "--out", "r.html"], "no such file"),
        (["compare", "{k1}", "--method", "lfo"], "needs --min-train"),
        (["demo", "--factors", "25", "--out", "{tmp}/d"], "n_factors=25"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args, fragment, fitted, tmp_path, capsys):
    (tmp_path / "nodates.csv").write_text("name,a,b\nx,1,2\ny,3,4\nz,5,6\n")
    subs = {
        "{nodates}": str(tmp_path / "nodates.csv"),
        "{prices}": str(fitted / "prices.csv"),
        "{k1}": str(fitted / "k1.nc"),
        "{tmp}": str(tmp_path),
    }
    for key, value in subs.items():
        args = [a.replace(key, value) for a in args]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def _run(*args):
    return subprocess.run([sys.executable, "-m", "bdfm", *args], capture_output=True, text=True)


def test_console_script_version_datasets_and_help():
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.startswith("bdfm ")
    assert "sp500_returns" in _run("datasets").stdout
    bad = _run("demo", "--bogus")
    assert bad.returncode == 2 and "unrecognized arguments: --bogus" in bad.stderr


@pytest.mark.parametrize("cmd", ["demo", "fit", "report", "compare", "datasets"])
def test_help_everywhere(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0 and f"usage: bdfm {cmd}" in capsys.readouterr().out


# --------------------------------------------------------------------------- checked at once
# Mistakes found before any fitting: each test makes the fit itself fail, so a check that
# came after the fit (the minutes of sampling lost, then a traceback) fails the test.
@pytest.fixture(scope="module")
def prices_csv(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-fast")
    bdfm.datasets.load("sp500_prices").iloc[-60:, :4].to_csv(d / "prices.csv")
    return d / "prices.csv"


@pytest.fixture
def no_fit(monkeypatch):
    """Fitting, loading or comparing fails the test: the mistake must be found first."""

    def fail(*args, **kwargs):
        raise AssertionError("the work started before the mistake was found")

    monkeypatch.setattr(bdfm.DynamicFactorModel, "fit", fail)
    monkeypatch.setattr(bdfm, "load", fail)
    monkeypatch.setattr(bdfm, "compare", fail)


def _one_line_error(capsys, *fragments, code=2):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        (["fit", "{csv}", "--factors", "1", "--out", "{file}/fit.nc"], "is a file, not a folder"),
        (["fit", "{csv}", "--factors", "1", "--out", "{tmp}/no/fit.nc"], "does not exist"),
        (["fit", "{csv}", "--factors", "1", "--out", "{tmp}"], "is a folder"),
        (["demo", "--out", "{file}/demo"], "is a file, not a folder"),
        (["demo", "--out", "{file}"], "is a file, not a folder"),
        (["report", "x.nc", "--out", "{file}/r.html"], "is a file, not a folder"),
        (["report", "x.nc", "--out", "{tmp}/no/r.html"], "does not exist"),
        (["compare", "a.nc", "b.nc", "--csv", "{file}/t.csv"], "is a file, not a folder"),
        (["compare", "a.nc", "b.nc", "--csv", "{tmp}/no/t.csv"], "choose another --csv"),
    ],
)
def test_unwritable_output_is_refused_before_any_work(
    command, fragment, prices_csv, tmp_path, no_fit, capsys
):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    subs = {"{csv}": str(prices_csv), "{file}": str(a_file), "{tmp}": str(tmp_path)}
    for key, value in subs.items():
        command = [c.replace(key, value) for c in command]
    assert main(command) == 2
    _one_line_error(capsys, f"bdfm {command[0]}: error:", fragment)


def _read_only(monkeypatch, folder):
    """``folder`` refuses new files, even for root (who may write in a chmod 555 folder)."""
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize(
    "command",
    [
        ["fit", "{csv}", "--factors", "1", "--out", "{ro}/fit.nc"],
        ["demo", "--out", "{ro}/demo"],
        ["report", "x.nc", "--out", "{ro}/r.html"],
        ["compare", "a.nc", "--csv", "{ro}/t.csv"],
    ],
)
def test_read_only_folder_is_refused_before_any_work(
    command, prices_csv, tmp_path, no_fit, monkeypatch, capsys
):
    _read_only(monkeypatch, tmp_path)
    command = [c.replace("{csv}", str(prices_csv)).replace("{ro}", str(tmp_path)) for c in command]
    assert main(command) == 2
    _one_line_error(capsys, f"cannot write in {tmp_path}", "Permission denied", "choose another")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anyway")
def test_read_only_folder_for_real(prices_csv, tmp_path, no_fit, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["fit", str(prices_csv), "--factors", "1", "--out", str(ro / "f.nc")]) == 2
    finally:
        ro.chmod(0o755)
    _one_line_error(capsys, f"cannot write in {ro}")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("t,a,b\n1,1.5,2.5\n2,1.6,2.4\n3,1.7,2.6\n", "'t' holds numbers (e.g. 1), not dates"),
        ("a,b,c\n1.5,2.5,3.5\n1.6,2.4,3.4\n", "'a' holds numbers (e.g. 1.5), not dates"),
        ("year,a\n2001,1.5\n2002,1.6\n2003,1.7\n", "'year' holds numbers (e.g. 2001), not dates"),
    ],
    ids=["integer-time", "no-date-column", "years"],
)
def test_first_column_of_numbers_is_not_taken_for_dates(text, fragment, tmp_path, no_fit, capsys):
    csv = tmp_path / "numbers.csv"
    csv.write_text(text)
    assert main(["fit", str(csv), "--factors", "1", "--out", str(tmp_path / "f.nc")]) == 2
    _one_line_error(capsys, fragment, "first column of the CSV must be the dates")


def test_text_column_with_returns_is_named(tmp_path, no_fit, capsys):
    csv = tmp_path / "prices.csv"
    csv.write_text(
        "date,AAA,BBB,CCC\n2024-01-01,10,x,1\n2024-01-02,11,y,2\n2024-01-03,12,1.5,3 %\n"
    )
    assert main(["fit", str(csv), "--returns", "--factors", "1", "--out", "f.nc"]) == 2
    _one_line_error(capsys, "'BBB'", "'CCC'", "not numbers", "e.g. 'x'")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--chains", "0", "argument --chains: must be an integer >= 1, got '0'"),
        ("--draws", "0", "argument --draws: must be an integer >= 1, got '0'"),
        ("--tune", "-5", "argument --tune: must be an integer >= 0, got '-5'"),
        ("--draws", "1e3", "argument --draws: must be an integer >= 1, got '1e3'"),
    ],
)
def test_bad_sampling_options_are_one_line_exit_2(
    option, value, fragment, prices_csv, no_fit, capsys
):
    for command in (
        ["fit", str(prices_csv), "--factors", "1", "--out", "f.nc"],
        ["demo"],
    ):
        with pytest.raises(SystemExit) as exc:
            main([*command, option, value])
        assert exc.value.code == 2
        _one_line_error(capsys, f"bdfm {command[0]}: error: {fragment}")


# --------------------------------------------------------------------------- Ctrl-C
def test_interrupt_while_sampling_exits_130_and_writes_nothing(
    prices_csv, tmp_path, monkeypatch, capsys
):
    """nutpie catches Ctrl-C and returns the draws made so far: the run still stops."""
    nutpie = pytest.importorskip("nutpie")
    import arviz as az
    import xarray as xr

    def partial_trace(compiled, *, draws, chains, blocking=True, **kwargs):
        posterior = xr.Dataset(
            {"x": (("chain", "draw"), np.zeros((chains, 3)))},
            coords={"chain": range(chains), "draw": range(3)},
        )
        trace = az.InferenceData(posterior=posterior)

        class Background:  # interrupted 3 draws in
            def wait(self, timeout=None):
                raise KeyboardInterrupt

            def abort(self):
                return trace

            def cancel(self):
                pass

        if not blocking:
            return Background()
        try:
            return Background().wait()
        except KeyboardInterrupt:
            return Background().abort()  # as nutpie.sample does

    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda *args, **kwargs: object())
    monkeypatch.setattr(nutpie, "sample", partial_trace)
    out = tmp_path / "fit.nc"
    fit = ["fit", str(prices_csv), "--returns", "--factors", "1", "--idiosyncratic", "iid"]
    rc = main([*fit, "--out", str(out), "--sampler", "nutpie", "--draws", "50", "--quiet"])
    assert rc == 130
    _one_line_error(capsys, "bdfm fit: interrupted")
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("where", ["reading", "fitting"])
def test_interrupt_in_any_phase_exits_130(where, prices_csv, tmp_path, monkeypatch, capsys):
    import bdfm.cli as cli

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    if where == "reading":
        monkeypatch.setattr(cli, "read_csv_panel", interrupt)
    else:
        monkeypatch.setattr(bdfm.DynamicFactorModel, "fit", interrupt)
    out = tmp_path / "fit.nc"
    assert main(["fit", str(prices_csv), "--factors", "1", "--out", str(out)]) == 130
    _one_line_error(capsys, "bdfm fit: interrupted")
    assert not out.exists()


def test_volatility_flags_reach_the_model(prices_csv, tmp_path, monkeypatch, capsys):
    seen = {}

    class Stop(Exception):
        pass

    def fake_fit(model, *args, **kwargs):
        seen["spec"] = model.spec
        raise Stop

    monkeypatch.setattr(bdfm.DynamicFactorModel, "fit", fake_fit)
    args = ["fit", str(prices_csv), "--returns", "--factors", "1", "--out", str(tmp_path / "f.nc")]
    flags = ["--factor-volatility", "sv", "--idio-volatility", "common_sv", "--tails", "student_t"]
    with pytest.raises(Stop):
        main([*args, *flags])
    spec = seen["spec"]
    assert (spec.factor_volatility, spec.idio_volatility, spec.tails) == (
        "sv",
        "common_sv",
        "student_t",
    )
    with pytest.raises(Stop):
        main([*args, "--factor-volatility", "garch"])
    assert seen["spec"].factor_volatility == "garch"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*args, "--tails", "cauchy"])
    assert exc.value.code == 2
    _one_line_error(capsys, "--tails")
