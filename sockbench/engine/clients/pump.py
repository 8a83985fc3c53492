"""Every echo-mode client of a worker in one trio task, through a nested epoll set.

A trio task per client costs a trip through trio's scheduler and an ``epoll_ctl``
for every request: about two thirds of the generator's CPU in a closed-loop echo
benchmark. Here every socket of a worker is registered once, level-triggered, in an
epoll set of our own, and the pump serves every ready socket in a batch: ``recv``,
feed the exchange, ``send`` what may go next. trio still owns the run: connecting,
a protocol's setup, cancellation at the end of the drain, the other tasks.

The pump blocks in its own ``epoll_wait``, with trio's epoll descriptor in the same
set and the wait bounded by trio's next deadline, and yields to trio whenever trio
has work (:mod:`sockbench.engine.io.trio_host`): one hop from a reply to the pump, not
trio's wait, then a wake-up of the pump, then its own poll. Where trio's internals
are not as expected, it waits through trio the two-hop way.

One loop serves every workload of echo mode: stream and datagram sockets, closed
and open loop, ``--pipeline``, protocols with varying requests and parsed replies.
Per wake it (1) serves the ready sockets, (2) sends the open-loop requests that are due,
from a heap holding each client's next due time, (3) every ``SWEEP`` expires overdue
requests. Behind its schedule, a turn sends at most ``TURN_DUES`` and reads every ready
socket's replies owed: a generator that only sent its backlog would leave the replies in
the kernel, which drops them once a socket's buffer is full, and a UDP target would read
as losing them. Its wait is bounded by the next due time through a timerfd in the
same epoll set, armed ``EARLY_NS`` before it (see :mod:`sockbench.engine.io.timing`),
and the last stretch is spun, so open-loop sends keep the precise sleeps' accuracy.

What the bytes mean is decided by one exchange per client
(:class:`~sockbench.core.exchange.StreamExchange`,
:class:`~sockbench.core.exchange.DatagramExchange`), exactly as in the task-per-client
drivers (``--no-batch``), which stay as the reference.
"""

from __future__ import annotations

import heapq
import select
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar, cast

import trio

from sockbench.core import datagrams as dg
from sockbench.core.exchange import MISMATCHED, NEVER, RECONNECT, DatagramExchange
from sockbench.core.lifecycle import RETIRE, SERVE, ConnectionLifecycle
from sockbench.core.protocols.simple import payload_bytes
from sockbench.engine.clients.context import (
    ClientContext,
    ProtocolGuard,
    first_connect,
    open_counted,
    reconnect,
    trio_time,
)
from sockbench.engine.clients.datagram import receive_one
from sockbench.engine.clients.reference import (
    SETUP_ERRORS,
    backlog,
    due_ns,
    ended_by_reply,
    issue,
    issue_batch,
    new_exchange,
    send_setup,
    setup_error_kind,
)
from sockbench.engine.io import sockio, sysio
from sockbench.engine.io.error_kinds import error_kind
from sockbench.engine.io.kernel_drops import receive_drops
from sockbench.engine.io.timing import LOOP, SPIN_STEP_NS, new_timer, wake_at
from sockbench.engine.io.tls import TlsSocket
from sockbench.engine.io.trio_host import TrioHost, current_host

_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_READ = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
SWEEP_MIN_S = 0.05
SWEEP_MAX_S = 0.25
# Open loop: a turn reads at most this many more datagrams from one socket, and sends at
# most TURN_DUES due requests, so a generator that is behind keeps reading while it sends.
DATAGRAM_READS = 63
TURN_DUES = 64
UNBOUNDED = 2**62  # open-loop datagrams: no limit on what is in flight (as the task driver)
# A client between connections has no socket; it is never in the epoll set then.
_NO_SOCKET = cast(socket.socket, None)
_NO_STREAM = cast(sysio.Stream, None)
_T = TypeVar("_T")


