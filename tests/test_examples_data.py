"""The data examples (macro nowcast, crypto factors) run in their fast mode.

The crypto example reads a real panel kept outside the package, in ../shared/data/crypto/;
its test is skipped when that folder is absent, and the example then runs on simulated
prices instead, so it is exercised either way.
"""

import pathlib
import subprocess
import sys

import pytest

from bdfm.datasets import simulate_crypto_panel

ROOT = pathlib.Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
CRYPTO_CSV = ROOT.parent / "shared" / "data" / "crypto" / "crypto_daily_close.csv"


def run(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_macro_nowcast():
    out = run("macro_nowcast.py", "--fast")
    assert out.returncode == 0, out.stderr[-2000:]
    for text in ("ragged edge", "CMRMTSPLx", "in-sample R²", "nowcast", "smoothed factors"):
        assert text in out.stdout


@pytest.mark.slow  # a Bayesian fit of the real panel (20-27 s)
@pytest.mark.skipif(not CRYPTO_CSV.is_file(), reason=f"real crypto panel absent: {CRYPTO_CSV}")
def test_crypto_factors_real_panel():
    out = run("crypto_factors.py", "--fast")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "6 assets, 2024-05-01 to 2024-12-31" in out.stdout
    assert "'TON': '2024-08-09'" in out.stdout  # listed 2024-08-08: first return the day after
    assert "posterior mean loadings" in out.stdout and "variance explained" in out.stdout


@pytest.mark.skipif(CRYPTO_CSV.is_file(), reason="real crypto panel present (tested on it)")
def test_crypto_factors_simulated_prices(tmp_path):
    csv = tmp_path / "prices.csv"
    simulate_crypto_panel(n_assets=6, n_days=200, random_seed=3, prices=True).to_csv(csv)
    out = run("crypto_factors.py", str(csv), "--fast")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "6 assets" in out.stdout and "posterior mean loadings" in out.stdout


def test_crypto_factors_missing_file(tmp_path):
    out = run("crypto_factors.py", str(tmp_path / "nope.csv"), "--fast")
    assert out.returncode == 2
    assert "crypto price panel not found" in out.stderr and "nope.csv" in out.stderr
