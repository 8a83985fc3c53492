"""Stream mode: one-way bulk transfer, the iperf3 way.

TCP: each client writes ``payload``-sized messages as fast as the server reads
them (the server runs in ``sink`` mode and discards). UDP: each client sends at
its share of ``--rate``; the server counts what arrives and tells each client at
the end (``REPORT_REQUEST``), which gives goodput and loss without reply traffic.
There are no request/reply exchanges here: bytes inside the window are what counts.
"""

from __future__ import annotations

import socket
import time

import trio

from sockbench.core.sink_report import REPORT_REQUEST, decode_report
from sockbench.engine import sockio
from sockbench.engine.clients.context import ClientContext, connect_stream, open_counted
from sockbench.engine.error_kinds import error_kind
from sockbench.engine.timing import sleep_until_ns

REPORT_WAIT_S = 1.0
SETTLE_S = 0.2  # for the last datagrams to reach the server before asking its count


async def tcp_bulk(ctx: ClientContext) -> None:
    """Write as fast as the server reads; count bytes written inside the window."""
    recorder = ctx.recorder
    view = memoryview(ctx.request)
    size = len(ctx.request)
    sock = await connect_stream(ctx, ctx.gate)
    if sock is None:
        recorder.retire()
        return
    sent_in_window = 0
    try:
        await ctx.gate.go.wait()
        offset = 0
        while True:
            await trio.lowlevel.wait_writable(sock)
            try:
                n = sock.send(view[offset:] if offset else view)
            except BlockingIOError:
                continue
            now = time.monotonic_ns()
            if now >= recorder.measure_end_ns:
                break
            if recorder.measure_start_ns <= now:
                sent_in_window += n
                recorder.bytes_sent += n
            offset = (offset + n) % size
    except OSError as exc:
        recorder.error(error_kind(exc), time.monotonic_ns())
    finally:
        recorder.client_bytes[ctx.index] = sent_in_window
        recorder.requests = recorder.bytes_sent // size
        sockio.close(sock)
    recorder.retire()


async def udp_bulk(ctx: ClientContext) -> None:
    """Send on schedule; ask the server what arrived inside the window.

    When the window opens the client asks for a report and discards it, which
    resets its counters on the server: warm-up datagrams never count.
    """
    recorder = ctx.recorder
    schedule = ctx.schedule
    assert schedule is not None
    payload = ctx.request
    sock = open_counted(ctx)
    if sock is None:
        recorder.retire()
        return
    sent = sent_bytes = 0
    measuring = False
    try:
        await ctx.gate.go.wait()
        k = 0
        while True:
            due = recorder.start_ns + schedule.due(k)
            if due >= recorder.measure_end_ns:
                break
            if not measuring and due >= recorder.measure_start_ns:
                await _report(sock)
                measuring = True
            await sleep_until_ns(due)
            try:
                sock.send(payload)
                if measuring:
                    sent += 1
                    sent_bytes += len(payload)
            except BlockingIOError:
                recorder.error("send_buffer_full", time.monotonic_ns())
            except OSError as exc:
                recorder.error(error_kind(exc), time.monotonic_ns())
            k += 1
    finally:
        with trio.CancelScope(shield=True):
            if measuring:
                await trio.sleep(SETTLE_S)
                report = await _report(sock)
                recorder.client_bytes[ctx.index] = report[1] if report else 0
                recorder.add_stream_datagrams(sent, sent_bytes, report)
            sockio.close(sock)
    recorder.retire()


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
