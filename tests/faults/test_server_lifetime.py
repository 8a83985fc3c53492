"""A ``--server-cmd`` server lives no longer than the run that started it: SIGKILL of
``run`` or ``compare`` while it starts or while it serves takes it (and a child that
left its process group) along, and a signal while it starts stops the wait at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.support.line_process import WAIT_S

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it

SERVER = Path(__file__).with_name("stubborn_server.py")
GONE_S = 15.0  # the guard's SIGTERM grace (2 s) then SIGKILL, on a loaded machine


def _events(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def _wait_for(path: Path, ready: Callable[[list[str]], bool], timeout: float = WAIT_S) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = _events(path)
        if ready(lines):
            return lines
        time.sleep(0.05)  # polling an observable file, not a wait for time to pass
    raise AssertionError(f"the server never got there; it said {_events(path)}")


def _pids(lines: list[str]) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.startswith("pid ")]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(pids: list[int], timeout: float = GONE_S) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if _alive(pid)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def _start(command: str, events: Path, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    template = f"{sys.executable} {SERVER} {{port}} {events} {' '.join(extra)}".strip()
    if command == "run":
        args = ["run", "--server-cmd", template, "--out", ""]
    else:
        args = ["compare", "--server-cmd", f"stubborn={template}", "--proto", "tcp",
                "--out", str(tmp_path / "cmp")]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "sockbench", *args, "--quiet", "--clients", "2",
         "--duration", "60", "--warmup", "0", "--ready-timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _cleanup(proc: subprocess.Popen[str], events: Path) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    for pid in _pids(_events(events)):
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("when", ["starting", "serving"])
def test_sigkill_takes_the_server_along(command: str, when: str, tmp_path: Path) -> None:
    events = tmp_path / "events"
    proc = _start(command, events, tmp_path, *(["never"] if when == "starting" else []))
    try:
        if when == "starting":  # both pids written: the run waits for it to serve
            lines = _wait_for(events, lambda ls: len(_pids(ls)) == 2)
        else:  # the clients connected: the run is measuring
            lines = _wait_for(events, lambda ls: len(_pids(ls)) == 2 and "conn" in ls)
        os.kill(proc.pid, signal.SIGKILL)  # the run alone, not its process group
        assert _wait_gone(_pids(lines)) == []
    finally:
        _cleanup(proc, events)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_wait_for_a_server_that_never_serves(
    sig: signal.Signals, tmp_path: Path
) -> None:
    events = tmp_path / "events"
    proc = _start("run", events, tmp_path, "never")
    try:
        lines = _wait_for(events, lambda ls: len(_pids(ls)) == 2)
        os.killpg(proc.pid, sig)  # as a terminal's Ctrl-C reaches the run's group
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 128 + sig, stderr
        [line] = stderr.strip().splitlines()
        assert line.startswith(f"sockbench: error: interrupted ({sig.name}) while waiting for")
        assert line.endswith("to serve; it was stopped"), line
        # The run stopped its server before it exited: nothing is left to a guard.
        assert [pid for pid in _pids(lines) if _alive(pid)] == []
    finally:
        _cleanup(proc, events)
