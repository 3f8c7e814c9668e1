"""HTML building blocks of the report: escaped text, number formatting, tables, figures.

Everything from the user (series names, table cells, titles) is escaped here.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bdfm.report.plots._layout import DPI

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "SHOWN_ROWS",
    "Mark",
    "cell",
    "esc",
    "facts",
    "figure_html",
    "fmt",
    "paragraph",
    "prior_text",
    "table",
]

SHOWN_ROWS = 30  # longer tables are folded into a <details> element


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: object) -> str:
    """A table cell: numbers to 4 significant digits, NaN as a dash, all escaped."""
    if isinstance(value, bool | np.bool_):
        return esc(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):d}"
    if isinstance(value, float | np.floating):
        return "–" if not np.isfinite(value) else f"{float(value):.4g}"
    if isinstance(value, pd.Timestamp):
        return esc(value.date() if value == value.normalize() else value)
    return esc(value)


@dataclass(frozen=True)
class Mark:
    """A pass/warn cell (rendered as a coloured mark, not escaped text)."""

    ok: bool

    def __str__(self) -> str:
        return '<span class="pass">✓ pass</span>' if self.ok else '<span class="warn">⚠ warn</span>'


def cell(value: object, tag: str = "td") -> str:
    if isinstance(value, Mark):
        return f"<{tag}>{value}</{tag}>"
    cls = "" if isinstance(value, int | float | np.number) else ' class="text"'
    return f"<{tag}{cls}>{fmt(value)}</{tag}>"


def table(df: pd.DataFrame, *, index: bool = True) -> str:
    """An escaped HTML table of ``df``; past :data:`SHOWN_ROWS` rows it is folded away."""
    names = [*(list(df.index.names) if index else []), *map(str, df.columns)]
    head = "".join(f'<th class="text">{esc("" if n is None else n)}</th>' for n in names)
    rows = []
    for key, row in zip(df.index, df.itertuples(index=False)):
        keys = (key if isinstance(key, tuple) else (key,)) if index else ()
        cells = "".join(cell(k, "th") for k in keys) + "".join(cell(v) for v in row)
        rows.append(f"<tr>{cells}</tr>")
    out = f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    if len(df) > SHOWN_ROWS:
        return f"<details><summary>table ({len(df)} rows)</summary>{out}</details>"
    return out


def facts(items: Mapping[str, object]) -> str:
    """A table of labelled facts, one per row."""
    rows = "".join(f'<tr><th class="text">{esc(k)}</th>{cell(v)}</tr>' for k, v in items.items())
    return f'<div class="scroll"><table><tbody>{rows}</tbody></table></div>'


def prior_text(prior: object) -> str:
    """``{"dist": "Normal", "mu": 0, "sigma": {...}}`` -> ``Normal(mu=0, sigma=...)``."""
    if not isinstance(prior, dict) or "dist" not in prior:
        return json.dumps(prior) if isinstance(prior, dict | list) else str(prior)
    args = ", ".join(f"{k}={prior_text(v)}" for k, v in prior.items() if k != "dist")
    return f"{prior['dist']}({args})"


def figure_html(fig: Figure, alt: str) -> str:
    """The figure as an embedded PNG ``<img>`` (base64 data URI, no software metadata)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    width, height = (fig.get_size_inches() * DPI).round().astype(int)
    return (
        f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}" '
        f'width="{width}" height="{height}">'
    )


def paragraph(text: str) -> str:
    return f"<p>{esc(text)}</p>"
