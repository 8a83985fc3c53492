"""Fault injection with real processes: a target that reports its events, a sockbench
run in its own process group, and waits on what they observably do, never on sleeps."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.line_process import WAIT_S, LineProcess
from tests.support.processes import command_line
from tests.support.schema import validate_result


class Target(LineProcess):
    """``tests/support/probe_server.py`` in its own session; its event lines, as they come."""

    def __init__(self, *options: str) -> None:
        super().__init__("tests.support.probe_server", *options)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        self.proc.wait()


class Run:
    """``sockbench run ARGS`` as the leader of its own process group (as a shell job is)."""

    def __init__(self, cmd: list[str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [*cmd, "run", "--quiet", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        self.stdout = self.stderr = ""

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def workers(self, n: int, timeout: float = WAIT_S) -> list[psutil.Process]:
        """The worker processes, once ``n`` of them have started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            children = psutil.Process(self.proc.pid).children()
            found = [c for c in children if "spawn_main" in command_line(c)]
            if len(found) >= n:
                return found
            time.sleep(0.05)  # polling an observable state, not a wait for time to pass
        raise AssertionError(f"{n} workers never started")

    def server(self, timeout: float = WAIT_S) -> psutil.Process:
        """The embedded server child, once it is there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for child in psutil.Process(self.proc.pid).children():
                if "sockbench.servers" in command_line(child):
                    return child
            time.sleep(0.05)
        raise AssertionError("the embedded server never started")

    def finish(self, timeout: float = 120) -> int:
        self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
        assert "Traceback" not in self.stderr, self.stderr
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.signal_group(signal.SIGKILL)
            self.proc.communicate()


def load_result(path: Path) -> dict[str, Any]:
    return validate_result(json.loads(path.read_text()))


@pytest.fixture
def target() -> Iterator[Callable[..., Target]]:
    started: list[Target] = []

    def start(*options: str) -> Target:
        started.append(Target(*options))
        return started[-1]

    yield start
    for t in started:
        t.stop()


@pytest.fixture
def sockbench(sockbench_cmd: list[str]) -> Iterator[Callable[..., Run]]:
    started: list[Run] = []

    def start(*args: str) -> Run:
        started.append(Run(sockbench_cmd, *args))
        return started[-1]

    yield start
    for run in started:
        run.kill()
