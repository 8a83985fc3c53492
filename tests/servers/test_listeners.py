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
kind, where, how = sys.argv[1:4]
def bound(port=0, reuse=False):
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX)
        s.bind(where)
        s.listen()
        return s
    s = socket.socket(type=socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    if kind == "tcp":
        s.listen()
    return s
child = -1
if how == "reuse":  # two workers, a socket each on one port; this process holds none
    free = bound()
    port = free.getsockname()[1]
    free.close()
    for _ in range(2):
        child = os.fork()
        if child == 0:
            s = bound(port, reuse=True)
            time.sleep(60)
            sys.exit()
    time.sleep(0.5)  # both bound
else:
    s = bound()
    port = s.getsockname()[1] if kind != "unix" else 0
    if how == "fork":
        child = os.fork()
if child != 0:
    print("READY", port, child, flush=True)
time.sleep(60)
"""

Holder = Callable[..., tuple[int, int, int]]


@pytest.fixture
def holder() -> Iterator[Holder]:
    procs: list[subprocess.Popen[str]] = []

    def start(kind: str, where: str = "-", how: str = "-") -> tuple[int, int, int]:
        """(its pid, its port, its (last) child's pid or -1); ``how``: ``fork`` (its child
        shares its socket) or ``reuse`` (two children, a socket each)."""
        argv = [sys.executable, "-c", HOLDER, kind, where, how]
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
    pid, port, child = holder("tcp", how="fork")
    assert child > 0 and psutil.Process(child).ppid() == pid
    assert target_process(Endpoint(Proto.TCP, "127.0.0.1", port)) == pid


def test_reuseport_workers_are_found_through_their_parent(holder: Holder) -> None:
    """Each worker listens on a socket of its own (SO_REUSEPORT), the parent on none."""
    pid, port, _ = holder("tcp", how="reuse")
    assert len(psutil.Process(pid).children()) == 2
    assert target_process(Endpoint(Proto.TCP, "127.0.0.1", port)) == pid
    assert target_process(Endpoint(Proto.TCP, "127.0.0.2", port)) is None  # another address


def test_a_target_served_in_this_process_is_not_sampled() -> None:
    """Its CPU is the generator's own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert target_process(Endpoint(Proto.TCP, "127.0.0.1", port)) is None
    assert target_process(Endpoint(Proto.TCP, "127.0.0.1", port)) is None  # nothing there
