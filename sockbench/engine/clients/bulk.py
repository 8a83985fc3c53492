"""Stream mode: one-way bulk transfer, the iperf3 way.

TCP and Unix streams: each client writes as fast as the server reads (the server
runs in ``sink`` mode and discards). At the window's end it half-closes; the
sink answers with what it read on that connection (:mod:`sockbench.core.sink_report`),
which gives the receiver line exactly: after the half-close no byte is left in a
socket buffer. UDP: each client sends at its share of ``--rate``; the server
counts what arrives and tells each client at the end (``REPORT_REQUEST``), which
gives goodput and loss without reply traffic. There are no request/reply
exchanges here: bytes inside the window are what counts.

The stream writer's cost per call is Python's, not the kernel's, so it writes
:data:`WRITE_SIZE` bytes per call (whole ``--payload`` messages from one
preallocated buffer, through a memoryview) and only waits for the socket when
the kernel refused a write, never before each one. See docs/performance.md,
"Streams", for what was measured against what.
"""

from __future__ import annotations

import socket
import struct
import time
from functools import partial

import trio

from sockbench.core.sink_report import REPORT_MAX, REPORT_REQUEST, decode_report, window_received
from sockbench.engine.clients.context import ClientContext, connect_stream, open_counted, trio_time
from sockbench.engine.io import sockio
from sockbench.engine.io.error_kinds import error_kind
from sockbench.engine.io.timing import sleep_until_ns
from sockbench.engine.io.tls import TlsSocket, half_close, wait_readable

REPORT_WAIT_S = 1.0
ACK_POLL_S = 0.1  # how often a report's wait looks at what the peer acknowledged
# Linux's struct tcp_info: __u64 tcpi_bytes_acked at byte 120 (since 4.1).
_TCP_INFO = getattr(socket, "TCP_INFO", 11)
_BYTES_ACKED = struct.Struct("=Q")
_BYTES_ACKED_AT = 120
_TCP_INFO_LEN = _BYTES_ACKED_AT + _BYTES_ACKED.size
SETTLE_S = 0.2  # for the last datagrams to reach the server before asking its count
WRITE_SIZE = 1024 * 1024
WRITES_PER_CHECKPOINT = 16  # let the worker's other tasks run while the kernel takes it all


