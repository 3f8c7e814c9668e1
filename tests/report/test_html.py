"""The HTML report: sections, embedded images, offline, escaping, no overwrite, a real browser."""

from __future__ import annotations

import base64
import html
import io
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bdfm.report import html as report
from bdfm.report.html import SECTION_IDS, build_report
from tests.report.plots.conftest import fake_volatility_fit

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
NASTY = '<script>alert("x")</script> & co'


@pytest.fixture(scope="module")
def fit(small_ar1_fit):
    return small_ar1_fit


@pytest.fixture(scope="module")
def written(fit, tmp_path_factory):
    """A full report on disk (with a comparison table holding markup to escape)."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    compare = pd.DataFrame(
        {"elpd_loo": [-812.5, -820.1], "weight": [0.9, 0.1]}, index=[NASTY, "k=1"]
    )
    out = build_report(fit, path, title=NASTY, compare=compare, forecast_steps=6)
    return out, path.read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    found = re.findall(r'<section id="([^"]+)">(.*?)</section>', text, flags=re.S)
    return dict(found)


def test_every_section_present_in_order(written):
    out, text = written
    assert isinstance(out, Path) and out.exists()
    sections = _sections(text)
    assert list(sections) == list(SECTION_IDS)
    for sid in ("overview", "diagnostics", "factors", "loadings", "variance-decomposition",
                "dynamics", "forecast", "risk", "comparison"):  # fmt: skip
        assert "Not included" not in sections[sid], sid
    assert "Not included" not in sections["model"]
    assert "Not included: constant variances (factor_volatility=" in sections["volatility"]
    for needle in ("R-hat", "r_hat", "ess_bulk", "divergent transitions", "E-BFMI"):
        assert needle in sections["diagnostics"]
    for needle in ("pymc", "pytensor", "arviz", "numpy", "random seed", "sample (s)", "Normal("):
        assert needle in sections["model"], needle
    assert "f1: " in sections["model"]  # anchors named by series, not by index
    assert "elpd_loo" in sections["comparison"]
    assert "contribution" in sections["risk"] and "volatility" in sections["risk"]


def test_images_are_embedded_png(written):
    _, text = written
    images = IMG.findall(text)
    assert len(images) == text.count("<img")  # every image is an embedded PNG
    assert len(images) == 7  # overview, factors, loadings, shares, dynamics, forecast, risk
    for data in images:
        raw = base64.b64decode(data, validate=True)
        assert raw.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(raw)) as image:
            image.verify()
        with Image.open(io.BytesIO(raw)) as image:
            assert image.width == 1280
            assert np.asarray(image.convert("L")).std() > 5  # something is drawn


def test_self_contained_and_escaped(written):
    _, text = written
    prose = IMG.sub("<img", text)  # base64 data may contain any "//x"
    assert not re.search(r"https?:|//[a-z]", prose, flags=re.I)  # no URLs at all
    assert not re.search(r"<(script|link|iframe|object|embed)\b", prose, flags=re.I)
    assert "@import" not in prose and "url(" not in prose
    assert NASTY not in text
    assert text.count(html.escape(NASTY, quote=True)) >= 3  # <title>, <h1>, a table cell


def test_overwrite_guard(fit, tmp_path):
    path = tmp_path / "r.html"
    path.write_text("keep me")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        build_report(fit, path)
    assert path.read_text() == "keep me"
    assert build_report(fit, path, weights=None, overwrite=True) == path
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob("*.partial"))


def test_missing_ingredients_become_notes(fit):
    text = fit.report(weights=None, title="t")  # no path: the HTML itself
    assert text.startswith("<!DOCTYPE html>") and "<title>t</title>" in text
    sections = _sections(text)
    assert list(sections) == list(SECTION_IDS)
    assert "Not included: no portfolio weights" in sections["risk"]
    assert "Not included: no comparison" in sections["comparison"]
    assert "Not included: no backtest" in sections["backtest"]
    with pytest.raises(TypeError, match="compare must be"):
        report._comparison(fit, report.Options(compare=[1, 2]))


def test_section_ids():
    assert SECTION_IDS == (
        "overview", "diagnostics", "factors", "volatility", "loadings", "variance-decomposition",
        "dynamics", "forecast", "risk", "backtest", "comparison", "model",
    )  # fmt: skip


def _volatility_section(fit) -> str:
    return report._section(fit, report.Options(), "volatility", "Volatility", report._volatility)


def test_volatility_section_of_a_constant_fit_is_a_note():
    fake = fake_volatility_fit(factor=False, idio="constant", student_t=False)
    body = _volatility_section(fake)
    assert "Not included: constant variances (factor_volatility=&#x27;constant&#x27;" in body
    assert "<img" not in body


def test_volatility_section_of_a_volatility_fit():
    fake = fake_volatility_fit(n_factors=2, idio="sv", student_t=True, n_series=4)
    body = _volatility_section(fake)
    assert "Not included" not in body
    for needle in ("exp(h/2)", "Student-t degrees of freedom ν", "persistence φ (factor)",
                   "volatility of volatility σ (idiosyncratic)", "half-life", "y3"):  # fmt: skip
        assert needle in body, needle
    nu = np.median(fake.posterior["tails_nu"].values)
    assert f"<td>{nu:.4g}</td>" in body
    (data,) = IMG.findall(body)
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        assert image.width == 1280


def test_volatility_section_of_a_factor_garch_fit():
    fake = fake_volatility_fit(factor="garch", idio="constant", student_t=False)
    body = _volatility_section(fake)
    for needle in ("GJR-GARCH(1,1)", "GARCH news α (factor)", "GARCH leverage γ (factor)",
                   "GARCH memory β (factor)", "exp(h/2)"):  # fmt: skip
        assert needle in body, needle
    assert "volatility of volatility" not in body


def test_comparison_of_fits(fit):
    with warnings.catch_warnings():  # few draws: PSIS-LOO may warn about Pareto k
        warnings.simplefilter("ignore", UserWarning)
        body = report._comparison(fit, report.Options(compare={"two factors": fit}))
    assert "two factors" in body and "elpd_diff" in body and "Method: loo" in body


@pytest.mark.skipif(
    shutil.which(CHROMIUM) is None or shutil.which(CHROMEDRIVER) is None,
    reason=f"needs Chromium and its driver ({CHROMIUM}, {CHROMEDRIVER}; Debian: "
    "apt-get install chromium chromium-driver)",
)
def test_opens_in_a_headless_browser(written, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (test extra)")
    from selenium.webdriver.chrome.service import Service

    path, _ = written
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--window-size=1280,1000"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(path.resolve().as_uri())
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        page = driver.execute_script(
            """return {
                ids: Array.from(document.querySelectorAll('section')).map(s => s.id),
                found: arguments[0].map(id => document.getElementById(id) !== null),
                images: Array.from(document.images).map(i => [i.complete, i.naturalWidth]),
                scrollWidth: document.documentElement.scrollWidth,
                innerWidth: window.innerWidth,
            }""",
            list(SECTION_IDS),
        )
        shot = tmp_path / "report.png"
        shot.write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()
    assert page["ids"] == list(SECTION_IDS) and all(page["found"])
    assert len(page["images"]) == 7
    assert all(complete and width > 0 for complete, width in page["images"])  # none broken
    assert page["innerWidth"] == 1280
    assert page["scrollWidth"] <= 1280  # nothing wider than the window
    with Image.open(shot) as image:
        assert image.width == 1280 and image.height == height
        grey = np.asarray(image.convert("L"))
    assert grey.std() > 20 and (grey < 128).mean() > 0.01  # not blank


def test_backtest_section_has_the_chart_and_the_tests(fit):
    from bdfm.posterior.backtest import backtest_var

    data = fit.idata.observed_data["y"].to_pandas()
    data.columns.name = None
    bt = backtest_var(
        data, {"n_factors": 1}, window=len(data) - 40, alpha=[0.9, 0.95], refit_every=40,
        method="mle",
    )  # fmt: skip
    body = report._section(
        fit, report.Options(backtest=bt), "backtest", "VaR backtest", report._backtest
    )
    assert len(IMG.findall(body)) == 1
    one = bt[("portfolio", 0.9)]
    assert f"<td>{len(one.violations)}</td>" in body.replace(".0</td>", "</td>")
    assert body.count("<tr>") >= 3  # header and one row per (portfolio, level)