class _Client(ConnectionLifecycle):
    """One client's state in the pump; it outlives the client's connections.

    It is the client's :class:`ConnectionLifecycle` too, so ``finished`` and ``retired``,
    read per reply and per due request, are attributes of this object, not of another.
    """

    __slots__ = (
        "ahead",
        "ctx",
        "depth",
        "due",
        "fd",
        "index",
        "io",
        "parked",
        "pending",
        "seq",
        "sock",
    )

    def __init__(self, ctx: ClientContext, depth: int) -> None:
        super().__init__(ctx.window)
        self.ctx = ctx
        self.index = ctx.index  # unique in the worker: the heap's tie-break
        self.depth = depth  # requests in flight at most
        self.sock = _NO_SOCKET
        self.io = _NO_STREAM  # what its bytes go through (sysio.stream), while in the set
        self.fd = -1  # -1: not connected
        self.seq = 0  # the next request's number (open loop: its place in the schedule)
        self.due = NEVER  # open loop: when request ``seq`` is due
        self.parked = False  # request ``seq`` is due but waits for a slot or a connection
        self.pending: memoryview | None = None  # the unsent rest of a request
        # A varying request's ``seq``-th, built once the one before went out: a reply's
        # next request then goes out without the build (b"": not built).
        self.ahead = b""


class _Stream(_Client):
    __slots__ = ("ex",)

    def __init__(self, ctx: ClientContext, depth: int) -> None:
        super().__init__(ctx, depth)
        self.ex = new_exchange(ctx)

    def next_mark(self, now_ns: int, open_loop: bool) -> int:
        """The mark of this client's next request: its due time, or now (closed loop)."""
        return self.due if open_loop else now_ns


class _Datagram(_Client):
    __slots__ = ("ex", "out")

    def __init__(self, ctx: ClientContext, depth: int, sock: socket.socket) -> None:
        super().__init__(ctx, depth)
        # The same deterministic payload as streams; the first 8 bytes carry the number.
        self.out = bytearray(payload_bytes(len(ctx.request)))
        self.ex = DatagramExchange(ctx.window, ctx.recorder, bytes(self.out))
        ctx.recorder.datagram_exchanges.append(self.ex)
        self.sock = sock
        self.io = sysio.stream(sock)
        self.fd = sock.fileno()
        self.connected()
        self.opened(0)  # a datagram socket has no setup and is never replaced


def _close(client: _Client) -> None:
    """Close the client's socket; a datagram socket's drops are read first (the kernel's
    count goes with the socket)."""
    client.io = _NO_STREAM  # before the descriptor's number can be another socket's
    if isinstance(client, _Datagram):
        client.ex.dropped = receive_drops(client.sock)
    sockio.close(client.sock)


