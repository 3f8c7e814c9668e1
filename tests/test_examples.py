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


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path):
    out = subprocess.run(
        [sys.executable, str(path), "--fast"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
