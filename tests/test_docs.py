"""The user documentation in docs/: API reference up to date, links resolve, the names it
mentions exist, and the quickstart's marked examples run."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
# [text](target) — not images; targets without a scheme are relative links
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")
RUNNABLE = "<!-- test -->"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_api", DOCS / "gen_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prose(text: str) -> list[str]:
    """Lines outside fenced code blocks (links inside code are not links)."""
    out, in_code = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            in_code = not in_code
            continue
        if not in_code:
            out.append(re.sub(r"`[^`]*`", "", line))
    return out


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """Anchors of the headings of a page (GitHub style; a repeated heading gets -1, -2...)."""
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            in_code = not in_code
            continue
        m = None if in_code else re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            slug = _slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_api_reference_is_up_to_date():
    expected = _generator().render()
    current = (DOCS / "api.md").read_text(encoding="utf-8")
    assert current == expected, (
        "docs/api.md is out of date with the docstrings; run: .venv/bin/python docs/gen_api.py"
    )


def test_api_reference_is_deterministic():
    gen = _generator()
    assert gen.render() == gen.render()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    problems = []
    for line in _prose(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                problems.append(f"{target}: no such file {dest}")
                continue
            if anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                problems.append(f"{target}: no heading with anchor #{anchor} in {dest.name}")
    assert not problems, f"{page.name}: broken links:\n" + "\n".join(problems)


def _resolve(dotted: str):
    """The object a dotted name such as ``bdfm.datasets.load`` refers to (AttributeError if none)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ImportError:
            continue
    for name in parts[i:]:
        obj = getattr(obj, name)
    return obj


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_mentioned_bdfm_names_exist(page):
    """Every ``bdfm.something`` a page names (functions, classes, modules) exists."""
    names = sorted(set(re.findall(r"\bbdfm(?:\.[A-Za-z_]\w*)+", page.read_text(encoding="utf-8"))))
    missing = []
    for name in names:
        try:
            _resolve(name)
        except AttributeError:
            missing.append(name)
    assert not missing, f"{page.name} names what bdfm does not have: {missing}"


def _runnable_blocks(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == RUNNABLE:
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            assert lines[j].strip() == "```python", (
                f"{path.name}:{i + 1}: {RUNNABLE} not before a python block"
            )
            k = j + 1
            while lines[k].strip() != "```":
                k += 1
            blocks.append("\n".join(lines[j + 1 : k]))
            i = k
        i += 1
    return blocks


def test_quickstart_has_runnable_examples():
    assert len(_runnable_blocks(DOCS / "quickstart.md")) >= 3


def test_quickstart_examples_run(tmp_path, monkeypatch):
    """The marked blocks of docs/quickstart.md, in order, in one namespace (like a session)."""
    monkeypatch.chdir(tmp_path)  # blocks that write files write here
    namespace: dict = {"__name__": "__docs__"}
    for n, block in enumerate(_runnable_blocks(DOCS / "quickstart.md"), 1):
        try:
            exec(compile(block, f"docs/quickstart.md block {n}", "exec"), namespace)
        except Exception as err:  # name the block in the failure
            raise AssertionError(f"quickstart block {n} failed: {err!r}\n{block}") from err
