"""``--reverse`` and ``--bidir``: the clients read a stream the server sends (iperf3's -R).

A reader counts what arrives as it arrives, into the meter's before/inside/after
slots (:meth:`~sockbench.core.stream_meter.StreamMeter.read`): ``recv_into`` one
reusable buffer per client, a checkpoint every few reads, a wait only when the kernel
had nothing. Over TCP and Unix streams it reads from the moment it is connected (a
source writes from the accept on: what it wrote before the window is the warm-up's, not
a burst in the window's first row), until the window's end; ``--bidir`` writes on the
same connection meanwhile (:func:`~.bulk.write_window`). Then the half-close, and the
drain reads what was in flight and the source's report, whose ``sent`` closes the
identity ``sent = before + window + after`` exactly. Datagrams: the client's first
datagram asks the source for a paced flow (:func:`~sockbench.core.sink_report.
encode_source_request`), read until :data:`~.bulk.SETTLE_S` past the window, then a
report gives ``sent``; what never came was lost. ``--bidir`` over datagrams is two
flows per client, each on its own socket.

A peer that is no sockbench source (a ``--target`` writing a stream of its own) gives
no report: the clients' reads are then all that is known, and the result says so.
"""

from __future__ import annotations

import socket
import time

import trio

from sockbench.core.sink_report import (
    REPORT_MAX,
    REPORT_REQUEST,
    decode_source_report,
    encode_source_request,
    split_source_tail,
    window_received,
)
from sockbench.core.stream_meter import AFTER, phase_of
from sockbench.engine.clients.bulk import (
    REPORT_WAIT_S,
    SETTLE_S,
    bytes_acked,
    probe_acked,
    send_flow,
    write_window,
)
from sockbench.engine.clients.context import (
    ClientContext,
    connect_stream,
    open_counted,
    open_datagram,
    trio_time,
)
from sockbench.engine.io import sockio
from sockbench.engine.io.error_kinds import error_kind
from sockbench.engine.io.kernel_drops import receive_drops
from sockbench.engine.io.tls import half_close, wait_readable

READ_SIZE = 256 * 1024
READS_PER_CHECKPOINT = 16  # let the worker's other tasks run while the kernel has more
WAIT_S = 0.1  # a wait for data looks at the window's end this often (unknown before go)


async def tcp_reverse(ctx: ClientContext) -> None:
    """Read the source's stream over the window (``--reverse``)."""
    await _tcp_reading(ctx, sends=False)


async def tcp_bidir(ctx: ClientContext) -> None:
    """Write and read on one connection over the window (``--bidir``)."""
    await _tcp_reading(ctx, sends=True)


async def _tcp_reading(ctx: ClientContext, *, sends: bool) -> None:
    recorder, me = ctx.recorder, ctx.index
    meter = recorder.stream
    assert meter is not None
    sock = await connect_stream(ctx, ctx.gate)
    if sock is None:
        recorder.retire()
        return
    if sends:
        probe_acked(ctx, sock)
    report: tuple[int, int, int] | None = None
    try:
        # Each task records its own OSError: out of a nursery it would be an ExceptionGroup.
        async with trio.open_nursery() as nursery:
            if sends:
                nursery.start_soon(_write_after_go, sock, ctx)
            window_ended = await _read_counted(sock, ctx)
        if window_ended:
            report = await drain_source(sock, ctx)
    except OSError as exc:
        recorder.error(error_kind(exc), time.monotonic_ns())
    finally:
        if sends:
            took = report[1] if report is not None else bytes_acked(sock)
            received = None
            if took is not None:
                received = window_received(took, meter.before[me], meter.sent[me])
            recorder.finish_stream(me, received)
        else:
            recorder.finish_stream(me, 0)  # it sent nothing: nothing to receive
        meter.source_finished(me, report[2] if report is not None else None)
        sockio.close(sock)
    recorder.retire()


async def _write_after_go(sock: socket.socket, ctx: ClientContext) -> None:
    try:
        await ctx.gate.go.wait()
        await write_window(sock, ctx)
    except OSError as exc:
        ctx.recorder.error(error_kind(exc), time.monotonic_ns())


async def _read_counted(sock: socket.socket, ctx: ClientContext) -> bool:
    """:func:`read_window`, its failure counted: False then (no drain follows)."""
    try:
        return await read_window(sock, ctx)
    except OSError as exc:
        ctx.recorder.error(error_kind(exc), time.monotonic_ns())
        return False


async def read_window(sock: socket.socket, ctx: ClientContext) -> bool:
    """Read from now until the window's end, each read counted in the phase it came in
    (the first read past the end counts as in flight); False when the peer closed first."""
    window, me = ctx.window, ctx.index
    meter = ctx.recorder.stream
    assert meter is not None
    buf = bytearray(READ_SIZE)
    recv_into, read, clock = sock.recv_into, meter.read, time.monotonic_ns
    reads = 0
    while True:
        try:
            n = recv_into(buf)
        except BlockingIOError:
            if not await _readable_before_end(sock, ctx):
                return True
            continue
        if not n:
            return False
        phase = phase_of(clock(), window.measure_start_ns, window.measure_end_ns)
        read(me, n, phase)
        if phase == AFTER:
            return True
        reads += 1
        if reads % READS_PER_CHECKPOINT == 0:
            await trio.lowlevel.checkpoint()


