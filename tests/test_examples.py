"""Every example runs in its fast mode."""

import pathlib
import subprocess
import sys

import pytest

# these two need data arguments or shared data and have their own tests (test_examples_data.py)
OWN_TESTS = {"macro_nowcast.py", "crypto_factors.py"}
EXAMPLES = sorted(
    p
    for p in (pathlib.Path(__file__).parents[1] / "examples").glob("*.py")
    if p.name not in OWN_TESTS
)
# Bayesian fits (23-45 s each on 2 cores): in the slow set, run with -m slow; the default run
# samples the same kind of fit through the CLI demo test
SLOW = {"bayesian_returns.py", "choose_factors.py", "portfolio_risk.py"}


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW else p for p in EXAMPLES],
    ids=lambda p: p.name,
)
def test_example_runs(path):
    out = subprocess.run(
        [sys.executable, str(path), "--fast"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
