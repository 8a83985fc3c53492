"""Closed-loop request/reply over a stream socket (TCP or Unix)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import trio

from sockbench.core.expect import ReplyBuffer
from sockbench.core.protocols import MALFORMED, Exchange
from sockbench.endpoints import Endpoint
from sockbench.engine import sockio
from sockbench.engine.error_kinds import Mismatch, PeerClosed, ProtocolError, error_kind
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats

MAX_BACKOFF_S = 1.0
REPLY_BUFFER_SIZE = 1024  # grows for longer replies; most clients never need more
CONNECT_TIMEOUT_S = 10.0


async def connect_with_retry(
    endpoint: Endpoint,
    stats: LiveStats,
    gate: StartGate | None,
    limiter: trio.CapacityLimiter,
    source: str | None = None,
) -> socket.socket:
    """Connect, counting failures by kind and backing off while they repeat.

    ``gate`` is told after the first attempt, successful or not, so one unreachable
    client cannot hold the whole run at the start line.
    """
    backoff = 0.0
    while True:
        try:
            async with limiter:
                with trio.fail_after(CONNECT_TIMEOUT_S):
                    sock, connect_ns = await sockio.open_stream(endpoint, source)
        except (OSError, trio.TooSlowError) as exc:
            kind = "connect_timeout" if isinstance(exc, trio.TooSlowError) else error_kind(exc)
            stats.error(kind)
        else:
            stats.connect.record((connect_ns + 500) // 1000)
            stats.connections += 1
            if gate is not None:
                gate.attempted()
            return sock
        if gate is not None:
            gate.attempted()
            gate = None
        backoff = min(MAX_BACKOFF_S, backoff * 2 or 0.01)
        await trio.sleep(backoff)


async def closed_loop_client(
    endpoint: Endpoint,
    exchange: Exchange,
    client: int,
    timeout_s: float,
    stats: LiveStats,
    gate: StartGate,
    limiter: trio.CapacityLimiter,
    source: str | None = None,
) -> None:
    """Send the protocol's next request, wait for its reply, repeat until cancelled.

    Latency runs from just before the write to the last byte of the reply. After
    an error the connection is closed and the client reconnects. Replies of one
    known size (echo, ``--expect``, ``--expect-size``) are read straight into a
    buffer of that size; others go through a :class:`ReplyBuffer` and the
    protocol's ``check_reply``.
    """
    size = exchange.reply_size
    expected = exchange.expected
    buf = bytearray(size)
    view = memoryview(buf)
    replies = None if size else ReplyBuffer(REPLY_BUFFER_SIZE, REPLY_BUFFER_SIZE // 4)
    first: StartGate | None = gate
    fixed = exchange.fixed
    make_request = exchange.request
    kind_of = exchange.kind
    check = exchange.check_reply
    seq = 0
    while True:
        sock = await connect_with_retry(endpoint, stats, first, limiter, source)
        first = None
        if replies is not None:
            replies.clear()
        kind = None
        try:
            await gate.go.wait()
            # One scope per connection whose deadline moves with each request: a new
            # CancelScope per request would cost ~30 allocations on the hot path.
            with trio.CancelScope() as scope:
                if exchange.setup is not None:
                    scope.deadline = trio.current_time() + timeout_s
                    await send_setup(sock, exchange, client, replies)
                while True:
                    request = fixed if fixed is not None else make_request(client, seq)
                    kind = kind_of(client, seq) if kind_of is not None else None
                    seq += 1
                    start = time.monotonic_ns()
                    scope.deadline = trio.current_time() + timeout_s
                    await sockio.send_all(sock, request)
                    if replies is None:
                        await sockio.recv_exact(sock, buf, view, size)
                        if expected is not None and buf != expected:
                            raise Mismatch
                        got = size
                    else:
                        got = await read_reply(sock, replies, check)
                    if kind is None:
                        stats.complete(start, time.monotonic_ns(), len(request), received=got)
                    else:
                        stats.complete_kind(kind, start, time.monotonic_ns(), len(request), got)
            if scope.cancelled_caught:
                stats.error("timeout", kind)
        except (OSError, Mismatch, ProtocolError, PeerClosed) as exc:
            stats.error(error_kind(exc), kind)
        finally:
            sockio.close(sock)


async def send_setup(
    sock: socket.socket, exchange: Exchange, connection: int, replies: ReplyBuffer | None
) -> None:
    """Send the protocol's setup bytes and take their reply, unmeasured."""
    assert exchange.setup is not None
    data = exchange.setup(connection)
    if not data:
        return
    await sockio.send_all(sock, data)
    own = replies if replies is not None else ReplyBuffer(REPLY_BUFFER_SIZE, REPLY_BUFFER_SIZE // 4)
    await read_reply(sock, own, exchange.check_reply)
    if replies is None and len(own):
        raise Mismatch  # bytes after the setup reply, before any request


async def read_reply(
    sock: socket.socket, replies: ReplyBuffer, check: Callable[[bytearray, int, int], int]
) -> int:
    """Read until one whole reply is buffered; consume it and return its length."""
    while True:
        if len(replies):
            n = check(replies.data, replies.start, replies.end)
            if n > 0:
                replies.start += n
                return n
            if n < 0:
                raise Mismatch if n == MALFORMED else ProtocolError
        await trio.lowlevel.wait_readable(sock)
        sockio.recv_into_buffer(sock, replies)
