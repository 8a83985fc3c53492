"""Fixtures shared by every test folder: real processes, cleaned up; and the test tiers
(unit, e2e, slow: tests/support/tiers.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The tiers: every test is unit, e2e or slow, and a unit test cannot open a socket or
# start a process. pytester: tests/test_tiers.py runs small test sessions to show it.
pytest_plugins = ["tests.support.tiers", "pytester"]


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
    # A developer's SOCKBENCH_CLIENTS (core/spec/scenario.py) would reach every run a test
    # starts; SOCKBENCH_UPDATE_GOLDEN is the tests' own.
    for name in [n for n in os.environ if n.startswith("SOCKBENCH_")]:
        if name != "SOCKBENCH_UPDATE_GOLDEN":
            monkeypatch.delenv(name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_answer(port: int, request: bytes, reply: bytes, what: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                if sock.recv(64).startswith(reply):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer in 10 s")
        time.sleep(0.05)


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    """A private redis-server (no persistence) on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make system-deps installs it)")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_answer(port, b"PING\r\n", b"+PONG\r\n", "redis-server")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def memcached_port() -> Iterator[int]:
    """A private memcached (TCP only, one thread) on a free loopback port."""
    binary = shutil.which("memcached")
    if binary is None:
        pytest.skip("memcached is not installed (make system-deps installs it)")
    port = _free_port()
    argv = [binary, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-t", "1", "-m", "64"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]  # memcached refuses to run as root
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_answer(port, b"version\r\n", b"VERSION ", "memcached")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
