"""The layering of docs/architecture.md, checked on the code: no part imports a higher one.

Every ``import`` / ``from ... import`` of a bdfm module is read from the source (module
level, inside functions and under ``TYPE_CHECKING`` alike, except that ``TYPE_CHECKING``
blocks may name higher parts for annotations only) and compared by rank.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bdfm"

# rank of each part; a module may import modules of its own rank or below.
RANKS = {
    "bdfm.statespace": 0,
    "bdfm.datasets": 0,
    "bdfm.dims": 1,
    "bdfm.draws": 1,
    "bdfm.spec": 1,
    "bdfm.priors": 1,
    "bdfm.params": 1,
    "bdfm.data": 1,
    "bdfm.simulation": 1,
    "bdfm.model": 1,
    "bdfm.inference": 2,
    "bdfm.results": 3,
    "bdfm.io": 3,
    "bdfm.selection": 4,
    "bdfm.posterior": 5,
    "bdfm.report": 6,
    "bdfm.cli": 7,
    "bdfm.cli_io": 7,
    "bdfm.api": 7,
    "bdfm.__main__": 7,
    "bdfm": 7,  # the package facade
}


def rank(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in RANKS:
            return RANKS[name]
    raise KeyError(f"{module} has no rank: add its part to RANKS and docs/architecture.md")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(tree: ast.AST, package: str) -> list[tuple[str, int, bool]]:
    """(module, line, for annotations only) of every bdfm import in ``tree``."""
    found = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.body:
                    visit_one(sub, True)
                for sub in child.orelse:
                    visit_one(sub, typing_only)
                continue
            visit_one(child, typing_only)

    def visit_one(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "bdfm":
                    found.append((alias.name, node.lineno, typing_only))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base.split(".")[0] == "bdfm":
                for alias in node.names:
                    found.append((f"{base}.{alias.name}", node.lineno, typing_only))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and str(arg.value).startswith("bdfm"):
                found.append((arg.value, node.lineno, typing_only))
        visit(node, typing_only)

    visit(tree, False)
    return found


def upward_edges() -> list[str]:
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(), str(path))
        for target, line, typing_only in imported_modules(tree, package):
            if typing_only:
                continue
            if rank(target) > rank(name):
                edges.append(f"{name}:{line} imports {target}")
    return edges


def test_no_module_imports_a_higher_part():
    assert upward_edges() == []


def test_every_module_has_a_rank():
    for path in PACKAGE.rglob("*.py"):
        rank(module_name(path))


def test_the_walker_sees_function_level_imports():
    src = "def f():\n    from bdfm.report.html import build_report\n"
    found = imported_modules(ast.parse(src), "bdfm.model")
    assert found == [("bdfm.report.html.build_report", 2, False)]
    assert rank(found[0][0]) > rank("bdfm.model")


def test_import_bdfm_leaves_matplotlib_and_pymc_unloaded():
    code = (
        "import sys, bdfm; bdfm.__version__; "
        "print(sorted(m for m in ('matplotlib', 'pymc', 'arviz') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
