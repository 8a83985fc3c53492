"""Request/reply over a stream socket (TCP or Unix), a trio task per client.

The reference driver (``--no-batch``); the pump (:mod:`.pump`) is the default and
shares this module's helpers (``issue``, ``send_setup``, ``backlog``). It only moves
bytes and times: what they mean is decided by the
:class:`~sockbench.core.exchange.StreamExchange`, and when to connect, back off,
reconnect or retire by the :class:`~sockbench.core.lifecycle.ConnectionLifecycle`.
Replies are matched in order. After a mismatch, a timeout or a connection error the
connection is replaced; in open loop the schedule carries on, so requests due
meanwhile go out late (every one that fits as soon as a slot is free) and their
latency (from the due time) shows it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Protocol

import trio

from sockbench.core.exchange import RECONNECT, StreamExchange, stream_exchange
from sockbench.core.expect import ReplyBuffer
from sockbench.core.lifecycle import RETIRE, ConnectionLifecycle
from sockbench.core.protocols import error_kind_of
from sockbench.core.protocols.contract import kinded, one_kind
from sockbench.engine.clients.context import (
    ClientContext,
    ProtocolGuard,
    connect_stream,
    reconnect,
    trio_time,
)
from sockbench.engine.io import sockio
from sockbench.engine.io.error_kinds import PeerClosed, error_kind
from sockbench.engine.io.timing import sleep_until_ns
from sockbench.engine.io.tls import wait_readable


class _Loop(Protocol):
    ex: StreamExchange

    async def serve(self, sock: socket.socket, life: ConnectionLifecycle) -> bool:
        """Drive one connection: True once the lifecycle says the client retires (the
        window closed and nothing is in flight), False once the exchange says
        RECONNECT; a connection error is raised."""
        ...

    def next_mark(self, now_ns: int) -> int:
        """The mark of this client's next request: now, or its due time (open loop)."""
        ...

    def unsent(self, now_ns: int) -> Iterator[int]:
        """Marks of requests due by ``now_ns`` that never went out (open loop)."""
        ...

    def next_seq(self) -> int:
        """The number of this client's next request (every one before it was issued)."""
        ...


async def closed_loop(ctx: ClientContext) -> None:
    """Send, wait for the whole reply, repeat; latency from just before the send."""
    await _run(ctx, _ClosedLoop(ctx))


async def open_loop(ctx: ClientContext) -> None:
    """Send on schedule, up to ``pipeline`` requests in flight; latency from the due time."""
    await _run(ctx, _OpenLoop(ctx))


