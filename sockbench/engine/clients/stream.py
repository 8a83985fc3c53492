"""Request/reply over a stream socket (TCP or Unix), a trio task per client.

The reference driver (``--no-batch``); the pump (:mod:`.pump`) is the default and
shares this module's helpers (``issue``, ``send_setup``, ``backlog``). It only moves
bytes and times: what they mean is decided by the
:class:`~sockbench.core.exchange.StreamExchange`. Replies are matched in order.
After a mismatch, a timeout or a connection error the connection is replaced; in
open loop the schedule carries on, so requests due meanwhile go out late and their
latency (from the due time) shows it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Protocol

import trio

from sockbench.core.exchange import RECONNECT, StreamExchange
from sockbench.core.expect import ReplyBuffer
from sockbench.core.protocols import error_kind_of
from sockbench.core.schedule import ClientSchedule
from sockbench.engine import sockio
from sockbench.engine.clients.context import (
    ClientContext,
    connect_stream,
    trio_time,
)
from sockbench.engine.error_kinds import PeerClosed, error_kind
from sockbench.engine.gate import StartGate
from sockbench.engine.timing import sleep_until_ns


class _Loop(Protocol):
    async def serve(self, sock: socket.socket) -> bool:
        """Drive one connection; True once this client has nothing left to do."""
        ...

    def unsent(self, now_ns: int) -> Iterator[int]:
        """Marks of requests due by ``now_ns`` that never went out (open loop)."""
        ...

    def finished(self, now_ns: int) -> bool:
        """Whether nothing is left to reconnect for: the window closed, no backlog."""
        ...


async def closed_loop(ctx: ClientContext) -> None:
    """Send, wait for the whole reply, repeat; latency from just before the send."""
    await _run(ctx, _ClosedLoop(ctx))


async def open_loop(ctx: ClientContext) -> None:
    """Send on schedule, up to ``pipeline`` requests in flight; latency from the due time."""
    await _run(ctx, _OpenLoop(ctx))


def new_exchange(ctx: ClientContext) -> StreamExchange:
    protocol = ctx.protocol
    varies = protocol is not None and protocol.fixed is None
    one = protocol.one_kind if protocol is not None and varies else None
    return StreamExchange(
        ctx.window, ctx.recorder, ctx.matcher, one[1] if one else len(ctx.request),
        pipelined=ctx.pipeline > 1, kind_sink=ctx.recorder if varies else None,
        kind=one[0] if one else None,
    )  # fmt: skip


def issue(
    ctx: ClientContext,
    ex: StreamExchange,
    seq: int,
    mark_ns: int,
    sent_ns: int,
    built: bytes = b"",
) -> bytes:
    """Issue this client's ``seq``-th request; empty if the window is closed.

    A protocol's varying request (a command mix) is noted with its kind and size, so the
    recorder splits latency by kind; unless every request is of one kind and size
    (``one_kind``: the exchange knows them already). ``built``: that request built
    ahead (:meth:`ClientContext.request_for`), off the path from a reply to the send.
    """
    protocol = ctx.protocol
    if protocol is None or protocol.fixed is not None:
        return ctx.request if ex.issue(mark_ns, sent_ns) else b""
    request = built or protocol.request(ctx.index_in_run, seq)
    if not ex.issue(mark_ns, sent_ns):
        return b""
    if protocol.one_kind is None:
        ex.note(protocol.kind_index(ctx.index_in_run, seq), len(request))
    return request


async def send_setup(ctx: ClientContext, sock: socket.socket, connection: int) -> None:
    """Send the protocol's setup bytes (AUTH, SELECT) and take their reply, unmeasured.

    A reply that does not check out is the connection's ``mismatch``/``protocol_error``.
    """
    protocol = ctx.protocol
    if protocol is None or protocol.setup is None:
        return
    data = protocol.setup(connection)
    if not data:
        return
    with trio.fail_after(ctx.timeout_s):
        await sockio.send_all(sock, data)
        replies = ReplyBuffer(1024, 256)
        while True:
            await trio.lowlevel.wait_readable(sock)
            try:
                got = sock.recv_into(replies.space())
            except BlockingIOError:
                continue
            if got == 0:
                raise PeerClosed
            replies.commit(got)
            n = protocol.check_reply(replies.data, replies.start, replies.end)
            if n < 0:
                raise SetupFailed(error_kind_of(n))
            if n > 0:
                if n != len(replies):
                    raise SetupFailed("mismatch")  # bytes after the setup reply
                return


class SetupFailed(Exception):
    """The setup's reply was malformed or an error reply (the kind is the argument)."""


async def _run(ctx: ClientContext, loop: _ClosedLoop | _OpenLoop) -> None:
    """Connect, serve until the connection fails or the work is done, reconnect."""
    ex = loop.ex
    first: StartGate | None = ctx.gate
    backoff = sockio.Backoff()
    done = False
    connections = 0  # this client's connections so far: the protocol's setup sees it
    try:
        while not done:
            if first is None and loop.finished(time.monotonic_ns()):
                break
            sock = await connect_stream(ctx, first, backoff)
            first = None
            if sock is None:
                break
            # The worker's completed count: unchanged at a drop = this connection
            # served nothing (a target that closes at once), so back off before the next.
            mark = ctx.recorder.requests
            try:
                await ctx.gate.go.wait()
                await send_setup(ctx, sock, connections)
                connections += 1
                done = await loop.serve(sock)
                backoff.reset()
            except SetupFailed as exc:
                ctx.recorder.error(str(exc), time.monotonic_ns())
                backoff.arm()
            except trio.TooSlowError:
                ctx.recorder.error("timeout", time.monotonic_ns())
                backoff.arm()
            except (OSError, PeerClosed) as exc:
                ex.fail(error_kind(exc), time.monotonic_ns())
                if ctx.recorder.requests != mark:
                    backoff.reset()
                else:
                    backoff.arm()
            finally:
                sockio.close(sock)
    finally:
        now = time.monotonic_ns()
        ex.finish(now, ctx.interrupted(), loop.unsent(now))
    ctx.recorder.retire()


