"""The tiers hold: a unit test that opens a socket or starts a process fails, and a test
with no tier does not run (tests/support/tiers.py)."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys

import pytest
import trio

from tests.support.tiers import Guard, UnitTierViolation

pytestmark = pytest.mark.unit


def _refused(guard: Guard | None, call: object, *args: object) -> str:
    """What the guard said it refused when ``call(*args)`` was made."""
    assert guard is not None
    with pytest.raises(UnitTierViolation, match="a unit test may not"):
        call(*args)  # type: ignore[operator]
    refused = guard.attempts.pop()
    assert guard.attempts == []  # so this test itself passes its teardown check
    return refused


def test_a_unit_test_cannot_open_connect_or_bind_a_socket(unit_guard: Guard | None) -> None:
    assert _refused(unit_guard, socket.socket) == "open a socket"
    assert _refused(unit_guard, socket.socket, socket.AF_INET, socket.SOCK_DGRAM) == (
        "open a socket"
    )
    assert _refused(unit_guard, socket.create_connection, ("127.0.0.1", 9)) == "open a connection"
    assert _refused(unit_guard, socket.create_server, ("127.0.0.1", 0)) == "open a server socket"
    a, b = socket.socketpair()  # what trio and asyncio wake themselves with: allowed
    with a, b:
        assert _refused(unit_guard, a.connect, "/nonexistent") == "connect a socket"
        assert _refused(unit_guard, a.bind, "") == "bind a socket"


def test_trio_runs_but_cannot_open_a_tcp_stream(unit_guard: Guard | None) -> None:
    async def main() -> None:
        await trio.open_tcp_stream("127.0.0.1", 9)

    assert unit_guard is not None
    with pytest.raises(BaseExceptionGroup) as caught:  # from open_tcp_stream's nursery
        trio.run(main)
    assert caught.value.subgroup(UnitTierViolation) is not None
    assert set(unit_guard.attempts) == {"open a socket"}
    unit_guard.attempts.clear()


def test_a_unit_test_cannot_start_a_process(unit_guard: Guard | None) -> None:
    assert _refused(unit_guard, subprocess.run, [sys.executable, "-c", ""]) == "start a process"
    assert _refused(unit_guard, subprocess.Popen, ["true"]) == "start a process"
    assert _refused(unit_guard, os.fork) == "start a process"
    assert _refused(unit_guard, os.system, "true") == "start a process"
    assert _refused(unit_guard, os.posix_spawn, "/bin/true", ["true"], {}) == "start a process"
    process = multiprocessing.get_context("spawn").Process(target=print)
    assert _refused(unit_guard, process.start) == "start a process"


def _session(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makeconftest('pytest_plugins = ["tests.support.tiers"]')
    pytester.makepyfile(test_inner=body)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")


def test_a_unit_test_that_opens_a_socket_fails_even_if_it_swallows_the_error(
    pytester: pytest.Pytester,
) -> None:
    result = _session(
        pytester,
        """
import contextlib, socket, pytest

pytestmark = pytest.mark.unit

def test_swallows():
    with contextlib.suppress(BaseException):
        socket.create_connection(("127.0.0.1", 9))

def test_pure():
    assert 1 + 1 == 2
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*a unit test tried to open a connection: mark it e2e*"])


def test_an_e2e_test_is_not_guarded(pytester: pytest.Pytester) -> None:
    result = _session(
        pytester,
        """
import pytest

@pytest.mark.e2e
def test_reaches_out(unit_guard):
    assert unit_guard is None
""",
    )
    result.assert_outcomes(passed=1)


def test_a_test_with_no_tier_or_two_does_not_run(pytester: pytest.Pytester) -> None:
    result = _session(pytester, TWO_WRONG)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*a test is in one tier (tests/support/tiers.py):",
            "*test_inner.py::test_untiered names no tier: mark it unit, e2e or slow*",
            "*test_inner.py::test_both is unit and another tier (e2e, unit)",
        ]
    )


def test_under_xdist_a_test_with_no_tier_or_two_fails_saying_so(pytester: pytest.Pytester) -> None:
    """An xdist worker's usage error reaches no one: there the tests fail at setup."""
    pytester.makeconftest(
        """
import pytest

pytest_plugins = ["tests.support.tiers"]

@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.workerinput = {}  # as an xdist worker's config has
"""
    )
    pytester.makepyfile(test_inner=TWO_WRONG)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_untiered*",
            "this test names no tier: mark it unit, e2e or slow*",
            "*ERROR at setup of test_both*",
            "this test is unit and another tier (e2e, unit)*",
        ]
    )


TWO_WRONG = """
import pytest

def test_untiered():
    pass

@pytest.mark.unit
@pytest.mark.e2e
def test_both():
    pass
"""
