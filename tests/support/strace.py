"""Counting a server's syscalls on its echo path with ``strace -c`` (tests and benchmarks).

The server runs as ``sockbench run`` embeds it (the launcher's child). The
connections open and exchange a first round before strace attaches, so thread
stacks and per-connection buffers are not counted: only the steady echo path.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psutil

from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint, Proto
from sockbench.servers.launcher import open_server

PAYLOAD = b"x" * 64
CONNECTIONS = 8
SOCKET_TIMEOUT_S = 5.0
STRACE_WAIT_S = 30.0
SEND_CALLS = ("sendto", "sendmsg", "write", "writev")


class StraceUnavailable(Exception):
    """strace is missing, or may not trace processes here (ptrace restricted)."""


def echo_syscalls(model: str, bind: Endpoint, requests: int) -> dict[str, int]:
    """``{syscall: calls}`` the server ``model`` makes for ``requests`` 64-byte echoes."""
    if shutil.which("strace") is None:
        raise StraceUnavailable("strace is not installed")
    proto = bind.proto
    with ExitStack() as stack:
        server = stack.enter_context(open_server(BuiltIn(model, processes=1), bind))
        kind = socket.SOCK_STREAM if proto.is_stream else socket.SOCK_DGRAM
        conns = [stack.enter_context(socket.socket(bind.family, kind)) for _ in range(CONNECTIONS)]
        for conn in conns:
            conn.settimeout(SOCKET_TIMEOUT_S)
            conn.connect(server.endpoint.sockaddr)
        _echo_round(conns, proto)  # every connection accepted and served once
        tree = psutil.Process(server.pid)
        pids = [tree.pid, *(child.pid for child in tree.children(recursive=True))]
        with _counted(pids) as counts:
            for _ in range(max(1, requests // CONNECTIONS)):
                _echo_round(conns, proto)
    return counts


def sends(counts: dict[str, int]) -> int:
    return sum(counts.get(name, 0) for name in SEND_CALLS)


def parse_summary(text: str) -> dict[str, int]:
    """``{syscall: calls}`` from the table ``strace -c`` writes."""
    counts = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            counts[fields[-1]] = int(fields[3])
    return counts


@contextmanager
def _counted(pids: list[int]) -> Iterator[dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "strace.txt"
        argv = ["strace", "-c", "-f", "-o", str(out)]
        for pid in pids:
            argv += ["-p", str(pid)]
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
        counts: dict[str, int] = {}
        try:
            _await_attached(proc, len(pids))
            yield counts
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(STRACE_WAIT_S)
        counts.update(parse_summary(out.read_text()))


def _await_attached(proc: subprocess.Popen[str], count: int) -> None:
    """Return once strace has reported attaching to each of ``count`` processes."""
    assert proc.stderr is not None
    attached: set[str] = set()
    while len(attached) < count:
        line = proc.stderr.readline()
        if not line or "Operation not permitted" in line:
            raise StraceUnavailable(f"strace cannot attach here: {line.strip() or 'it exited'}")
        if "attached" in line:
            attached.add(line.split()[2])


def _echo_round(conns: list[socket.socket], proto: Proto) -> None:
    for conn in conns:
        conn.sendall(PAYLOAD)
    for conn in conns:
        got = b""
        while len(got) < len(PAYLOAD):
            chunk = conn.recv(len(PAYLOAD) - len(got))
            if not chunk and proto.is_stream:
                raise ConnectionError("the server closed the connection")
            got += chunk
        if got != PAYLOAD:
            raise AssertionError(f"echo mismatch: {got!r}")