async def _readable_before_end(sock: socket.socket, ctx: ClientContext) -> bool:
    """Wait for data; False once the window has ended (its end is set at the gate)."""
    window = ctx.window
    while True:
        now = time.monotonic_ns()
        if now >= window.measure_end_ns:
            return False
        with trio.move_on_at(trio_time(min(window.measure_end_ns, now + int(WAIT_S * 1e9)))):
            await trio.lowlevel.wait_readable(sock)
            return True


async def drain_source(sock: socket.socket, ctx: ClientContext) -> tuple[int, int, int] | None:
    """Half-close, then read what was in flight (counted after the window) and the
    source's report, until the peer closes or the drain ends; the report, or None."""
    meter, me = ctx.recorder.stream, ctx.index
    assert meter is not None
    buf = bytearray(READ_SIZE)
    tail = b""
    drained = 0
    closed = False
    with trio.move_on_at(trio_time(ctx.window.drain_end_ns)):
        await half_close(sock)
        while True:
            try:
                n = sock.recv_into(buf)
            except BlockingIOError:
                await wait_readable(sock)
                continue
            if not n:
                closed = True
                break
            drained += n
            tail = (tail + buf[:n])[-REPORT_MAX:]
    streamed, report = split_source_tail(tail) if closed else (len(tail), None)
    meter.read(me, drained - (len(tail) - streamed), AFTER)
    return report


async def udp_reverse(ctx: ClientContext) -> None:
    """Ask the source for a flow at this client's share of the rate; read it."""
    sock = open_counted(ctx)
    if sock is not None:
        await read_flow(sock, ctx)
        ctx.recorder.finish_stream(ctx.index, 0)  # it sent nothing: nothing to receive
    ctx.recorder.retire()


async def udp_bidir(ctx: ClientContext) -> None:
    """Two flows: this client's datagrams to the server, and the server's to a second
    socket of its own, both at the client's share of the rate."""
    sock = open_counted(ctx)
    if sock is None:
        ctx.recorder.retire()
        return
    try:
        back = open_datagram(ctx.endpoint, ctx.reply_dir, ctx.source, ctx.socket_buffer)
    except OSError as exc:
        ctx.recorder.error(error_kind(exc), time.monotonic_ns())
        sockio.close(sock)
        ctx.recorder.retire()
        return
    async with trio.open_nursery() as nursery:  # each flow records its own errors
        nursery.start_soon(send_flow, sock, ctx)
        nursery.start_soon(read_flow, back, ctx)
    ctx.recorder.retire()


async def read_flow(sock: socket.socket, ctx: ClientContext) -> None:
    """Ask for the flow once the gate opens, read it by arrival time until
    :data:`SETTLE_S` past the window, then ask the source what it sent; closes ``sock``."""
    recorder, me, window = ctx.recorder, ctx.index, ctx.window
    meter, schedule = recorder.stream, ctx.schedule
    assert meter is not None and schedule is not None
    report: tuple[int, int, int] | None = None
    try:
        await ctx.gate.go.wait()
        seconds = (window.measure_end_ns - time.monotonic_ns()) / 1e9
        if seconds > 0:
            rate = 1e9 / schedule.interval_ns
            sock.send(encode_source_request(rate, len(ctx.request), seconds))
            await _read_datagrams(sock, ctx, window.measure_end_ns + int(SETTLE_S * 1e9))
            report = await _flow_report(sock, ctx)
    except OSError as exc:
        recorder.error(error_kind(exc), time.monotonic_ns())
    finally:
        meter.source_finished(me, report[2] if report is not None else None, receive_drops(sock))
        if report is None:
            recorder.errors["no_report"] += 1
        sockio.close(sock)


async def _read_datagrams(sock: socket.socket, ctx: ClientContext, until_ns: int) -> None:
    window, me = ctx.window, ctx.index
    start, end = window.measure_start_ns, window.measure_end_ns
    meter = ctx.recorder.stream
    assert meter is not None
    buf = bytearray(65536)
    with trio.move_on_at(trio_time(until_ns)):
        while True:
            n = await _recv_datagram(sock, buf)
            meter.read(me, n, phase_of(time.monotonic_ns(), start, end))


async def _flow_report(sock: socket.socket, ctx: ClientContext) -> tuple[int, int, int] | None:
    """Ask the source what it sent; datagrams of the flow still arriving count as after."""
    meter, me = ctx.recorder.stream, ctx.index
    assert meter is not None
    buf = bytearray(65536)
    with trio.move_on_after(REPORT_WAIT_S):
        sock.send(REPORT_REQUEST)
        while True:
            n = await _recv_datagram(sock, buf)
            report = decode_source_report(bytes(buf[:n])) if n and buf[0] == 0 else None
            if report is not None:
                return report
            meter.read(me, n, AFTER)
    return None


async def _recv_datagram(sock: socket.socket, buf: bytearray) -> int:
    """The next datagram's size, in ``buf`` (a refused send's error is no datagram)."""
    while True:
        try:
            return sock.recv_into(buf)
        except (BlockingIOError, ConnectionRefusedError):
            await trio.lowlevel.wait_readable(sock)