def new_exchange(ctx: ClientContext) -> StreamExchange:
    protocol = ctx.protocol
    one = one_kind(protocol)
    return stream_exchange(
        ctx.window, ctx.recorder, ctx.matcher, one[1] if one else len(ctx.request),
        pipelined=ctx.pipeline > 1, kind_sink=ctx.recorder if kinded(protocol) else None,
        kind=one[0] if one else None, reply_kind=protocol.reply_kind if protocol else None,
        reply_at_close=protocol.reply_at_close if protocol else None,
        lookups=protocol.lookups if protocol else (), misses=protocol.misses if protocol else None,
        miss_reply=protocol.miss_reply if protocol else None,
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
    if protocol.one_kind is not None:
        return request if ex.issue(mark_ns, sent_ns) else b""
    kind = protocol.kind_index(ctx.index_in_run, seq)
    return request if ex.issue(mark_ns, sent_ns, kind, len(request)) else b""


def issue_batch(
    ctx: ClientContext,
    ex: StreamExchange,
    seq: int,
    count: int,
    mark_ns: int,
    built: bytes = b"",
) -> tuple[bytes, int]:
    """Issue this client's requests ``seq`` .. ``seq + count - 1``, all sent at ``mark_ns``
    in one write (closed loop, ``--pipeline``): their bytes and how many were issued, fewer
    than ``count`` (0: none) once the window closed or the ``--requests`` limit came.

    Trade-off: what :func:`issue` does per request, done per batch (one admission, the
    requests and their notes built by the protocol in one call, one note), so a
    pipeline's refill pays its Python once; ``built`` is request ``seq`` built ahead.
    """
    issued = ex.issue_many(count, mark_ns, mark_ns)
    protocol = ctx.protocol
    if not issued or protocol is None or protocol.fixed is not None:
        return ctx.request * issued, issued
    data, notes = protocol.batch_from(ctx.index_in_run, seq, issued, built)
    if notes:
        ex.note_many(notes)
    return data, issued


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
            await wait_readable(sock)
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


SETUP_ERRORS = (SetupFailed, trio.TooSlowError, OSError, PeerClosed)


def setup_error_kind(exc: BaseException) -> str:
    """How a failed setup is counted: its reply's kind, ``timeout``, or the error's."""
    if isinstance(exc, SetupFailed):
        return str(exc)
    return "timeout" if isinstance(exc, trio.TooSlowError) else error_kind(exc)


async def _run(ctx: ClientContext, loop: _Loop) -> None:
    """Connect, serve until the connection ends, and do what the lifecycle says next."""
    ex = loop.ex
    life = ConnectionLifecycle(ctx.window)
    try:
        with ProtocolGuard(ctx):  # a protocol's fault stops the worker, measured kept
            sock = await connect_stream(ctx, ctx.gate, life)
            while sock is not None:
                action = await _connection(ctx, loop, life, sock)
                sock = await reconnect(ctx, life, action)
    finally:
        now = time.monotonic_ns()
        ex.finish(now, ctx.interrupted(), loop.unsent(now))
    ctx.recorder.retire()


async def _connection(
    ctx: ClientContext, loop: _Loop, life: ConnectionLifecycle, sock: socket.socket
) -> int:
    """One connection: the start gate, the setup, requests until it ends, then closed.

    Returns what the lifecycle says next (``CONNECT``, ``WAIT`` or ``RETIRE``).
    """
    recorder = ctx.recorder
    try:
        await ctx.gate.go.wait()
        try:
            await send_setup(ctx, sock, life.connections)
        except SETUP_ERRORS as exc:
            now = time.monotonic_ns()
            recorder.error(setup_error_kind(exc), now)
            return life.setup_failed(now, loop.next_mark(now))
        if life.opened(loop.ex.answered, loop.ex.in_flight) == RETIRE:
            return RETIRE
        kind: str | None = None  # the exchange ended it (RECONNECT): counted there
        idle = False  # the target ended it with nothing in flight
        try:
            resent = loop.ex.resend(time.monotonic_ns())
            if resent:  # unserved behind the close the last connection's reply announced
                await sockio.send_all(sock, ctx.requests_before(loop.next_seq(), resent))
            if await loop.serve(sock, life):
                return RETIRE
        except (OSError, PeerClosed) as exc:
            if isinstance(exc, PeerClosed) or not ended_by_reply(sock, loop.ex):
                kind = error_kind(exc)
                idle = loop.ex.fail(kind, time.monotonic_ns())
        now = time.monotonic_ns()
        mark = loop.next_mark(now)
        return life.dropped(kind, loop.ex.answered, now, mark, loop.ex.in_flight, idle)
    finally:
        sockio.close(sock)


MAX_LAST_READS = 64  # reads of what came before a failed send: a bound, not a size


def ended_by_reply(sock: socket.socket, ex: StreamExchange) -> bool:
    """A send failed: whether what the peer sent before (read now, without waiting) ended
    the connection in the exchange, as a reply that announced the close does; then the
    failed send is no error of its own (its request is among those sent again)."""
    for _ in range(MAX_LAST_READS):
        try:
            n = sock.recv_into(ex.space())
        except OSError:
            return False
        if n == 0:
            return False
        if ex.received(n, time.monotonic_ns()) == RECONNECT:
            return True
    return False


async def _read(sock: socket.socket, ex: StreamExchange) -> int:
    """Wait for bytes and feed them in: OK or RECONNECT."""
    await wait_readable(sock)  # a TLS connection may hold decrypted bytes already
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

    async def serve(self, sock: socket.socket, life: ConnectionLifecycle) -> bool:
        if self.ctx.pipeline > 1:
            return await self._serve_pipelined(sock, life)
        ex = self.ex
        ctx = self.ctx
        timeout_s = ctx.timeout_s
        while True:
            # One scope per connection whose deadline moves with each request: a new
            # CancelScope per request would cost ~30 allocations on the hot path.
            with trio.CancelScope() as scope:
                while True:
                    start = time.monotonic_ns()
                    request = issue(ctx, ex, self.seq, start, start)
                    if not request:
                        return life.window_closed(ex.in_flight) == RETIRE
                    self.seq += 1
                    scope.deadline = trio.current_time() + timeout_s
                    await sockio.send_all(sock, request)
                    while ex.in_flight:
                        if await _read(sock, ex) == RECONNECT:
                            return False
            # The deadline passed on trio's clock; the exchange judges by its own (a
            # reply on time by it carries on on this connection, as the pump does).
            while ex.in_flight:
                if await _step(sock, ex, trio_time(ex.deadline())) == RECONNECT:
                    return False

    async def _serve_pipelined(self, sock: socket.socket, life: ConnectionLifecycle) -> bool:
        """Closed loop with ``--pipeline`` requests in flight: a reply frees a slot."""
        ex = self.ex
        ctx = self.ctx
        while True:
            while not life.finished and ex.in_flight < ctx.pipeline:
                start = time.monotonic_ns()
                request = issue(ctx, ex, self.seq, start, start)
                if not request:
                    if life.window_closed(ex.in_flight) == RETIRE:
                        return True
                    break
                self.seq += 1
                await sockio.send_all(sock, request)
            if await _step(sock, ex, trio_time(ex.deadline())) == RECONNECT:
                return False
            if not ex.in_flight and life.nothing_in_flight() == RETIRE:
                return True

    def next_mark(self, now_ns: int) -> int:
        return now_ns

    def unsent(self, now_ns: int) -> Iterator[int]:
        return iter(())

    def next_seq(self) -> int:
        return self.seq


class _OpenLoop:
    """Send on schedule, up to ``--pipeline`` requests in flight, as the pump does.

    Two tasks per connection: the sender sleeps until each request is due and sends it
    if a slot is free; if none is, it parks, and the receiver, as a reply frees a slot,
    sends every request that is due and fits at once (the pump's ``_freed``), with no
    trip through the sender. Only one of them sends at a time: the receiver only while
    the sender is parked, and a send the socket does not take whole is finished by the
    sender. The lateness that is the generator's own is recorded from the moment a slot
    was free (``scheduled_send``'s ``ready``).
    """

    __slots__ = (
        "ctx",
        "depth",
        "ended",
        "error",
        "ex",
        "k",
        "life",
        "parked",
        "pending",
        "retire",
        "unparked",
    )

    def __init__(self, ctx: ClientContext) -> None:
        assert ctx.schedule is not None
        self.ctx = ctx
        self.ex = new_exchange(ctx)
        self.depth = ctx.pipeline
        self.k = 0  # the next request of the schedule; it survives reconnects
        self.life = ConnectionLifecycle(ctx.window)  # replaced by serve's
        self.parked = False  # request k is due and waits for a slot: the receiver sends it
        self.unparked = trio.Event()
        self.pending: memoryview | None = None  # the unsent rest of a receiver's send
        self.ended = trio.CancelScope()
        self.retire = False
        self.error: OSError | PeerClosed | None = None

    def due(self, k: int) -> int:
        return due_ns(self.ctx, k)

    async def serve(self, sock: socket.socket, life: ConnectionLifecycle) -> bool:
        self._begin(life)
        async with trio.open_nursery() as nursery:
            self.ended = nursery.cancel_scope
            nursery.start_soon(self._sending, sock)
            nursery.start_soon(self._receiving, sock)
        if self.error is not None:
            raise self.error
        return self.retire

    def _begin(self, life: ConnectionLifecycle) -> None:
        """A new connection's state. A method of its own: set in :meth:`serve` itself, its
        ``error = None`` would stay narrowed to None across the nursery's await, where
        the tasks set it, and the compiled build checks reads against that."""
        self.life = life
        self.parked = False
        self.pending = None
        self.retire = False
        self.error = None

    def _end(self, retire: bool, error: OSError | PeerClosed | None = None) -> None:
        """This connection is over (the first to say so decides how)."""
        if not self.ended.cancel_called:
            self.retire = retire
            self.error = error
            self.ended.cancel()

    async def _sending(self, sock: socket.socket) -> None:
        try:
            await self._send(sock)
        except (OSError, PeerClosed) as exc:
            self._end(False, exc)

    async def _receiving(self, sock: socket.socket) -> None:
        try:
            await self._receive(sock)
        except (OSError, PeerClosed) as exc:
            self._end(False, exc)

    async def _send(self, sock: socket.socket) -> None:
        ex = self.ex
        ctx = self.ctx
        recorder = ctx.recorder
        # When this task could last send after waiting on the connection (its start: what
        # came due while it reconnected went out once it could, as the pump's do).
        free = time.monotonic_ns()
        while True:
            if self.pending is not None:  # the rest of a receiver's send
                handed, self.pending = self.pending, None
                await sockio.send_all(sock, handed)
                free = time.monotonic_ns()
            due = self.due(self.k)
            if ex.window.closed(due):
                self._window_closed()
                return
            if due > time.monotonic_ns():
                await sleep_until_ns(due)
            if ex.in_flight >= self.depth:
                self.parked = True
                self.unparked = trio.Event()
                await self.unparked.wait()
                continue
            sent = time.monotonic_ns()
            request = issue(ctx, ex, self.k, due, sent)
            if not request:
                self._window_closed()
                return
            self.k += 1
            recorder.scheduled_send(due, free, sent)
            rest = _send_now(sock, request)
            if rest is not None:
                await sockio.send_all(sock, rest)
                free = time.monotonic_ns()

    def _window_closed(self) -> None:
        if self.life.window_closed(self.ex.in_flight) == RETIRE:
            self._end(True)

    def _send_due(self, sock: socket.socket) -> None:
        """A reply freed a slot while the sender is parked: send every request that is due
        and fits, now (as the pump's ``_freed``); the sender takes over once the next one
        is not due yet, the window closed, or the socket did not take a request whole."""
        ex = self.ex
        ctx = self.ctx
        ready = time.monotonic_ns()  # a slot is free from now
        while ex.in_flight < self.depth:
            due = self.due(self.k)
            sent = time.monotonic_ns()
            if due > sent or ex.window.closed(due):
                break
            request = issue(ctx, ex, self.k, due, sent)
            if not request:
                break
            self.k += 1
            ctx.recorder.scheduled_send(due, ready, sent)
            self.pending = _send_now(sock, request)
            if self.pending is not None:
                break
        else:
            return  # every slot in use again: still parked, the next reply goes on
        self.parked = False
        self.unparked.set()

    async def _receive(self, sock: socket.socket) -> None:
        """Read replies; wake at each deadline, and at least once a timeout when idle."""
        ex = self.ex
        idle_s = self.ctx.timeout_s
        while True:
            # One scope until a wait runs out, its deadline moved with each read: a new
            # CancelScope per read would cost ~30 allocations on the hot path.
            with trio.CancelScope() as scope:
                while True:
                    if ex.in_flight:
                        scope.deadline = trio_time(ex.deadline())
                    else:
                        scope.deadline = trio.current_time() + idle_s
                    if await _read(sock, ex) == RECONNECT:
                        self._end(False)
                        return
                    if self._replied(sock):
                        return
            # The deadline passed on trio's clock; the exchange judges by its own.
            if ex.expire(time.monotonic_ns()) == RECONNECT:
                self._end(False)
                return
            if self._replied(sock):
                return

    def _replied(self, sock: socket.socket) -> bool:
        """After a read: use the slots it freed, or retire; True: the connection is over."""
        ex = self.ex
        if self.parked and ex.in_flight < self.depth:
            self._send_due(sock)
        if not ex.in_flight and self.life.nothing_in_flight() == RETIRE:
            self._end(True)
            return True
        return False

    def next_mark(self, now_ns: int) -> int:
        return self.due(self.k)

    def unsent(self, now_ns: int) -> Iterator[int]:
        return backlog(self.ctx, self.k, now_ns)

    def next_seq(self) -> int:
        return self.k


def _send_now(sock: socket.socket, data: bytes) -> memoryview | None:
    """Send what the socket takes now; the rest (None: nothing left)."""
    try:
        sent = sock.send(data)
    except BlockingIOError:
        sent = 0
    return memoryview(data)[sent:] if sent < len(data) else None


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
