"""``--mode stream --reverse`` and ``--bidir`` (iperf3's -R and --bidir; issue 30, item 1)
against the built-in source: the rows add up to the receiver's total exactly, and the
source's own count of what it sent is exactly what the clients read before, inside and
after the window over TCP (``assert_reverse_accounted``, run on every run), or that plus
what was lost over UDP."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import ROOT, stop_process
from tests.support.processes import stopped
from tests.support.runs import run_engine

pytestmark = pytest.mark.e2e  # real processes and sockets

WINDOW = dict(duration_s=0.5, warmup_s=0.0, interval_s=0.25)


def test_tcp_reverse_reads_the_sources_stream_exactly() -> None:
    result: dict[str, Any] = run_engine(mode="stream", reverse=True, clients=2, **WINDOW).result
    assert result["status"] == "completed" and result["totals"]["errors"] == {}
    reverse = result["stream"]["reverse"]
    assert reverse["streams_reported"] == 2 and reverse["lost_bytes"] == 0
    rows = result["intervals"]
    # The rows add up exactly to what was read in the window (a loaded machine may stall
    # a whole 0.25 s row, so no row is asked to have read on its own).
    assert sum(row["read_bytes"] for row in rows) == reverse["receiver"]["bytes"] > 0
    assert all(row["sent_bytes"] == 0 for row in rows)
    assert result["stream"]["sender"]["bytes"] == 0  # the clients sent nothing
    # iperf3's lines: the server's send, and the clients' reads (no TX-C of theirs).
    assert result["config"]["direction"] == result["stream"]["direction"] == "reverse"


def test_tcp_bidir_moves_both_ways_on_each_connection_and_both_add_up() -> None:
    result: dict[str, Any] = run_engine(mode="stream", bidir=True, clients=2, **WINDOW).result
    assert result["status"] == "completed" and result["totals"]["errors"] == {}
    stream = result["stream"]
    assert stream["reverse"]["lost_bytes"] == 0
    # The sink's count of what the clients sent is exact too: TCP drops nothing.
    assert stream["receiver"]["bytes"] == stream["sender"]["bytes"] > 0
    # Both ways add up exactly over the rows (no row alone is asked to have moved bytes: a
    # loaded machine may stall a whole 0.25 s row; one did in a fresh clone's make test).
    rows = result["intervals"]
    assert sum(row["sent_bytes"] for row in rows) == stream["sender"]["bytes"]
    assert sum(row["read_bytes"] for row in rows) == stream["reverse"]["receiver"]["bytes"] > 0


def test_udp_reverse_paces_the_flow_and_counts_what_was_lost() -> None:
    # 2,000 datagrams/s of 512 bytes over two clients: a flow of 1,000/s each.
    result: dict[str, Any] = run_engine(
        mode="stream", proto="udp", reverse=True, clients=2, bitrate=2000 * 512 * 8.0,
        payload=512, **WINDOW,
    ).result  # fmt: skip
    reverse = result["stream"]["reverse"]
    assert reverse["streams_reported"] == 2 and result["datagrams"] is None
    # Whole datagrams, each at most once; the window's ~1,000 read, loosely (loaded box).
    moved = reverse["before_bytes"] + reverse["receiver"]["bytes"] + reverse["after_bytes"]
    assert moved % 512 == 0 and reverse["server_sent_bytes"] % 512 == 0
    assert 500 * 512 <= reverse["receiver"]["bytes"] <= 1100 * 512
    assert all(row["read_bytes"] % 512 == 0 for row in result["intervals"])


def test_an_external_stream_target_leaves_the_servers_count_unknown() -> None:
    with _writing_server() as port:
        result: dict[str, Any] = run_engine(
            mode="stream", reverse=True, clients=1, target=f"tcp://127.0.0.1:{port}",
            server_model=None, drain_s=0.2, **WINDOW,
        ).result  # fmt: skip
    reverse = result["stream"]["reverse"]
    assert reverse["receiver"]["bytes"] > 0
    assert reverse["server_sent_bytes"] is None and reverse["streams_reported"] == 0


@contextlib.contextmanager
def _writing_server() -> Iterator[int]:
    """A tiny external target, ``yes``-like: each connection gets ``x`` bytes until it goes
    away; it never reports (loopback, port 0; its threads end with their sockets)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def write(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while True:
                conn.sendall(b"x" * 65536)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=write, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        listener.close()
        acceptor.join(timeout=5)


def _udp_drops(pid: int) -> int:
    """What the kernel dropped at ``pid``'s connected UDP sockets (/proc/net/udp)."""
    ports = {f"{c.laddr.port:04X}" for c in psutil.Process(pid).net_connections("udp") if c.raddr}
    with open("/proc/net/udp") as table:
        rows = [line.split() for line in table][1:]
    return sum(int(row[-1]) for row in rows if row[1].split(":")[1] in ports)


def test_udp_reverse_loss_the_generators_own_sockets_dropped_is_named(tmp_path: Path) -> None:
    """The generator stopped (SIGSTOP) while the source's flow comes: its socket keeps
    what fits and the kernel drops the rest. On loopback that is all the loss there is,
    so lost_bytes is exactly those datagrams, counted as the generator's, and the run is
    not valid for them."""
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sockbench", "run", "--mode", "stream", "--proto", "udp",
         "--reverse", "--clients", "1", "--rate", "20000", "--payload", "64", "-d", "1",
         "--warmup", "0.2", "--interval", "0.25", "--json", str(out), "--out", ""],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        next(line for line in proc.stdout if "measuring" in line)
        with stopped(proc):
            deadline = time.monotonic() + 30
            while not _udp_drops(proc.pid):  # the kernel's count: the event waited on
                assert time.monotonic() < deadline, "no datagram was dropped while stopped"
                time.sleep(0.005)
        _, stderr = proc.communicate(timeout=60)
    finally:
        stop_process(proc)
    result = json.loads(out.read_text())
    reverse = result["stream"]["reverse"]
    assert reverse["generator_drops"] > 0, stderr
    assert reverse["lost_bytes"] == 64 * reverse["generator_drops"]
    assert [r["test"] for r in result["validity"]["reasons"]].count("drops") == 1
