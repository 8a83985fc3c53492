"""The layers only point down: an import graph read from the source (pure, no imports run).

Every ``import`` counts, including those inside functions: a lazy import is still a
dependency, only a cheaper one. Every top-level module is a layer of its own, placed in
:data:`LAYERS`; a new one must be placed there before it can import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sockbench"

#: Every package and top-level module of sockbench, lowest first: each imports only those
#: below it. ``__init__`` is the package's own (``__version__``).
LAYERS = (
    "__init__",
    "errors",  # what every layer raises
    "endpoints",  # addresses as users write them (pure)
    "core",  # pure: the spec, the exchange, histograms, the result document
    "build",  # which build runs: pure, or the hot modules compiled
    "servers",  # server models, and the one entry point that opens the chosen server
    "machine",  # the option layer's edge: this host's facts and installed models
    "environment",  # what a result records of the host
    "engine",  # the run: workers, drivers, coordination
    "report",
    "capacity",  # sweep and search: runs at several rates
    "compare",
    "cli",
    "console",  # the entry point: imports the cli inside its Ctrl-C handler
    "__main__",
)


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
    """``sockbench.core.spec`` -> ``core``; the package, or a name from it
    (``sockbench.__version__``), -> ``__init__``."""
    parts = module.split(".")
    top = PACKAGE / parts[1] if len(parts) > 1 else None
    if top is None or not (top.is_dir() or top.with_suffix(".py").is_file()):
        return "__init__"
    return parts[1]


def _modules() -> list[tuple[Path, str]]:
    """Every module of the package, with its layer."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out.append((path, parts[0]))
    return out


def test_every_module_has_a_layer() -> None:
    assert {layer for _, layer in _modules()} <= set(LAYERS)


def test_every_import_points_down() -> None:
    """Top-level modules included: an import of a layer above is an arrow pointing up."""
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    up = [
        f"{path.relative_to(PACKAGE.parent)} ({layer}) imports {name}"
        for path, layer in _modules()
        for name in sorted(_imports(path))
        if rank[_layer(name)] > rank[layer]
    ]
    assert up == []


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
    allowed = {"sockbench", "sockbench.errors", "sockbench.endpoints"}
    outside = {m for m in _reachable("core") if _layer(m) != "core" and m not in allowed}
    assert outside == set()


#: The engine's packages, lowest first, split by job (``sockbench/engine/__init__.py``).
ENGINE_LAYERS = ("__init__", "io", "clients", "worker", "backends", "orchestration")


def _engine_layer(module: str) -> str:
    """``sockbench.engine.worker.run`` -> ``worker``; the engine package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and (PACKAGE / "engine" / parts[2]).is_dir() else "__init__"


def test_every_engine_module_is_in_a_package_of_its_job() -> None:
    engine = PACKAGE / "engine"
    loose = [p.name for p in engine.glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    assert {p.name for p in engine.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(
        ENGINE_LAYERS[1:]
    )


def test_every_engine_import_points_down() -> None:
    """orchestration -> backends -> worker -> clients -> io, never back up."""
    rank = {layer: i for i, layer in enumerate(ENGINE_LAYERS)}
    up = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path, layer in _modules()
        if layer == "engine"
        for name in sorted(_imports(path))
        if _layer(name) == "engine"
        and rank[_engine_layer(name)] > rank[_engine_layer(_dotted(path))]
    ]
    assert up == []


def _dotted(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def test_engine_reaches_no_report_or_cli() -> None:
    reached = {m for m in _reachable("engine") if _layer(m) in ("report", "cli")}
    assert reached == set()


def test_the_graph_is_read() -> None:
    assert "sockbench.core.histogram" in _imports(PACKAGE / "core" / "result.py")
