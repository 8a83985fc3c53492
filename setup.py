"""sockbench's build: pure Python by default; ``SOCKBENCH_COMPILE=1`` compiles the hot modules
(``[tool.sockbench] compiled`` in pyproject.toml) with mypyc, the same source, and the
pump's system-call shim (``[tool.sockbench] shim``, C: sockbench/engine/io/sysio.py) into a
wheel for this machine. Everything else lives in pyproject.toml.

The compiled build needs mypy and sockbench's dependencies where it builds, so it runs
without pip's build isolation:

    SOCKBENCH_COMPILE=1 pip install --no-build-isolation '.[plot]'    # into an env with mypy
    make compiled                                                      # in place, this checkout

Without the variable nothing here imports mypyc, and ``pip install .`` needs no compiler.
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent


def settings() -> dict[str, list[str]]:
    with (HERE / "pyproject.toml").open("rb") as f:
        table: dict[str, list[str]] = tomllib.load(f)["tool"]["sockbench"]
    return table


def compiled_sources() -> list[str]:
    return [module.replace(".", "/") + ".py" for module in settings()["compiled"]]


def shims() -> list[Extension]:
    """The C extensions of the compiled build: a module each, from its one source."""
    return [
        Extension(module, [module.replace(".", "/") + ".c"], extra_compile_args=["-O2"])
        for module in settings()["shim"]
    ]


def record_sources(sources: list[str]) -> None:
    """What this build compiles, by content: sockbench/build.py writes the record it reads
    (``stale``: a checkout's in-place build names the sources edited since), loaded by its
    path, as importing the package would import its dependencies."""
    spec = importlib.util.spec_from_file_location(
        "_sockbench_build", HERE / "sockbench" / "build.py"
    )
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.record(sources)


def ext_modules() -> list[object]:
    if os.environ.get("SOCKBENCH_COMPILE") != "1":
        return []
    from mypyc.build import mypycify

    sources = compiled_sources()
    extensions = shims()
    record_sources(sources + [source for ext in extensions for source in ext.sources])
    # The runtime shared by the compiled modules goes inside the package (not at the top
    # level, mypyc's default), where an editable install's imports find it too.
    return [*mypycify(sources, opt_level="3", group_name="sockbench.hot"), *extensions]


if __name__ == "__main__":
    setup(ext_modules=ext_modules())
