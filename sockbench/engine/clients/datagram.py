"""Request/reply over datagrams (UDP or Unix datagram), a trio task per client.

The reference driver (``--no-batch``); the pump (:mod:`.pump`) is the default.

Every client owns its socket and numbers its datagrams; the
:class:`~sockbench.core.exchange.DatagramExchange` and its ledger classify every
reply (received, reordered, duplicate, late, unknown) and expire the unanswered
ones as lost. Closed loop waits for each reply (or its deadline) before the next
send; open loop sends on schedule while a receiver task reads.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable

import trio

from sockbench.core import datagrams as dg
from sockbench.core.exchange import DatagramExchange
from sockbench.core.protocols.simple import payload_bytes
from sockbench.engine.clients.context import ClientContext, open_counted, trio_time
from sockbench.engine.clients.reference import backlog
from sockbench.engine.io import sockio, sysio
from sockbench.engine.io.error_kinds import error_kind
from sockbench.engine.io.kernel_drops import receive_drops
from sockbench.engine.io.timing import sleep_until_ns

_Loop = Callable[[ClientContext, socket.socket, DatagramExchange, bytearray], Awaitable[None]]
RECV_BUFFER = 65536
# Every client of a worker reads into this one buffer: trio runs one task at a time and a
# client never awaits between its recv and reading what it got, so none can overwrite
# another's datagram. 64 KiB per client would be 3 GiB at 50,000 clients.
SHARED_RECV_BUFFER = bytearray(RECV_BUFFER)
SHARED_VIEW = memoryview(SHARED_RECV_BUFFER)


async def closed_loop(ctx: ClientContext) -> None:
    await _run(ctx, _ping_pong)


async def open_loop(ctx: ClientContext) -> None:
    await _run(ctx, _on_schedule)


async def _run(ctx: ClientContext, loop: _Loop) -> None:
    await ctx.gate.turn(ctx.start_ns)  # --ramp, --connect-rate
    sock = open_counted(ctx)
    if sock is None:
        ctx.recorder.retire()
        return
    # The same deterministic payload as streams; the first 8 bytes carry the number.
    out = bytearray(payload_bytes(len(ctx.request)))
    ex = DatagramExchange(ctx.window, ctx.recorder, bytes(out))
    ctx.recorder.datagram_exchanges.append(ex)
    try:
        await ctx.gate.go.wait()
        await loop(ctx, sock, ex, out)
    finally:
        now = time.monotonic_ns()
        unsent = backlog(ctx, ex.next_seq, now) if ctx.schedule is not None else ()
        ex.finish(now, ctx.interrupted(), unsent)
        ex.dropped = receive_drops(sock)
        trio.lowlevel.notify_closing(sock)
        sock.close()
    ctx.recorder.retire()


def _send(sock: socket.socket, ex: DatagramExchange, seq: int, out: bytearray) -> None:
    try:
        sock.send(out)
    except BlockingIOError:
        ex.send_failed(seq, "send_buffer_full", time.monotonic_ns())
    except OSError as exc:
        # ICMP errors from earlier datagrams surface on a later call.
        ex.send_failed(seq, error_kind(exc), time.monotonic_ns())


async def _receive(
    sock: socket.socket, ex: DatagramExchange, wake_at: float, linger: bool = False
) -> None:
    """Classify what arrives until ``wake_at`` (trio time), or until nothing is in
    flight unless ``linger``; then expire what is overdue."""
    with trio.move_on_at(wake_at):
        while linger or ex.in_flight:
            await trio.lowlevel.wait_readable(sock)
            receive_one(sock, ex)
    ex.expire(time.monotonic_ns())


def receive_one(sock: sysio.Stream, ex: DatagramExchange) -> bool:
    """Read one datagram into the shared buffer and classify it; False: none was read
    (nothing waiting, or a socket error, counted as one)."""
    try:
        n = sock.recv_into(SHARED_VIEW)
    except BlockingIOError:
        return False
    except OSError as exc:
        ex.sink.error(error_kind(exc), time.monotonic_ns())
        return False
    ex.received(SHARED_VIEW, n, time.monotonic_ns())
    return True


async def _ping_pong(
    ctx: ClientContext, sock: socket.socket, ex: DatagramExchange, out: bytearray
) -> None:
    seq = 0
    while True:
        dg.SEQ.pack_into(out, 0, seq)
        start = time.monotonic_ns()
        if not ex.issue(seq, start, start):
            return
        try:
            await sockio.send_all(sock, out)  # a full peer queue (unix-dgram): wait, as TCP
        except OSError as exc:
            # ICMP errors from earlier datagrams surface on a later call.
            ex.send_failed(seq, error_kind(exc), time.monotonic_ns())
        while ex.in_flight:
            await _receive(sock, ex, trio_time(ex.deadline()))
        seq += 1


async def _on_schedule(
    ctx: ClientContext, sock: socket.socket, ex: DatagramExchange, out: bytearray
) -> None:
    schedule = ctx.schedule
    assert schedule is not None
    base = ctx.recorder.start_ns
    recorder = ctx.recorder
    idle_s = ctx.timeout_s
    async with trio.open_nursery() as nursery:
        # Reads while the sender runs; wakes at each deadline, or a timeout apart when
        # idle, so a silent target's datagrams are lost on time.
        receiver = trio.CancelScope()

        async def receive() -> None:
            with receiver:
                while True:
                    wake = (
                        trio_time(ex.deadline()) if ex.in_flight else trio.current_time() + idle_s
                    )
                    await _receive(sock, ex, wake, linger=True)

        nursery.start_soon(receive)
        seq = 0
        while True:
            due = base + schedule.due(seq)
            if ex.window.closed(due):
                break
            await sleep_until_ns(due)
            dg.SEQ.pack_into(out, 0, seq)
            sent = time.monotonic_ns()
            if not ex.issue(seq, due, sent):
                break
            recorder.scheduled_send(due, due, sent)
            _send(sock, ex, seq, out)
            seq += 1
        receiver.cancel()
    # The window is closed: follow what is in flight to its end.
    while ex.in_flight:
        await _receive(sock, ex, trio_time(ex.deadline()))
