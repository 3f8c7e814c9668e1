"""The command line end to end on a small bundled subset: fit -> report -> compare, the demo,
exit codes, files written, and one-line messages for user mistakes."""

import subprocess
import sys

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
