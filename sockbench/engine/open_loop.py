"""Open-loop clients: requests go out on a fixed schedule, whatever the server does.

A closed loop stops sending while the server stalls, so a stall shows up in a
handful of samples instead of in every request a real user would have sent
meanwhile (coordinated omission). Here each request has a due time from a
:class:`~sockbench.core.schedule.ClientSchedule`; latency is measured from that
due time (wrk2 semantics), the service time from the actual send, and how late
the send was goes into ``send_lag``; the part of that lag that is the generator's
own (late although it could send) goes into ``scheduler_lag``. A client that cannot
send because its
previous request is unanswered (``--pipeline`` slots all taken) waits, and that
wait counts in latency.
"""

from __future__ import annotations

import collections
import socket
import time
from array import array
from collections.abc import Callable

import trio

from sockbench.core import datagrams as dg
from sockbench.core.expect import ReplyBuffer
from sockbench.core.protocols import ERROR_REPLY, Exchange
from sockbench.core.schedule import ClientSchedule
from sockbench.endpoints import Endpoint
from sockbench.engine import sockio
from sockbench.engine.datagram_client import SHARED_RECV_BUFFER, open_counted
from sockbench.engine.error_kinds import Mismatch, PeerClosed, ProtocolError, error_kind
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats
from sockbench.engine.stream_client import REPLY_BUFFER_SIZE, connect_with_retry, send_setup
from sockbench.engine.timing import sleep_until_ns


async def stream_client(
    endpoint: Endpoint,
    exchange: Exchange,
    client: int,
    schedule: ClientSchedule,
    pipeline: int,
    timeout_s: float,
    stats: LiveStats,
    gate: StartGate,
    limiter: trio.CapacityLimiter,
    source: str | None = None,
) -> None:
    """Send on schedule over one connection, up to ``pipeline`` requests in flight.

    Replies are matched to requests in order. After an error or a timeout the
    connection is replaced; the schedule carries on, so the requests due meanwhile
    go out late and their latency shows it.
    """
    timeout_ns = int(timeout_s * 1e9)
    first: StartGate | None = gate
    cursor = _Cursor()
    while True:
        sock = await connect_with_retry(endpoint, stats, first, limiter, source)
        first = None
        await gate.go.wait()
        in_flight: collections.deque[_InFlight] = collections.deque()
        slots = trio.Semaphore(pipeline)
        replies = ReplyBuffer(REPLY_BUFFER_SIZE, REPLY_BUFFER_SIZE // 4)
        try:
            if exchange.setup is not None:
                with trio.fail_after(timeout_s):
                    await send_setup(sock, exchange, client, replies)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    _send_on_schedule, sock, exchange, client, schedule, stats.start_ns, cursor,
                    slots, in_flight, stats,
                )  # fmt: skip
                await _receive_replies(
                    sock, exchange.check_reply, replies, in_flight, slots, timeout_ns, stats
                )
        except (OSError, Mismatch, ProtocolError, PeerClosed, TimeoutError) as exc:
            stats.error(error_kind(exc), in_flight[0][2] if in_flight else None)
        except trio.TooSlowError:
            stats.error("timeout")
        finally:
            sockio.close(sock)


# (due_ns, sent_ns, request kind or None, request size)
_InFlight = tuple[int, int, str | None, int]


class _Cursor:
    """The index of the next request in the schedule; it survives reconnects."""

    __slots__ = ("k",)

    def __init__(self) -> None:
        self.k = 0


async def _send_on_schedule(
    sock: socket.socket,
    exchange: Exchange,
    client: int,
    schedule: ClientSchedule,
    base_ns: int,
    cursor: _Cursor,
    slots: trio.Semaphore,
    in_flight: collections.deque[_InFlight],
    stats: LiveStats,
) -> None:
    fixed = exchange.fixed
    kind_of = exchange.kind
    while True:
        k = cursor.k
        due = base_ns + schedule.due(k)
        request = fixed if fixed is not None else exchange.request(client, k)
        kind = kind_of(client, k) if kind_of is not None else None
        await slots.acquire()
        ready = time.monotonic_ns()
        await sleep_until_ns(due)
        sent = time.monotonic_ns()
        in_flight.append((due, sent, kind, len(request)))
        stats.scheduled_send(due, ready, sent)
        await sockio.send_all(sock, request)
        cursor.k += 1


