"""The report's HTML building blocks: escaping, number formatting, folding, figures."""

import base64
import io
import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from bdfm.report import markup as mk

NASTY = '<b>"x" & y</b>'


def test_text_is_escaped_everywhere():
    assert mk.esc(NASTY) == "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;"
    assert mk.paragraph(NASTY) == f"<p>{mk.esc(NASTY)}</p>"
    frame = pd.DataFrame({NASTY: [NASTY]}, index=pd.Index([NASTY], name=NASTY))
    for out in (mk.table(frame), mk.facts({NASTY: NASTY})):
        assert "<b>" not in out and mk.esc(NASTY) in out


def test_numbers_are_formatted_and_marks_are_not_escaped():
    assert mk.fmt(3) == "3" and mk.fmt(np.int64(7)) == "7"
    assert mk.fmt(1 / 3) == "0.3333" and mk.fmt(np.float32(12345.678)) == "1.235e+04"
    assert mk.fmt(float("nan")) == "–" and mk.fmt(np.inf) == "–"
    assert mk.fmt(True) == "True"
    assert mk.fmt(pd.Timestamp("2024-03-01")) == "2024-03-01"
    assert mk.cell(2.5) == "<td>2.5</td>" and mk.cell("a") == '<td class="text">a</td>'
    assert "✓ pass" in mk.cell(mk.Mark(True)) and "⚠ warn" in mk.cell(mk.Mark(False), "th")


def test_long_tables_fold_and_index_is_optional():
    short = pd.DataFrame({"a": range(mk.SHOWN_ROWS)})
    long = pd.DataFrame({"a": range(mk.SHOWN_ROWS + 1)})
    assert "<details>" not in mk.table(short)
    assert mk.table(long).startswith(f"<details><summary>table ({mk.SHOWN_ROWS + 1} rows)")
    no_index = mk.table(pd.DataFrame({"a": [1]}, index=["row"]), index=False)
    assert "row" not in no_index and no_index.count("<th ") == 1


def test_prior_text_reads_nested_priors():
    prior = {"dist": "Normal", "mu": 0, "sigma": {"dist": "HalfNormal", "sigma": 1}}
    assert mk.prior_text(prior) == "Normal(mu=0, sigma=HalfNormal(sigma=1))"
    assert mk.prior_text([1, 2]) == "[1, 2]" and mk.prior_text(3.0) == "3.0"


def test_figure_is_an_embedded_png_of_its_size():
    fig = Figure(figsize=(2.0, 1.0))
    fig.add_subplot().plot([0, 1])
    out = mk.figure_html(fig, NASTY)
    data = re.search(r'src="data:image/png;base64,([^"]+)"', out).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert image.size == (200, 100) and 'width="200" height="100"' in out
    assert f'alt="{mk.esc(NASTY)}"' in out