class Pump:
    """Every echo-mode client of one worker, served by one pump task."""

    def __init__(self, clients: list[ClientContext], busy_poll: bool = False) -> None:
        self.clients = clients
        self.busy_poll = busy_poll
        self.epoll = select.epoll()
        self.conns: dict[int, _Stream] = {}  # connected stream clients by descriptor
        self.dgrams: dict[int, _Datagram] = {}
        self.everyone: list[_Stream | _Datagram] = []
        first = clients[0]
        self.request = first.request
        self.varies = first.protocol is not None and first.protocol.fixed is None
        self.open_loop = first.schedule is not None
        self.stream = first.endpoint.proto.is_stream
        self.recorder = first.recorder
        self.gate = first.gate
        self.sweep_ns = int(min(SWEEP_MAX_S, max(SWEEP_MIN_S, first.timeout_s / 4)) * 1e9)
        self.heap: list[tuple[int, int, _Stream | _Datagram]] = []  # (due, index, client)
        self.timer = new_timer()
        self.armed = NEVER
        self.started = False  # the gate opened and the clients there were let go
        # Connected before the gate opened: no task, no epoll entry yet (see _connect).
        self.ready: list[_Stream] = []
        protocol = first.protocol
        self.setup = protocol is not None and protocol.setup is not None
        # As many connectors as connects may be in flight: the same SYN burst as a task
        # per client had, from a fixed number of tasks.
        self.connectors = max(1, min(len(clients), int(first.limiter.total_tokens)))
        # TLS connections whose last read left decrypted bytes in TLS, where no epoll
        # wait sees them: served as if ready on the next turn (engine/io/tls.py).
        self.tls_backlog: list[TlsSocket] = []
        self.host: TrioHost | None = None  # trio's epoll, joined to the pump's (_pump)

    async def run(self) -> None:
        try:
            with ProtocolGuard(self.clients[0]):
                await self._serve()
        finally:
            if self.host is not None:
                trio.lowlevel.remove_instrument(self.host)
            self._finish()

    async def _serve(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self.timer is not None:
                self.epoll.register(self.timer.fd, _IN)
            if self.stream:
                conns = [_Stream(ctx, ctx.pipeline) for ctx in self.clients]
                self.everyone.extend(conns)
                self._spread(self._connect, iter(conns))
            else:
                self._spread(self._open_datagrams, iter(self.clients))
            await self.gate.go.wait()
            self._start()
            await self._pump()

    def _spread(self, work: Callable[[Iterator[_T]], Awaitable[None]], queue: Iterator[_T]) -> None:
        """Run ``work`` in the connector tasks, which take items from ``queue`` in turn."""
        for _ in range(self.connectors):
            self._nursery.start_soon(work, queue)

    def _start(self) -> None:
        """The clients are let go: the connected join, first requests or first due times."""
        self.started = True
        ready, self.ready = self.ready, []
        if self.setup:
            self._spread(self._set_up, iter(ready))
        else:
            for conn in ready:
                self._add(conn, conn.sock)
        for client in self.everyone:
            if not client.retired:
                self._begin(client)

    def _begin(self, client: _Stream | _Datagram) -> None:
        if self.open_loop:
            client.due = due_ns(client.ctx, 0)
            self._schedule(client)
        elif isinstance(client, _Datagram):
            self._send_datagram(client)
        # closed-loop streams start as they join

    def _finish(self) -> None:
        now = time.monotonic_ns()
        interrupted = self.recorder.interrupted
        for client in self.everyone:
            unsent = backlog(client.ctx, client.seq, now) if self.open_loop else ()
            client.ex.finish(now, interrupted, unsent)
            if client.sock is not _NO_SOCKET:  # connected, or waiting for the gate or a setup
                _close(client)
                client.fd = -1
        self.conns.clear()
        self.dgrams.clear()
        self.epoll.close()
        if self.timer is not None:
            self.timer.close()

    # --- joining and leaving -------------------------------------------------------

    async def _open_datagrams(self, queue: Iterator[ClientContext]) -> None:
        """A connector: open datagram sockets, each at its client's turn in the ramp."""
        for ctx in queue:
            await self.gate.turn(ctx.start_ns)  # --ramp, --connect-rate
            self._open_datagram(ctx)

    def _open_datagram(self, ctx: ClientContext) -> None:
        sock = open_counted(ctx)
        if sock is None:
            ctx.recorder.retire()
            return
        depth = UNBOUNDED if self.open_loop else 1
        client = _Datagram(ctx, depth, sock)
        self.everyone.append(client)
        self.dgrams[client.fd] = client
        self.epoll.register(client.fd, _IN)
        if self.started:  # a ramped client, opened after the others went
            self._begin(client)

    async def _connect(self, queue: Iterator[_Stream]) -> None:
        """A connector: first connects, in ramp order, each counted at the gate.

        A task per client held its frames, a cancel scope and a parked wait for the gate
        until the gate opened: 3 KiB a client at the peak, which the allocator kept after
        the tasks ended. Here a connected client holds no task: it waits in ``ready``
        for the gate (:meth:`_start`), or, the gate open, joins at once. Only a client
        whose first attempt failed, or whose protocol has a setup after the gate
        opened, gets a task of its own (:meth:`_join`) for its retries.
        """
        for conn in queue:
            sock = await first_connect(conn.ctx, self.gate)
            if sock is None:
                action = conn.connect_failed(time.monotonic_ns())
                self._nursery.start_soon(self._join, conn, action)
                continue
            conn.connected()
            if not self.started:
                conn.sock = sock  # not in the epoll set (fd -1) until the gate opens
                self.ready.append(conn)
            elif self.setup:
                conn.sock = sock
                self._nursery.start_soon(self._set_up, iter((conn,)))
            else:
                self._add(conn, sock)

    async def _set_up(self, queue: Iterator[_Stream]) -> None:
        """Run the protocol's setup on connected clients; a failure reconnects in a task."""
        for conn in queue:
            sock = conn.sock
            action = await self._setup(conn, sock)
            if action == SERVE:
                self._add(conn, sock)
            elif action == RETIRE:
                self._retire(conn)
            else:
                self._nursery.start_soon(self._join, conn, action)

    async def _join(self, conn: _Stream, action: int) -> None:
        """Do what the lifecycle said (connect now, or after a wait), run the setup, add
        to the set; again while the setup fails and the lifecycle says so."""
        while True:
            sock = await reconnect(conn.ctx, conn, action)
            if sock is None:
                self._retire(conn)
                return
            conn.sock = sock  # closed by _finish if the run ends first
            await self.gate.go.wait()
            action = await self._setup(conn, sock)
            if action == SERVE:
                self._add(conn, sock)
                return
            if action == RETIRE:
                self._retire(conn)
                return

    async def _setup(self, conn: _Stream, sock: socket.socket) -> int:
        """The protocol's setup on a new connection: ``SERVE``, or what the lifecycle says
        after its failure (counted, the socket closed)."""
        try:
            await send_setup(conn.ctx, sock, conn.connections)
            return SERVE
        except SETUP_ERRORS as exc:
            conn.sock = _NO_SOCKET
            sockio.close(sock)
            now = time.monotonic_ns()
            self.recorder.error(setup_error_kind(exc), now)
            return conn.setup_failed(now, conn.next_mark(now, self.open_loop))

    def _add(self, conn: _Stream, sock: socket.socket) -> None:
        """A connection, set up, joins the epoll set and starts sending."""
        if conn.opened(conn.ex.answered, conn.ex.in_flight) == RETIRE:  # window closed
            conn.sock = _NO_SOCKET
            sockio.close(sock)
            self._retire(conn)
            return
        conn.sock = sock
        conn.io = sysio.stream(sock)
        conn.fd = fd = sock.fileno()
        if isinstance(sock, TlsSocket):
            sock.backlog = self.tls_backlog
        self.conns[fd] = conn
        self.epoll.register(fd, _IN)
        resent = conn.ex.resend(time.monotonic_ns())
        if resent and not self._write(conn, conn.ctx.requests_before(conn.seq, resent)):
            return  # the rest goes out on EPOLLOUT, then _freed (or the connection dropped)
        self._freed(conn)

    def _leave(self, client: _Client) -> None:
        fd = client.fd
        self.conns.pop(fd, None)
        self.dgrams.pop(fd, None)
        self.epoll.unregister(fd)
        _close(client)
        client.sock = _NO_SOCKET
        client.fd = -1
        client.pending = None

    def _retire(self, client: _Client) -> None:
        """The lifecycle said ``RETIRE`` (once): leave the set, tell the recorder."""
        if client.fd >= 0:
            self._leave(client)
        client.ctx.recorder.retire()

    def _window_closed(self, client: _Stream | _Datagram) -> None:
        """Nothing more to issue: the client retires once nothing is in flight."""
        if client.window_closed(client.ex.in_flight) == RETIRE:
            self._retire(client)

    def _drop(self, conn: _Stream, kind: str | None) -> None:
        """Close the connection (counting ``kind`` unless the exchange did; None: the
        exchange ended it on a reply or a deadline) and do what the lifecycle says."""
        now = time.monotonic_ns()
        idle = kind is not None and conn.ex.fail(kind, now)
        self._leave(conn)
        mark = conn.next_mark(now, self.open_loop)
        action = conn.dropped(kind, conn.ex.answered, now, mark, conn.ex.in_flight, idle)
        if action == RETIRE:
            self._retire(conn)
        elif action != SERVE:
            self._nursery.start_soon(self._join, conn, action)

    # --- streams -------------------------------------------------------------------

    def _fill(self, conn: _Stream) -> None:
        """Closed loop: send until ``--pipeline`` requests are in flight, in one write.

        The slots a read's replies freed are filled together, as memtier and wrk fill
        theirs: at ``--pipeline 8`` a send per request cost 2.2x the CPU per request of a
        send per batch (benchmarks/pipelined_sends.py). The batch is issued and built
        at once (:func:`issue_batch`), its requests marked by one clock read before they
        are built: a few µs before the write, so latencies can only read that much
        longer, never shorter.
        """
        ex = conn.ex
        free = conn.depth - ex.in_flight
        if free == 1:  # one request, the common case: issued inline, its send marked now
            start = time.monotonic_ns()
            if not self.varies:
                if ex.issue(start, start):
                    self._write(conn, self.request)
                    return
            elif request := issue(conn.ctx, ex, conn.seq, start, start, conn.ahead):
                conn.seq += 1  # only a varying request needs its number
                self._write(conn, request)
                conn.ahead = conn.ctx.request_for(conn.seq)  # built after the send, not before
                return
            self._window_closed(conn)
            return
        if free <= 0:
            return
        data, issued = issue_batch(conn.ctx, ex, conn.seq, free, time.monotonic_ns(), conn.ahead)
        conn.seq += issued
        conn.ahead = b""  # used, or the window closed: the next one is built when needed
        if issued < free:
            self._window_closed(conn)
        if issued:
            self._write(conn, data)

    def _send_due(self, conn: _Stream, due: int, ready: int) -> None:
        """Open loop: send request ``seq``, due at ``due`` (the generator could from
        ``ready``), and every later one that is due already while a slot is free: a
        backlog goes out as slots free, not one per turn through the heap."""
        ex = conn.ex
        ctx = conn.ctx
        while True:
            sent = time.monotonic_ns()
            request = issue(ctx, ex, conn.seq, due, sent, conn.ahead)
            if not request:
                self._window_closed(conn)
                return
            self.recorder.scheduled_send(due, ready, sent)
            conn.seq += 1
            due = conn.due = due_ns(ctx, conn.seq)
            if due > sent:  # the common case: the next one is not due yet
                if due < ex.window.measure_end_ns:  # _schedule, inline: a call per request
                    heapq.heappush(self.heap, (due, conn.index, conn))
                else:  # this one is in flight: the last retires once it ends
                    self._window_closed(conn)
                self._write(conn, request)
                if self.varies:
                    conn.ahead = ctx.request_for(conn.seq)
                return
            whole = self._write(conn, request)
            if self.varies:
                conn.ahead = ctx.request_for(conn.seq)
            if not whole or ex.in_flight >= conn.depth:
                # No slot (or the connection dropped): the next one goes out as soon as a
                # reply frees one, or the connection is back (_freed).
                conn.parked = True
                return

    def _write(self, conn: _Stream, data: bytes) -> bool:
        """Send what the socket takes now; the rest waits for EPOLLOUT. True if all went."""
        try:
            sent = conn.io.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._send_failed(conn, exc)
            return False
        if sent < len(data):
            conn.pending = memoryview(data)[sent:]
            self.epoll.modify(conn.fd, _IN | _OUT)
            return False
        return True

    def _send_failed(self, conn: _Stream, exc: OSError) -> None:
        """A send failed: the error counts unless what came before it ended the
        connection (``ended_by_reply``: a reply announced the close)."""
        self._drop(conn, None if ended_by_reply(conn.sock, conn.ex) else error_kind(exc))

    def _flush(self, conn: _Stream) -> None:
        pending = conn.pending
        assert pending is not None
        try:
            sent = conn.io.send(pending)
        except BlockingIOError:
            return
        except OSError as exc:
            self._send_failed(conn, exc)
            return
        if sent < len(pending):
            conn.pending = pending[sent:]
            return
        conn.pending = None
        self.epoll.modify(conn.fd, _IN)
        self._freed(conn)

    def _freed(self, conn: _Stream) -> None:
        """A slot may be free (a reply, a flushed send, a new connection): use it."""
        ex = conn.ex
        if conn.pending is not None:
            if not ex.in_flight:
                # A whole reply before the whole request went out: not an echo.
                self._drop(conn, MISMATCHED)
            return
        if ex.in_flight >= conn.depth:
            return
        if conn.finished:
            if not ex.in_flight and conn.nothing_in_flight() == RETIRE:
                self._retire(conn)
        elif not self.open_loop:
            self._fill(conn)
        elif conn.parked:
            conn.parked = False
            self._send_due(conn, conn.due, time.monotonic_ns())

    def _due_stream(self, conn: _Stream, due: int) -> None:
        ex = conn.ex
        if conn.fd >= 0 and conn.pending is None and ex.in_flight < conn.depth:
            self._send_due(conn, due, due)  # its issue finds a closed window: no look first
        elif ex.window.closed(due):
            # Retires if connected with nothing in flight (a request not sent whole is in
            # flight); one reconnecting retires as its connection opens.
            self._window_closed(conn)
        else:
            conn.parked = True  # sent as soon as a slot frees or the connection is back

    # --- datagrams -----------------------------------------------------------------

    def _send_datagram(self, client: _Datagram) -> None:
        """Closed loop: the next datagram (its reply or its loss frees the client)."""
        ex = client.ex
        seq = client.seq
        start = time.monotonic_ns()
        if not self._issue_datagram(client, start, start):
            return
        client.seq = seq + 1
        out = client.out
        try:
            client.io.send(out)
        except BlockingIOError:
            # A full peer queue (unix-dgram): wait for room, as the task driver does.
            client.pending = memoryview(out)
            self.epoll.modify(client.fd, _IN | _OUT)
        except OSError as exc:
            # ICMP errors from earlier datagrams surface on a later call.
            ex.send_failed(seq, error_kind(exc), time.monotonic_ns())
            self._soon(client)

    def _due_datagram(self, client: _Datagram, due: int) -> None:
        """Open loop: send datagram ``seq`` (due at ``due``) whatever is in flight."""
        ex = client.ex
        seq = client.seq
        if ex.window.closed(due):
            self._window_closed(client)
            return
        sent = time.monotonic_ns()
        if not self._issue_datagram(client, due, sent):
            return
        self.recorder.scheduled_send(due, due, sent)
        try:
            client.io.send(client.out)
        except BlockingIOError:
            ex.send_failed(seq, "send_buffer_full", time.monotonic_ns())
        except OSError as exc:
            ex.send_failed(seq, error_kind(exc), time.monotonic_ns())
        client.seq = seq + 1
        client.due = due_ns(client.ctx, seq + 1)
        self._schedule(client)

    def _issue_datagram(self, client: _Datagram, mark_ns: int, sent_ns: int) -> bool:
        """Number datagram ``seq`` and admit it; False: the window closed for the client."""
        dg.SEQ.pack_into(client.out, 0, client.seq)
        if client.ex.issue(client.seq, mark_ns, sent_ns):
            return True
        self._window_closed(client)
        return False

    def _schedule(self, client: _Stream | _Datagram) -> None:
        """Open loop: wait for the client's next due time, unless that is past the window's
        end (which only ever moves earlier): then nothing more is issued, and the client
        retires once nothing is in flight, not at a due time seconds after the window (a
        rate below the client count gives each client an interval of seconds)."""
        if client.due < client.ex.window.measure_end_ns:
            heapq.heappush(self.heap, (client.due, client.index, client))
        else:
            self._window_closed(client)

    def _soon(self, client: _Datagram) -> None:
        """Send the next closed-loop datagram on the pump's next turn (not recursively)."""
        heapq.heappush(self.heap, (time.monotonic_ns(), client.index, client))

    def _on_datagram(self, client: _Datagram, events: int) -> None:
        ex = client.ex
        if events & _OUT and client.pending is not None:
            try:
                client.io.send(client.pending)
            except BlockingIOError:
                pass
            except OSError as exc:
                client.pending = None
                self.epoll.modify(client.fd, _IN)
                ex.send_failed(client.seq - 1, error_kind(exc), time.monotonic_ns())
                self._soon(client)
            else:
                client.pending = None
                self.epoll.modify(client.fd, _IN)
        if not events & _READ or not receive_one(client.io, ex):
            return
        if self.open_loop:
            # Replies owed queue up when the generator is behind: read them now, not one
            # a turn, or the socket's buffer fills and the kernel drops them (counted lost).
            reads = DATAGRAM_READS
            while ex.in_flight and reads and receive_one(client.io, ex):
                reads -= 1
        if (client.finished or not self.open_loop) and not ex.in_flight:
            self._idle_datagram(client)

    def _idle_datagram(self, client: _Datagram) -> None:
        """Nothing in flight: the next closed-loop datagram, or the client is done."""
        if client.pending is not None:
            return
        if client.finished:
            if client.nothing_in_flight() == RETIRE:
                self._retire(client)
        elif not self.open_loop:
            self._send_datagram(client)

    # --- the loop ------------------------------------------------------------------

    def _on_due(self, client: _Stream | _Datagram, due: int) -> None:
        if client.retired:
            return
        if isinstance(client, _Stream):
            self._due_stream(client, due)
        elif self.open_loop:
            self._due_datagram(client, due)
        elif not client.ex.in_flight:
            self._idle_datagram(client)

    def _buffered(self) -> list[tuple[int, int]]:
        """The TLS connections with bytes in TLS, as readable (once each, still open)."""
        buffered = {tls.fileno(): _IN for tls in self.tls_backlog if tls.fileno() in self.conns}
        self.tls_backlog.clear()
        return list(buffered.items())

    def _sweep(self, now: int) -> None:
        """Expire overdue requests: recycle late streams, lose late datagrams."""
        for conn in list(self.conns.values()):
            if conn.ex.expire(now) == RECONNECT:
                self._drop(conn, None)
        for client in list(self.dgrams.values()):
            ex = client.ex
            ex.expire(now)
            if (client.finished or not self.open_loop) and not ex.in_flight:
                self._idle_datagram(client)

    async def _wait(self, epoll_fd: int, wake_ns: int) -> None:
        """Wait through trio for the set to have events, or until ``wake_ns`` (monotonic)."""
        timer = self.timer
        if timer is not None:
            self._arm(wake_ns)
            await trio.lowlevel.wait_readable(epoll_fd)
        else:
            with trio.move_on_at(trio_time(wake_ns)):
                await trio.lowlevel.wait_readable(epoll_fd)

    def _arm(self, wake_ns: int) -> None:
        if self.timer is not None and wake_ns != self.armed:
            self.timer.arm(wake_ns)
            self.armed = wake_ns

    async def _pump(self) -> None:
        poll = sysio.poller(self.epoll)
        conns = self.conns
        dgrams = self.dgrams
        heap = self.heap
        heappop = heapq.heappop
        monotonic_ns = time.monotonic_ns
        epoll_fd = self.epoll.fileno()
        timer_fd = self.timer.fd if self.timer is not None else -1
        busy = self.busy_poll
        closed_loop = not self.open_loop
        checkpoint = trio.lowlevel.checkpoint
        loop = LOOP
        # One hop: trio's own epoll descriptor joins the set, and the pump blocks in
        # its own epoll_wait (see sockbench.engine.io.trio_host); None: through trio.
        self.host = host = None if busy else await current_host()
        host_fd = -1
        if host is not None:
            try:
                self.epoll.register(host.epoll_fd, _IN)
                host_fd = host.epoll_fd
            except OSError:  # ELOOP: trio's set already watches ours
                trio.lowlevel.remove_instrument(host)
                self.host = host = None
        trio_ready = False
        runnable = host.runnable if host is not None else set()
        trio_wake = host.deadline_ns() if host is not None else NEVER  # read after each await
        sweep_at = monotonic_ns() + self.sweep_ns
        # Open loop: due requests are looked at after every this many ready sockets, so a
        # big batch of replies cannot make them late (level-triggered: the rest stay ready).
        batch = 64 if self.open_loop else -1
        turn_dues = TURN_DUES if self.open_loop else -1  # -1: no bound
        tls_backlog = self.tls_backlog
        while True:
            wake = wake_at(heap[0][0]) if heap else sweep_at
            if sweep_at < wake:
                wake = sweep_at
            if tls_backlog:  # bytes wait in TLS already: look, do not wait
                wake = 0
            now = monotonic_ns()
            if busy or wake <= now:
                # Spin: look again at once, yielding to trio between looks. Burns the
                # core, saves the wake-up latency of a blocking wait (~10 µs a request);
                # before a due time, it is the precise last stretch.
                await checkpoint()
                if host is not None:
                    trio_wake = host.deadline_ns()
                ready = poll(0, batch)
                if not ready and (spun := monotonic_ns() - now) < SPIN_STEP_NS:
                    loop.idle_ns += spun  # spin: CPU, but idle (timing.LoopClock)
            elif host is None:
                await self._wait(epoll_fd, wake)
                ready = poll(0, batch)
            elif not runnable and trio_wake > now:
                if wake != self.armed:
                    self._arm(wake)
                ready = poll(((wake if wake < trio_wake else trio_wake) - now) / 1e9, batch)
                loop.idle_ns += monotonic_ns() - now  # blocked: idle (timing.LoopClock)
            else:  # trio has a runnable task or a deadline due: its turn first
                await checkpoint()
                trio_wake = host.deadline_ns()
                ready = poll(0, batch)
            if tls_backlog:
                ready = [*ready, *self._buffered()]
            for fd, events in ready:
                conn = conns.get(fd)
                if conn is None:
                    client = dgrams.get(fd)
                    if client is not None:
                        self._on_datagram(client, events)
                    elif fd == host_fd:
                        trio_ready = True
                    elif fd == timer_fd and self.timer is not None:
                        self.timer.drain()
                    continue
                if events & _OUT and conn.pending is not None:
                    self._flush(conn)
                    if conn.fd != fd:
                        continue
                if not events & _READ:
                    continue
                ex = conn.ex
                try:
                    n = conn.io.recv_into(ex.space())
                except BlockingIOError:
                    continue
                except OSError as exc:
                    self._drop(conn, error_kind(exc))
                    continue
                if n == 0:
                    self._drop(conn, "closed")
                    continue
                if ex.received(n, monotonic_ns()) == RECONNECT:
                    self._drop(conn, None)
                elif ex.in_flight < conn.depth:
                    if closed_loop and conn.pending is None:
                        self._fill(conn)
                    elif closed_loop or conn.parked or conn.finished or conn.pending is not None:
                        # Open loop: a free slot matters only to a request waiting for one,
                        # a client retiring, or an unsent rest (_freed); not per reply.
                        self._freed(conn)
            if trio_ready:  # after the batch: a cancellation must not cut it in two
                trio_ready = False
                await checkpoint()
                if host is not None:
                    trio_wake = host.deadline_ns()
            if heap:  # else the turn's first clock read serves the sweep: one call less
                now = monotonic_ns()
                dues = turn_dues
                while heap and heap[0][0] <= now:
                    due, _, waiting = heappop(heap)
                    self._on_due(waiting, due)
                    dues -= 1
                    if not dues:
                        break
            if now >= sweep_at:
                self._sweep(now)
                sweep_at = now + self.sweep_ns