def write_buffer(payload: bytes, at_least: int = WRITE_SIZE) -> bytes:
    """``payload`` repeated to whole messages of at least ``at_least`` bytes."""
    return payload * max(1, -(-at_least // max(1, len(payload))))


async def tcp_bulk(ctx: ClientContext) -> None:
    """Write as fast as the server reads; count bytes written, as they go, before and
    inside the window; then half-close and ask the sink how many of them it read.
    Meanwhile each interval's cut reads what the peer acknowledged (``TCP_INFO``)."""
    recorder = ctx.recorder
    meter = recorder.stream
    assert meter is not None
    sock = await connect_stream(ctx, ctx.gate)
    if sock is None:
        recorder.retire()
        return
    me = ctx.index
    probe_acked(ctx, sock)
    received: int | None = None
    try:
        await ctx.gate.go.wait()
        await write_window(sock, ctx)
        report = await _stream_report(sock, ctx)
        # What the peer took: what the sink read, else (TCP on Linux) what it
        # acknowledged. Bytes left in socket buffers are not throughput.
        took = report[1] if report is not None else bytes_acked(sock)
        if took is not None:
            received = window_received(took, meter.before[me], meter.sent[me])
    except OSError as exc:
        recorder.error(error_kind(exc), time.monotonic_ns())
    finally:
        recorder.finish_stream(me, received)
        sockio.close(sock)
    recorder.retire()


def probe_acked(ctx: ClientContext, sock: socket.socket) -> None:
    """Where the peer's count can be read as the run goes (TCP_INFO), each cut reads it."""
    if bytes_acked(sock) is not None:
        ctx.recorder.stream_probes[ctx.index] = partial(bytes_acked, sock)


async def write_window(sock: socket.socket, ctx: ClientContext) -> None:
    """Write as fast as the peer reads until the window's end (the gate has opened);
    count each write in the window it starts in."""
    recorder, me = ctx.recorder, ctx.index
    meter = recorder.stream
    assert meter is not None
    chunk = write_buffer(ctx.request)
    view = memoryview(chunk)
    size = len(chunk)
    start, end = recorder.measure_start_ns, recorder.measure_end_ns
    send, clock, wrote = sock.send, time.monotonic_ns, meter.wrote
    offset = writes = 0
    inside = False
    # iperf3's rule: a write belongs to the window it starts in, and none starts
    # after it, so the sink's count is exactly warm-up + window. A peer that stops
    # reading blocks the wait for room: it ends with the window, not with the drain.
    with trio.move_on_at(trio_time(end)):
        while (now := clock()) < end:
            try:
                n = send(view[offset:] if offset else view)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
                continue
            inside = now >= start
            wrote(me, n, inside)
            offset = (offset + n) % size
            writes += 1
            if writes % WRITES_PER_CHECKPOINT == 0:
                await trio.lowlevel.checkpoint()
    if isinstance(sock, TlsSocket) and sock.held:
        # TLS took the last write's last byte into its records too (it said one fewer so
        # that the writer would wait): the half-close sends it, the peer counts it.
        wrote(me, 1, inside)


async def _stream_report(sock: socket.socket, ctx: ClientContext) -> tuple[int, int] | None:
    """Half-close and read the sink's ``(reads, bytes)`` until it closes; None when the
    peer is no sockbench sink (it closes, or says something else), the drain ends, or
    the peer acknowledged nothing more for ``REPORT_WAIT_S`` (a target that stopped
    reading held the run for the whole drain, 10 s past a 5 s window). Over TLS the
    half-close is a close_notify, and the report comes over TLS."""
    data = bytearray()
    buf = bytearray(REPORT_MAX + 1)
    with trio.move_on_at(trio_time(ctx.window.drain_end_ns)):
        await half_close(sock)
        while len(data) <= REPORT_MAX:
            try:
                n = sock.recv_into(buf)
            except BlockingIOError:
                if not await _readable_while_taken(sock):
                    return None
                continue
            if not n:
                return decode_report(bytes(data))
            data += buf[:n]
    return None


async def _readable_while_taken(sock: socket.socket) -> bool:
    """Wait for ``sock`` to be readable: True; False once the peer has acknowledged
    nothing new for ``REPORT_WAIT_S`` (without ``TCP_INFO``, the drain bounds the wait)."""
    last = bytes_acked(sock)
    quiet_s = 0.0
    while True:
        with trio.move_on_after(ACK_POLL_S):
            await wait_readable(sock)
            return True
        acked = bytes_acked(sock)
        if acked is None or acked != last:
            last, quiet_s = acked, 0.0
        else:
            quiet_s += ACK_POLL_S
            if quiet_s >= REPORT_WAIT_S:
                return False


def bytes_acked(sock: socket.socket) -> int | None:
    """The bytes this TCP client sent that its peer acknowledged (``tcpi_bytes_acked`` of
    Linux's ``TCP_INFO``, less the SYN; the FIN's one more is past the window's bytes);
    None where there is none (a Unix stream, another OS), or where what it counts is not
    the stream's bytes (TLS: records, with their headers and tags)."""
    if isinstance(sock, TlsSocket):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_LEN)
    except OSError:
        return None
    if len(info) < _TCP_INFO_LEN:
        return None
    (acked,) = _BYTES_ACKED.unpack_from(info, _BYTES_ACKED_AT)
    return max(0, int(acked) - 1)  # less our SYN's sequence number, acknowledged too


async def udp_bulk(ctx: ClientContext) -> None:
    """Send on schedule; ask the server what arrived inside the window.

    When the window opens the client asks for a report and discards it, which
    resets its counters on the server: warm-up datagrams never count.
    """
    sock = open_counted(ctx)
    if sock is not None:
        await send_flow(sock, ctx)
    ctx.recorder.retire()


async def send_flow(sock: socket.socket, ctx: ClientContext) -> None:
    """:func:`udp_bulk`'s sending, on an open socket it closes."""
    recorder = ctx.recorder
    schedule = ctx.schedule
    assert schedule is not None
    payload = ctx.request
    meter = recorder.stream
    assert meter is not None
    sent = 0
    measuring = False
    answered = False  # the sink's report at the window's start came back
    try:
        await ctx.gate.go.wait()
        k = 0
        while True:
            due = recorder.start_ns + schedule.due(k)
            if due >= recorder.measure_end_ns:
                break
            if not measuring and due >= recorder.measure_start_ns:
                answered = await _report(sock) is not None
                measuring = True
            await sleep_until_ns(due)
            try:
                sock.send(payload)
                if measuring:
                    sent += 1
                    meter.sent_datagram(ctx.index, len(payload))
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
                recorder.add_stream_datagrams(ctx.index, sent, report, answered)
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
