"""The test tiers, as a pytest plugin (``tests/conftest.py`` loads it).

Every test is in a tier, chosen by a marker, never by the absence of one:

- ``unit``: pure, no process, socket or browser; ``make unit`` runs ``-m unit``.
- ``e2e``: real processes, sockets, files or a browser.
- ``slow``: pure, but seconds each (whole reports with charts).

A test takes its tier from a marker (``pytestmark`` in its module, a decorator, or a
``pytest.param``'s marks); a test that names none is ``unit`` if it lives in a folder of
:data:`UNIT_FOLDERS` (pure by design: docs/design.md), and fails collection anywhere
else. ``unit`` with another tier fails too (``e2e`` with ``slow`` is allowed: both are
outside ``make unit``).

``make test`` runs every test but the ``solo`` ones on 4 processes (pytest-xdist), then the
``solo`` ones alone: tests that take the machine, time something a test beside them would
disturb, or share something machine-wide. A folder of :data:`SOLO_FOLDERS` is ``solo`` whole;
elsewhere a test says so (``pytest.mark.solo``).

A unit test cannot reach out: while it runs, opening a socket (other than a socketpair,
which trio and asyncio make for their own wake-ups), connecting, binding, or starting a
process (``subprocess``, ``os.fork``, ``os.posix_spawn``, multiprocessing) raises
:class:`UnitTierViolation`, and the test fails even if the code under test swallowed it.
"""

from __future__ import annotations

import _posixsubprocess  # type: ignore[import-not-found]
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TIERS = ("unit", "e2e", "slow")
TESTS = Path(__file__).resolve().parents[1]
#: Folders under tests/ whose tests are ``unit`` unless they mark another tier.
UNIT_FOLDERS = ("core", "report", "compare")
#: Folders whose tests run alone, after the parallel part (``solo``): tests/cluster starts a
#: Ray cluster of three nodes per module and counts (and kills) Ray's actors machine-wide.
SOLO_FOLDERS = ("cluster",)


class UnitTierViolation(BaseException):
    """A unit test tried to open a socket or start a process.

    A BaseException, so that ``except OSError``/``except Exception`` in the code under test
    does not hide it (the test fails at teardown anyway)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: pure and fast: no process, socket or browser")
    config.addinivalue_line("markers", "e2e: real processes, sockets, files or a browser")
    config.addinivalue_line("markers", "slow: pure but seconds each (whole reports with charts)")
    config.addinivalue_line("markers", "solo: runs alone, not beside other tests (make test)")


def _folder(path: Path) -> str | None:
    """The folder under tests/ that holds ``path`` (None: elsewhere, or tests/ itself)."""
    try:
        parts = path.resolve().relative_to(TESTS).parts
    except ValueError:
        return None
    return parts[0] if len(parts) > 1 else None


UNTIERED = "names no tier: mark it unit, e2e or slow (pytestmark = pytest.mark.unit, ...)"
_PROBLEM = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)  # first: -m deselects by the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems = []
    for item in items:
        folder = _folder(item.path)
        if folder in SOLO_FOLDERS:
            item.add_marker(pytest.mark.solo)
        tiers = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
        problem = None
        if not tiers:
            if folder in UNIT_FOLDERS:
                item.add_marker(pytest.mark.unit)
            else:
                problem = UNTIERED
        elif "unit" in tiers and len(tiers) > 1:
            problem = f"is unit and another tier ({', '.join(sorted(tiers))})"
        if problem is not None:
            item.stash[_PROBLEM] = problem
            problems.append(f"{item.nodeid} {problem}")
    # An xdist worker's usage error never reaches the terminal: there, setup fails the test.
    if problems and not hasattr(config, "workerinput"):
        raise pytest.UsageError(
            "a test is in one tier (tests/support/tiers.py):\n  " + "\n  ".join(problems)
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under xdist, a test with no tier (or two) fails here, saying so."""
    if _PROBLEM in item.stash:
        pytest.fail(f"this test {item.stash[_PROBLEM]}: see tests/support/tiers.py", pytrace=False)


class Guard:
    """What a unit test tried to reach; :meth:`forbid` is what the patched calls do."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def forbid(self, what: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            self.attempts.append(what)
            raise UnitTierViolation(
                f"a unit test may not {what}: mark the test e2e (see tests/support/tiers.py)"
            )

        return refuse


def _install(guard: Guard, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = guard.forbid("open a socket")
    original_init = socket.socket.__init__

    def socket_init(
        self: socket.socket, family: Any = -1, type: Any = -1, proto: Any = -1, fileno: Any = None
    ) -> None:
        if fileno is None:  # socketpair() and fromfd() wrap descriptors that exist already
            opened()
        original_init(self, family, type, proto, fileno)

    monkeypatch.setattr(socket.socket, "__init__", socket_init)
    for name, what in [
        ("connect", "connect a socket"),
        ("connect_ex", "connect a socket"),
        ("bind", "bind a socket"),
    ]:
        monkeypatch.setattr(socket.socket, name, guard.forbid(what))
    monkeypatch.setattr(socket, "create_connection", guard.forbid("open a connection"))
    monkeypatch.setattr(socket, "create_server", guard.forbid("open a server socket"))
    spawn = guard.forbid("start a process")
    # Popen's one way to a child, whatever imported it (trio, asyncio, os.popen, run).
    monkeypatch.setattr(subprocess.Popen, "_execute_child", spawn)
    monkeypatch.setattr(_posixsubprocess, "fork_exec", spawn)  # multiprocessing's spawn
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, spawn)


@pytest.fixture(autouse=True)
def unit_guard(request: pytest.FixtureRequest) -> Iterator[Guard | None]:
    """For a unit test, the guard (its ``attempts`` say what was refused); else None."""
    if request.node.get_closest_marker("unit") is None:
        yield None
        return
    guard = Guard()
    with pytest.MonkeyPatch.context() as monkeypatch:
        _install(guard, monkeypatch)
        yield guard
    if guard.attempts:
        pytest.fail(
            f"a unit test tried to {', '.join(dict.fromkeys(guard.attempts))}: "
            "mark it e2e (see tests/support/tiers.py)",
            pytrace=False,
        )
