import subprocess
import sys

from bdfm.cli import main


def test_demo_runs_on_a_small_window(capsys):
    rc = main(["demo", "--factors", "1", "--idiosyncratic", "iid", "--start", "2022-06-01"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "log-likelihood" in out and "AAPL" in out and "converged: True" in out


def test_user_error_is_one_line_nonzero(capsys):
    rc = main(["demo", "--factors", "25"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("bdfm: error:") and "n_factors=25" in err
    assert "Traceback" not in err


def test_version_and_datasets_console_script():
    out = subprocess.run(
        [sys.executable, "-m", "bdfm", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("bdfm ")
    out = subprocess.run([sys.executable, "-m", "bdfm", "datasets"], capture_output=True, text=True)
    assert "sp500_returns" in out.stdout


def test_unknown_option_exits_nonzero():
    out = subprocess.run(
        [sys.executable, "-m", "bdfm", "demo", "--bogus"], capture_output=True, text=True
    )
    assert out.returncode != 0 and "unrecognized arguments: --bogus" in out.stderr
