"""The layers only point down: an import graph read from the source (pure, no imports run).

Every ``import`` counts, including those inside functions: a lazy import is still a
dependency, only a cheaper one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sockbench"

#: layer -> layers it must never import
FORBIDDEN = {
    "core": ("engine", "servers", "report", "cli", "compare"),
    "engine": ("report", "cli", "compare"),
    "servers": ("engine", "report", "cli", "compare"),
    "report": ("cli",),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("sockbench.")}


def _layer(module: str) -> str:
    return module.split(".")[1]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer: str) -> None:
    bad = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in sorted(_imports(path))
        if _layer(name) in FORBIDDEN[layer]
    ]
    assert bad == []


def _module_path(module: str) -> Path | None:
    base = PACKAGE.parent / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None  # a name imported from a module, not a module


def _reachable(start: str) -> set[str]:
    """Every sockbench module ``start``'s modules import, directly or through others."""
    seen: set[str] = set()
    todo = [
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in (PACKAGE / start).rglob("*.py")
    ]
    while todo:
        module = todo.pop()
        path = _module_path(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        todo.extend(_imports(path))
    return seen


def test_core_reaches_nothing_outside_core() -> None:
    allowed = {"sockbench", "sockbench.errors"}
    outside = {m for m in _reachable("core") if _layer(m) != "core" and m not in allowed}
    assert outside == set()


def test_engine_reaches_no_report_or_cli() -> None:
    reached = {m for m in _reachable("engine") if _layer(m) in ("report", "cli")}
    assert reached == set()


def test_the_graph_is_read() -> None:
    assert "sockbench.core.histogram" in _imports(PACKAGE / "core" / "result.py")
