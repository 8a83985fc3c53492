"""Which build runs: pure Python, or the hot modules compiled by mypyc (``make compiled``).

The compiled build is optional and opt-in (``SOCKBENCH_COMPILE=1`` at install, setup.py):
the same source, the same results, less CPU per request (docs/performance.md, *Compiling
the hot path with mypyc*). A result names its build (``environment.sockbench_build``), and
``sockbench --version`` says which one runs, so numbers are never compared across builds
by accident. Compiled in place (``make compiled``), a module's ``.so`` shadows its ``.py``:
:func:`stale` names the sources edited since, which would otherwise not run.
"""

from __future__ import annotations

from pathlib import Path

import sockbench.core.exchange

PACKAGE = Path(__file__).parent
LIBRARY = "hot__mypyc"  # the compiled modules' shared library (setup.py's group_name)


def compiled() -> bool:
    """True when the hot modules run compiled (the exchange stands for all of them: the
    build compiles them together)."""
    return not str(sockbench.core.exchange.__file__).endswith(".py")


def name() -> str:
    """``compiled`` or ``pure``: what results and ``--version`` say."""
    return "compiled" if compiled() else "pure"


def stale() -> list[str]:
    """The compiled modules whose source is newer than the build, as paths under the
    package: an in-place build (a checkout's ``make compiled``) that edits since made no
    longer runs. (Each module's
    ``.so`` is a shim that the build leaves alone when its code changed; the code is all
    in the one shared library, ``hot__mypyc``: its time is the build's.)"""
    if not (PACKAGE.parent / "pyproject.toml").exists():
        return []  # installed (a wheel's files carry no build order): not a checkout's build
    library = max((p.stat().st_mtime for p in PACKAGE.glob(f"{LIBRARY}.*.so")), default=None)
    if library is None:
        return []
    found = []
    for extension in sorted(PACKAGE.rglob("*.so")):
        source = extension.with_name(extension.name.split(".")[0] + ".py")
        if source.exists() and source.stat().st_mtime > library:
            found.append(str(source.relative_to(PACKAGE.parent)))
    return found


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
