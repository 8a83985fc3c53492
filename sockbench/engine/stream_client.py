"""Closed-loop request/reply over a stream socket (TCP or Unix)."""

from __future__ import annotations

import socket
import time

import trio

from sockbench.core.expect import MISMATCH, ReplyBuffer, ReplyMatcher
from sockbench.endpoints import Endpoint
from sockbench.engine import sockio
from sockbench.engine.error_kinds import Mismatch, PeerClosed, error_kind
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats
from sockbench.engine.workload import fixed_reply

REPLY_BUFFER_SIZE = 1024  # grows for longer replies; most clients never need more
CONNECT_TIMEOUT_S = 10.0


async def connect_with_retry(
    endpoint: Endpoint,
    stats: LiveStats,
    gate: StartGate | None,
    limiter: trio.CapacityLimiter,
    source: str | None = None,
    backoff: sockio.Backoff | None = None,
) -> socket.socket:
    """Connect, counting failures by kind and backing off (with jitter) while they repeat.

    ``gate`` is told after the first attempt, successful or not, so one unreachable
    client cannot hold the whole run at the start line. ``backoff`` carries the delay
    over from the client's previous connections (see :class:`sockio.Backoff`).
    """
    backoff = backoff or sockio.Backoff()
    if backoff.delay:  # the last connection served nothing: do not hammer the target
        await trio.sleep(backoff.next_wait())
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
        await trio.sleep(backoff.next_wait())


async def closed_loop_client(
    endpoint: Endpoint,
    request: bytes,
    matcher: ReplyMatcher,
    timeout_s: float,
    stats: LiveStats,
    gate: StartGate,
    limiter: trio.CapacityLimiter,
    source: str | None = None,
) -> None:
    """Send ``request``, wait for a reply that satisfies ``matcher``, repeat until cancelled.

    Latency runs from just before the write to the last byte of the reply. After
    an error the connection is closed and the client reconnects. Replies of one
    known size (echo, ``--expect``, ``--expect-size``) are read straight into a
    buffer of that size; others go through a :class:`ReplyBuffer`.
    """
    expected, size = fixed_reply(matcher)
    buf = bytearray(size)
    view = memoryview(buf)
    replies = None if size else ReplyBuffer(REPLY_BUFFER_SIZE, REPLY_BUFFER_SIZE // 4)
    first: StartGate | None = gate
    nbytes = len(request)
    backoff = sockio.Backoff()
    while True:
        sock = await connect_with_retry(endpoint, stats, first, limiter, source, backoff)
        first = None
        served = False
        if replies is not None:
            replies.clear()
        try:
            await gate.go.wait()
            # One scope per connection whose deadline moves with each request: a new
            # CancelScope per request would cost ~30 allocations on the hot path.
            with trio.CancelScope() as scope:
                while True:
                    start = time.monotonic_ns()
                    scope.deadline = trio.current_time() + timeout_s
                    await sockio.send_all(sock, request)
                    if replies is None:
                        await sockio.recv_exact(sock, buf, view, size)
                        if expected is not None and buf != expected:
                            raise Mismatch
                        got = size
                    else:
                        got = await read_reply(sock, replies, matcher)
                    stats.complete(start, time.monotonic_ns(), nbytes, received=got)
                    served = True
            if scope.cancelled_caught:
                stats.error("timeout")
                served = True  # a late reply is no reason to back off
        except (OSError, Mismatch, PeerClosed) as exc:
            stats.error(error_kind(exc))
            served = served or isinstance(exc, Mismatch)  # a wrong reply is still a reply
        finally:
            sockio.close(sock)
        if served:
            backoff.reset()
        else:
            backoff.arm()


async def read_reply(sock: socket.socket, replies: ReplyBuffer, matcher: ReplyMatcher) -> int:
    """Read until one whole reply is buffered; consume it and return its length."""
    while True:
        if len(replies):
            n = replies.take(matcher)
            if n > 0:
                return n
            if n == MISMATCH:
                raise Mismatch
        await trio.lowlevel.wait_readable(sock)
        sockio.recv_into_buffer(sock, replies)