async def _read(sock: socket.socket, ex: StreamExchange) -> int:
    """Wait for bytes and feed them in: OK or RECONNECT."""
    await trio.lowlevel.wait_readable(sock)
    try:
        n = sock.recv_into(ex.space())
    except BlockingIOError:
        return 0
    if n == 0:
        raise PeerClosed
    return ex.received(n, time.monotonic_ns())


async def _step(sock: socket.socket, ex: StreamExchange, wake_at: float) -> int:
    """Read what comes until ``wake_at`` (trio time), then let the exchange expire requests."""
    with trio.move_on_at(wake_at):
        if await _read(sock, ex) == RECONNECT:
            return RECONNECT
    return ex.expire(time.monotonic_ns())


class _ClosedLoop:
    __slots__ = ("ctx", "ex", "seq")

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx
        self.ex = new_exchange(ctx)
        self.seq = 0  # the next request of this client; it survives reconnects

    async def serve(self, sock: socket.socket) -> bool:
        if self.ctx.pipeline > 1:
            return await self._serve_pipelined(sock)
        ex = self.ex
        ctx = self.ctx
        timeout_s = ctx.timeout_s
        # One scope per connection whose deadline moves with each request: a new
        # CancelScope per request would cost ~30 allocations on the hot path.
        with trio.CancelScope() as scope:
            while True:
                start = time.monotonic_ns()
                request = issue(ctx, ex, self.seq, start, start)
                if not request:
                    return True
                self.seq += 1
                scope.deadline = trio.current_time() + timeout_s
                await sockio.send_all(sock, request)
                while ex.in_flight:
                    if await _read(sock, ex) == RECONNECT:
                        return False
        # The deadline passed on trio's clock; the exchange judges by its own.
        while ex.in_flight:
            if await _step(sock, ex, trio_time(ex.deadline())) == RECONNECT:
                return False
        return False

    async def _serve_pipelined(self, sock: socket.socket) -> bool:
        """Closed loop with ``--pipeline`` requests in flight: a reply frees a slot."""
        ex = self.ex
        ctx = self.ctx
        closed = False
        while True:
            while not closed and ex.in_flight < ctx.pipeline:
                start = time.monotonic_ns()
                request = issue(ctx, ex, self.seq, start, start)
                if not request:
                    closed = True
                    break
                self.seq += 1
                await sockio.send_all(sock, request)
            if closed and not ex.in_flight:
                return True
            if await _step(sock, ex, trio_time(ex.deadline())) == RECONNECT:
                return False

    def unsent(self, now_ns: int) -> Iterator[int]:
        return iter(())

    def finished(self, now_ns: int) -> bool:
        return self.ex.window.closed(now_ns)


class _OpenLoop:
    __slots__ = ("ctx", "ex", "issued", "k", "schedule")

    def __init__(self, ctx: ClientContext) -> None:
        assert ctx.schedule is not None
        self.ctx = ctx
        self.ex = new_exchange(ctx)
        self.schedule: ClientSchedule = ctx.schedule
        self.k = 0  # the next request of the schedule; it survives reconnects
        self.issued = 0  # on the current connection

    def due(self, k: int) -> int:
        return due_ns(self.ctx, k)

    async def serve(self, sock: socket.socket) -> bool:
        slots = trio.Semaphore(self.ctx.pipeline)
        self.issued = 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._send, sock, slots)
            done = await self._receive(sock, slots)
            nursery.cancel_scope.cancel()
        return done

    async def _send(self, sock: socket.socket, slots: trio.Semaphore) -> None:
        ex = self.ex
        recorder = self.ctx.recorder
        while True:
            due = self.due(self.k)
            await slots.acquire()
            ready = time.monotonic_ns()
            if ex.window.closed(due):
                return
            await sleep_until_ns(due)
            sent = time.monotonic_ns()
            request = issue(self.ctx, ex, self.k, due, sent)
            if not request:
                return
            self.k += 1
            self.issued += 1
            recorder.scheduled_send(due, ready, sent)
            await sockio.send_all(sock, request)

    async def _receive(self, sock: socket.socket, slots: trio.Semaphore) -> bool:
        """Read replies; wake at each deadline, and at least once a timeout when idle."""
        ex = self.ex
        idle_s = self.ctx.timeout_s
        released = 0
        while True:
            if not ex.in_flight and ex.window.closed(self.due(self.k)):
                return True
            wake = trio_time(ex.deadline()) if ex.in_flight else trio.current_time() + idle_s
            if await _step(sock, ex, wake) == RECONNECT:
                return False
            answered = self.issued - ex.in_flight
            for _ in range(answered - released):
                slots.release()
            released = answered

    def finished(self, now_ns: int) -> bool:
        return self.ex.window.closed(self.due(self.k))

    def unsent(self, now_ns: int) -> Iterator[int]:
        return backlog(self.ctx, self.k, now_ns)


def due_ns(ctx: ClientContext, k: int) -> int:
    """When this open-loop client's ``k``-th request is due (monotonic ns)."""
    assert ctx.schedule is not None
    return ctx.recorder.start_ns + ctx.schedule.due(k)


def backlog(ctx: ClientContext, k: int, now_ns: int) -> Iterator[int]:
    """Due times, from request ``k`` on, that were due by ``now_ns`` in the window (unsent)."""
    window = ctx.window
    while (due := due_ns(ctx, k)) <= now_ns and not window.closed(due):
        yield due
        k += 1
