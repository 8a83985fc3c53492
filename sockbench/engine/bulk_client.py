"""Stream mode: one-way bulk transfer, the iperf3 way.

TCP: each client writes ``payload``-sized messages as fast as the server reads
them (the server runs in ``sink`` mode and discards). UDP: each client sends at
its share of ``--rate``; the server counts what arrives and tells each client at
the end (``REPORT_REQUEST``), which gives goodput and loss without reply traffic.
"""

from __future__ import annotations

import socket
import time

import trio

from sockbench.core.schedule import ClientSchedule
from sockbench.endpoints import Endpoint
from sockbench.engine import sockio
from sockbench.engine.datagram_client import open_counted
from sockbench.engine.error_kinds import error_kind
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats
from sockbench.engine.stream_client import connect_with_retry
from sockbench.engine.timing import sleep_until_ns
from sockbench.servers.behaviour import REPORT_REQUEST, decode_report

REPORT_WAIT_S = 1.0
DRAIN_S = 0.2


async def tcp_bulk_client(
    index: int,
    endpoint: Endpoint,
    payload: bytes,
    stats: LiveStats,
    gate: StartGate,
    limiter: trio.CapacityLimiter,
    source: str | None = None,
) -> None:
    """Write as fast as the server reads; count bytes written inside the window."""
    view = memoryview(payload)
    size = len(payload)
    sock = await connect_with_retry(endpoint, stats, gate, limiter, source)
    sent_in_window = 0
    try:
        await gate.go.wait()
        offset = 0
        while True:
            await trio.lowlevel.wait_writable(sock)
            try:
                n = sock.send(view[offset:] if offset else view)
            except BlockingIOError:
                continue
            now = time.monotonic_ns()
            if stats.measure_start_ns <= now < stats.measure_end_ns:
                sent_in_window += n
                stats.bytes_sent += n
            offset = (offset + n) % size
    except OSError as exc:
        stats.error(error_kind(exc))
    finally:
        stats.client_bytes[index] = sent_in_window
        stats.requests = stats.bytes_sent // size
        sockio.close(sock)


async def udp_bulk_client(
    index: int,
    endpoint: Endpoint,
    payload: bytes,
    schedule: ClientSchedule,
    stats: LiveStats,
    gate: StartGate,
    reply_dir: str | None,
    source: str | None = None,
) -> None:
    """Send on schedule; ask the server what arrived inside the window.

    When the window opens the client asks for a report and discards it, which
    resets its counters on the server: warm-up datagrams never count.
    """
    sock = open_counted(endpoint, reply_dir, source, stats, gate)
    if sock is None:
        return
    sent = sent_bytes = 0
    measuring = False
    try:
        await gate.go.wait()
        k = 0
        while True:
            due = stats.start_ns + schedule.due(k)
            if due >= stats.measure_end_ns:
                break
            if not measuring and due >= stats.measure_start_ns:
                await _report(sock)
                measuring = True
            await sleep_until_ns(due)
            try:
                sock.send(payload)
                if measuring:
                    sent += 1
                    sent_bytes += len(payload)
            except BlockingIOError:
                stats.error("send_buffer_full")
            except OSError as exc:
                stats.error(error_kind(exc))
            k += 1
        await trio.sleep_forever()
    finally:
        with trio.CancelScope(shield=True):
            report = None
            if measuring:
                await trio.sleep(DRAIN_S)
                report = await _report(sock)
                stats.client_bytes[index] = report[1] if report else 0
                stats.add_stream_datagrams(sent, sent_bytes, report)
            sockio.close(sock)


async def _report(sock: socket.socket) -> tuple[int, int] | None:
    """Ask the sink for this socket's (count, bytes) since the last ask."""
    buf = bytearray(256)
    with trio.move_on_after(REPORT_WAIT_S):
        sock.send(REPORT_REQUEST)
        while True:
            await trio.lowlevel.wait_readable(sock)
            try:
                n = sock.recv_into(buf)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            report = decode_report(bytes(buf[:n]))
            if report is not None:
                return report
    return None
