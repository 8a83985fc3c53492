"""Which process serves a target (servers/listeners.py): found from the kernel's socket
tables, for each transport; a prefork server's master rather than its workers; never
this process; nothing where nothing listens."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from sockbench.endpoints import Endpoint, Proto
from sockbench.servers.listeners import describe, target_process
from tests.conftest import start_ready_process, stop_process

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

# Binds what it is told, forks once if asked (both then hold the socket, as a prefork
# server's master and workers do), says READY with the port and the child's pid, and
# waits to be stopped.
HOLDER = """
import os, socket, sys, time
kind, where, fork = sys.argv[1], sys.argv[2], sys.argv[3] == "fork"
if kind == "unix":
    s = socket.socket(socket.AF_UNIX)
    s.bind(where)
    s.listen()
else:
    s = socket.socket(type=socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    if kind == "tcp":
        s.listen()
child = os.fork() if fork else -1
if child != 0:
    print("READY", s.getsockname()[1] if kind != "unix" else 0, child, flush=True)
time.sleep(60)
"""

Holder = Callable[..., tuple[int, int, int]]


@pytest.fixture
def holder() -> Iterator[Holder]:
    procs: list[subprocess.Popen[str]] = []

    def start(kind: str, where: str = "-", fork: bool = False) -> tuple[int, int, int]:
        """(its pid, its port, its child's pid or -1)."""
        argv = [sys.executable, "-c", HOLDER, kind, where, "fork" if fork else "-"]
        proc, said = start_ready_process(argv)
        procs.append(proc)
        port, child = said.split()
        return proc.pid, int(port), int(child)

    yield start
    for proc in procs:
        for child in psutil.Process(proc.pid).children():
            child.kill()
        stop_process(proc)


@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UDP, Proto.UNIX], ids=lambda p: p.value)
def test_the_process_holding_the_targets_socket_is_found(
    holder: Holder, proto: Proto, tmp_path: Path
) -> None:
    path = str(tmp_path / "s")
    pid, port, _ = holder("unix" if proto is Proto.UNIX else proto.value, path)
    endpoint = Endpoint(proto, "127.0.0.1", port, path if proto is Proto.UNIX else "")
    assert target_process(endpoint) == pid
    assert describe(pid) == f"{psutil.Process(pid).name()} (pid {pid})"


def test_a_prefork_servers_master_is_found_not_a_worker(holder: Holder) -> None:
    pid, port, child = holder("tcp", fork=True)
    assert child > 0 and psutil.Process(child).ppid() == pid
    assert target_process(Endpoint(Proto.TCP, "127.0.0.1", port)) == pid


def test_a_target_served_in_this_process_is_not_sampled() -> None:
    """Its CPU is the generator's own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert target_process(Endpoint(Proto.TCP, "127.0.0.1", port)) is None
    assert target_process(Endpoint(Proto.TCP, "127.0.0.1", port)) is None  # nothing there
