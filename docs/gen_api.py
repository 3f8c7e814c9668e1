"""Generate docs/api.md, the API reference, from bdfm's docstrings.

Run from the repository root after changing a public signature or docstring::

    .venv/bin/python docs/gen_api.py           # rewrites docs/api.md
    .venv/bin/python docs/gen_api.py --check   # exit 1 if docs/api.md is out of date

It walks ``bdfm.__all__`` (classes with their public methods and properties), the
objects those calls return (``FitResult`` and friends), and the public functions of
``bdfm.report.plots`` and ``bdfm.datasets``, and writes each signature (``inspect.signature``)
and docstring (``inspect.getdoc``, verbatim, in a ``text`` block). The output depends
only on the code: entries keep the order of ``__all__`` (methods: source order), and
nothing machine-specific (paths, memory addresses, the installed version) is written.
``tests/test_docs.py`` fails when docs/api.md differs from what this script produces.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

API_MD = Path(__file__).resolve().parent / "api.md"

HEADER = """\
# API reference

Generated from the docstrings by `docs/gen_api.py`; do not edit by hand. After changing a
public signature or docstring, run `.venv/bin/python docs/gen_api.py` (the test suite checks
that this page is up to date). The user guide starts at [index.md](index.md).

Parameters are in **model units** (standardised data) unless a docstring says otherwise;
outputs of forecasts, covariances and risk are in the original units of the data.
"""

# Objects returned by the public API, documented after it: (import path, what returns it).
RETURNED = [
    ("bdfm.results.FitResult", "`DynamicFactorModel.fit`, `bdfm.load`"),
    ("bdfm.inference.mle.MLEResult", "`DynamicFactorModel.fit_mle`"),
    ("bdfm.inference.posterior_mode.MAPResult", "`DynamicFactorModel.fit_map`"),
    ("bdfm.inference.diagnostics.Diagnostics", "`FitResult.diagnostics`"),
    ("bdfm.report.accessor.PlotAccessor", "`FitResult.plot`"),
    ("bdfm.selection.parallel.FitCollection", "`bdfm.fit_many`"),
    ("bdfm.selection.parallel.FitFailed", "`FitCollection.errors`, `FitCollection.raise_errors`"),
    ("bdfm.selection.lfo.LFOResult", "`bdfm.lfo`"),
    ("bdfm.selection.select.FactorSelection", "`bdfm.select_factors`"),
]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class _Text:
    """Shows a string annotation as written (``pd.DataFrame``, not ``'pd.DataFrame'``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _plain(annotation):
    return _Text(annotation) if isinstance(annotation, str) else annotation


def _signature(obj, drop_self: bool = False) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    params = list(sig.parameters.values())
    if drop_self and params:  # the instance (``self``, or ``fit``/``model`` of an attached function)
        params = params[1:]
    params = [p.replace(annotation=_plain(p.annotation)) for p in params]
    sig = sig.replace(parameters=params, return_annotation=_plain(sig.return_annotation))
    return _ADDRESS.sub("", str(sig))


def _doc(obj) -> str:
    doc = inspect.getdoc(obj)
    if not doc:
        return "*(no docstring)*\n"
    return f"```text\n{doc}\n```\n"


def _own_members(cls) -> list[tuple[str, object]]:
    """Public methods, properties and accessors of ``cls``: its own in source order, then
    those attached by :mod:`bdfm.api` in the order of ``bdfm.api.METHODS``."""
    out = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        accessor = type(member).__name__ == "Accessor"  # bdfm.report.accessor.Accessor
        if (
            isinstance(member, property | staticmethod | classmethod)
            or inspect.isfunction(member)
            or accessor
        ):
            out.append((name, member))
    return out


def _function(title: str, obj, level: str = "###") -> str:
    return f"{level} `{title}`\n\n```python\n{title}{_signature(obj)}\n```\n\n{_doc(obj)}"


def _class(title: str, cls, returned_by: str | None = None) -> str:
    parts = [f"### `{title}`\n"]
    if returned_by:
        parts.append(f"Returned by {returned_by}.\n")
    kind = "exception" if issubclass(cls, BaseException) else "class"
    init_sig = _signature(cls).removesuffix(" -> None")
    parts.append(f"```python\n{kind} {title}{init_sig}\n```\n")
    parts.append(_doc(cls))
    for name, member in _own_members(cls):
        short = title.rsplit(".", 1)[-1]
        if isinstance(member, property):
            doc = _doc(member.fget) if inspect.getdoc(member.fget) else ""
            parts.append(f"#### `{short}.{name}` (property)\n\n{doc}")
        elif type(member).__name__ == "Accessor":
            target = member.__get__(None, cls)
            parts.append(
                f"#### `{short}.{name}` (accessor)\n\n`{short}.{name}` is a "
                f"`{target.__module__}.{target.__name__}`; see below.\n"
            )
        else:
            func = member.__func__ if isinstance(member, staticmethod | classmethod) else member
            parts.append(
                f"#### `{short}.{name}`\n\n```python\n{short}.{name}{_signature(func, True)}\n```\n\n"
                f"{_doc(func)}"
            )
    return "\n".join(parts)


def _module(title: str, module) -> str:
    parts = [f"### `{title}`\n", _doc(module)]
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            parts.append(_function(f"{title}.{name}", obj, level="####"))
        elif inspect.isclass(obj):
            parts.append(_class(f"{title}.{name}", obj).replace("### ", "#### ", 1))
        else:
            parts.append(f"#### `{title}.{name}`\n\nConstant: `{title}.{name}`.\n")
    return "\n".join(parts)


def _resolve(path: str):
    import importlib

    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def render() -> str:
    """The text of docs/api.md."""
    import bdfm

    parts = [HEADER, "## The `bdfm` namespace\n"]
    parts.append(
        "`bdfm.__version__` is the installed version (a string; `0.0.0+unknown` when run "
        "from a source tree that was not installed).\n"
    )
    for name in bdfm.__all__:
        if name == "__version__":
            continue
        obj = getattr(bdfm, name)
        title = f"bdfm.{name}"
        if inspect.ismodule(obj):
            parts.append(_module(title, obj))
        elif inspect.isclass(obj):
            parts.append(_class(title, obj))
        else:
            parts.append(_function(title, obj))
    parts.append("## Objects returned by the API\n")
    for path, returned_by in RETURNED:
        parts.append(_class(path, _resolve(path), returned_by))
    text = "\n".join(p.rstrip("\n") + "\n" for p in parts)
    return re.sub(r"\n{3,}", "\n\n", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if api.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = API_MD.read_text(encoding="utf-8") if API_MD.exists() else ""
        if current != text:
            print(f"{API_MD} is out of date; run: python docs/gen_api.py", file=sys.stderr)
            return 1
        return 0
    API_MD.write_text(text, encoding="utf-8")
    print(f"wrote {API_MD} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
