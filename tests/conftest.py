"""Fixtures shared by every test folder: real processes, cleaned up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def start_ready_process(
    args: list[str], timeout: float = 10.0
) -> tuple[subprocess.Popen[str], str]:
    """Start a process that prints ``READY <something>`` and return it with <something>."""
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            raise RuntimeError(f"{args} did not become ready in {timeout} s")
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(
            f"{args} said {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        )
    return proc, line.split(" ", 1)[1]


def stop_process(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


@pytest.fixture
def faulty_server() -> Iterator[Callable[..., str]]:
    """Start ``tests/support/faulty_server.py`` with the given options; returns its port
    (its socket path for unix-dgram)."""
    procs: list[subprocess.Popen[str]] = []

    def start(*options: str) -> str:
        proc, address = start_ready_process(
            [sys.executable, "-m", "tests.support.faulty_server", *options]
        )
        procs.append(proc)
        return address

    yield start
    for proc in procs:
        stop_process(proc)


@pytest.fixture
def sockbench_cmd() -> list[str]:
    return [sys.executable, "-m", "sockbench"]


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    os.environ.pop("COLUMNS", None)