async def _receive_replies(
    sock: socket.socket,
    check: Callable[[bytearray, int, int], int],
    replies: ReplyBuffer,
    in_flight: collections.deque[_InFlight],
    slots: trio.Semaphore,
    timeout_ns: int,
    stats: LiveStats,
) -> None:
    while True:
        deadline = (in_flight[0][1] + timeout_ns) if in_flight else None
        with trio.move_on_at(_trio_time(deadline) if deadline else float("inf")):
            await trio.lowlevel.wait_readable(sock)
        if deadline is not None and time.monotonic_ns() >= deadline:
            raise TimeoutError("no reply within --timeout")
        if not sockio.recv_into_buffer(sock, replies):
            continue
        now = time.monotonic_ns()
        while len(replies):
            n = check(replies.data, replies.start, replies.end)
            if n < 0 or (n > 0 and not in_flight):
                raise ProtocolError if n == ERROR_REPLY else Mismatch
            if n == 0:
                break
            replies.start += n
            due, sent, kind, size = in_flight.popleft()
            slots.release()
            stats.complete_scheduled(due, sent, now, size, received=n, kind=kind)


def _trio_time(monotonic_ns: int) -> float:
    """A ``time.monotonic_ns`` instant on trio's clock."""
    return trio.current_time() + (monotonic_ns - time.monotonic_ns()) / 1e9


async def datagram_client(
    endpoint: Endpoint,
    payload_size: int,
    schedule: ClientSchedule,
    timeout_s: float,
    stats: LiveStats,
    gate: StartGate,
    reply_dir: str | None,
    source: str | None = None,
) -> None:
    """Send numbered datagrams on schedule; a receiver task classifies every reply."""
    sock = open_counted(endpoint, reply_dir, source, stats, gate)
    if sock is None:
        return
    out = bytearray(payload_size)
    timeout_ns = int(timeout_s * 1e9)
    ledger: dg.DatagramLedger | None = None
    due_at = array("q")
    sent_at = array("q")
    try:
        await gate.go.wait()
        base = stats.start_ns
        async with trio.open_nursery() as nursery:

            async def receiver() -> None:
                buf = SHARED_RECV_BUFFER
                while True:
                    nxt = ledger.next_deadline() if ledger is not None else None
                    with trio.move_on_at(_trio_time(nxt) if nxt else float("inf")):
                        await trio.lowlevel.wait_readable(sock)
                    if ledger is not None:
                        ledger.expire(time.monotonic_ns())
                    try:
                        n = sock.recv_into(buf)
                    except (BlockingIOError, ConnectionRefusedError):
                        continue
                    now = time.monotonic_ns()
                    if n < dg.SEQ_SIZE or ledger is None:
                        continue
                    (seq,) = dg.SEQ.unpack_from(buf)
                    outcome = ledger.on_reply(seq)
                    if outcome == dg.UNKNOWN:
                        stats.error("mismatch")
                    elif outcome in (dg.RECEIVED, dg.REORDERED):
                        i = seq - ledger.first_seq
                        stats.complete_scheduled(due_at[i], sent_at[i], now, n)

            nursery.start_soon(receiver)
            k = 0
            while True:
                due = base + schedule.due(k)
                if due >= stats.measure_end_ns:
                    await trio.sleep_forever()  # nothing after the window is accounted for
                await sleep_until_ns(due)
                dg.SEQ.pack_into(out, 0, k)
                sent = time.monotonic_ns()
                stats.scheduled_send(due, due, sent)
                if ledger is None and due >= stats.measure_start_ns:
                    ledger = dg.DatagramLedger(timeout_ns, first_seq=k)
                    stats.ledgers.append(ledger)
                try:
                    sock.send(out)
                except BlockingIOError:
                    stats.error("send_buffer_full")
                except OSError as exc:
                    stats.error(error_kind(exc))
                if ledger is not None:
                    ledger.on_send(k, sent)
                    due_at.append(due)
                    sent_at.append(sent)
                k += 1
    finally:
        sockio.close(sock)
