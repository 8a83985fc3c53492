"""Which build runs: pure Python, or the hot modules compiled by mypyc (``make compiled``).

The compiled build is optional and opt-in (``SOCKBENCH_COMPILE=1`` at install, setup.py):
the same source, the same results, less CPU per request (docs/performance.md, *The
compiled build*). A result names its build (``environment.sockbench_build``), and
``sockbench --version`` says which one runs, so numbers are never compared across builds
by accident. Compiled in place (``make compiled``), a module's ``.so`` shadows its ``.py``:
:func:`stale` names the sources edited since, which would otherwise not run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).parent
SOURCES = "hot.sources"  # what an in-place build compiled: {path: fingerprint} (setup.py)


def compiled() -> bool:
    """True when the hot modules run compiled (the exchange stands for all of them: the
    build compiles them together). Imported here, not at the top: setup.py loads this
    module by its path, without the package's dependencies."""
    import sockbench.core.exchange

    return not str(sockbench.core.exchange.__file__).endswith(".py")


def name() -> str:
    """``compiled`` or ``pure``: what results and ``--version`` say."""
    return "compiled" if compiled() else "pure"


def fingerprint(source: Path) -> str:
    """What a compiled source was when built: its bytes' SHA-256 (a checkout's git
    operations rewrite files, so their times say nothing of their content)."""
    return hashlib.sha256(source.read_bytes()).hexdigest()


def record(sources: list[str]) -> None:
    """Write :data:`SOURCES`: each of ``sources`` (paths under the package's parent) by
    its :func:`fingerprint`, as an in-place build compiles them (setup.py)."""
    root = PACKAGE.parent
    digests = {path: fingerprint(root / path) for path in sources}
    (PACKAGE / SOURCES).write_text(json.dumps(digests, indent=1) + "\n")


def stale() -> list[str]:
    """The compiled modules whose source changed since the in-place build (a checkout's
    ``make compiled``), as paths under the package: their edits do not run. The build
    writes each source's :func:`fingerprint` to :data:`SOURCES`; with none (a pure
    checkout, or an installed wheel, whose sources cannot change under it) nothing is."""
    record = PACKAGE / SOURCES
    if not record.exists():
        return []
    built: dict[str, str] = json.loads(record.read_text())
    root = PACKAGE.parent
    return [
        path
        for path, digest in sorted(built.items())
        if not (root / path).exists() or fingerprint(root / path) != digest
    ]


def describe() -> str:
    """One line for ``--version``: the build, and what to do about stale modules."""
    if not compiled():
        return "pure Python"
    late = stale()
    if not late:
        return "compiled with mypyc"
    return (
        f"compiled with mypyc; {len(late)} source(s) edited since, not running until "
        f"`make compiled` (or `make pure`): {', '.join(late)}"
    )


def build_c(module: str, where: Path) -> ModuleType:
    """Compile one of the compiled build's C modules (``[tool.sockbench] shim``) from its
    ``.c`` beside it, as setup.py does, into ``where``, and import it: outside a compiled
    build, its tests and benchmarks try it whatever build runs (needs a C compiler and
    Python's headers). Its import name stays the package's, so it is not on the path."""
    from setuptools import Distribution, Extension

    source = PACKAGE.parent / (module.replace(".", "/") + ".c")
    ext = Extension(module, [str(source)], extra_compile_args=["-O2"])
    build = Distribution({"ext_modules": [ext]}).get_command_obj("build_ext")
    build.build_lib = str(where)
    build.build_temp = str(where / "tmp")
    build.ensure_finalized()
    build.run()
    spec = importlib.util.spec_from_file_location(module, build.get_ext_fullpath(module))
    assert spec is not None and spec.loader is not None
    built = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(built)
    return built
