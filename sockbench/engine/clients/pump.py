"""Closed-loop request/reply for many connections in one trio task, through a nested epoll set.

A trio task per client costs a trip through trio's scheduler and an ``epoll_ctl``
for every request: about two thirds of the generator's CPU in a closed-loop echo
benchmark. Here every connection of a worker is registered once, level-triggered,
in an epoll set of our own; trio waits for that one descriptor to become readable
(the set has events), and the pump then serves every ready connection in a batch:
``recv``, feed the exchange, ``send`` the next request. trio still owns the run:
connecting, cancellation at the end of the drain, timers, the other tasks.

What the bytes mean is decided by one :class:`~sockbench.core.exchange.StreamExchange`
per connection, exactly as in the task-per-client driver. The pump serves closed
loop over stream sockets; open loop, pipelining and datagrams use a task per client.
"""

from __future__ import annotations

import select
import socket
import time

import trio

from sockbench.core.exchange import RECONNECT, StreamExchange
from sockbench.engine import sockio
from sockbench.engine.clients.context import ClientContext, connect_stream
from sockbench.engine.clients.stream import new_exchange
from sockbench.engine.error_kinds import error_kind
from sockbench.engine.gate import StartGate

_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_READ = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
SWEEP_MIN_S = 0.05
SWEEP_MAX_S = 0.25


class _Conn:
    __slots__ = ("backoff", "ctx", "ex", "pending", "served_mark", "sock")

    def __init__(
        self, sock: socket.socket, ex: StreamExchange, ctx: ClientContext, backoff: sockio.Backoff
    ) -> None:
        self.backoff = backoff
        # The worker's completed count when this connection joined: unchanged at a drop
        # means nothing was served meanwhile (a target that closes at once).
        self.served_mark = ctx.recorder.requests
        self.sock = sock
        self.ex = ex
        self.ctx = ctx
        self.pending: memoryview | None = None  # the unsent rest of a request


class Pump:
    """Every closed-loop client of one worker, served by one pump task."""

    def __init__(self, clients: list[ClientContext], busy_poll: bool = False) -> None:
        self.clients = clients
        self.busy_poll = busy_poll
        self.epoll = select.epoll()
        self.conns: dict[int, _Conn] = {}
        first = clients[0]
        self.request = first.request
        self.timeout_ns = int(first.timeout_s * 1e9)
        self.gate = first.gate

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for ctx in self.clients:
                    nursery.start_soon(self._join, ctx, new_exchange(ctx), self.gate)
                await self.gate.go.wait()
                nursery.start_soon(self._sweep_timeouts)
                await self._pump()
        finally:
            now = time.monotonic_ns()
            for conn in self.conns.values():
                conn.ex.finish(now, conn.ctx.interrupted())
                sockio.close(conn.sock)
            self.conns.clear()
            self.epoll.close()

    async def _join(
        self,
        ctx: ClientContext,
        ex: StreamExchange,
        gate: StartGate | None,
        backoff: sockio.Backoff | None = None,
    ) -> None:
        """Connect one client (counting the attempt at the gate) and add it to the set."""
        backoff = backoff or sockio.Backoff()
        sock = await connect_stream(ctx, gate, backoff)
        if sock is None:
            ctx.recorder.retire()
            return
        await self.gate.go.wait()
        conn = _Conn(sock, ex, ctx, backoff)
        fd = sock.fileno()
        self.conns[fd] = conn
        self.epoll.register(fd, _IN)
        self._send(fd, conn)

    def _send(self, fd: int, conn: _Conn) -> None:
        start = time.monotonic_ns()
        if not conn.ex.issue(start, start):
            self._leave(fd, conn)
            conn.ctx.recorder.retire()
            return
        request = self.request
        try:
            sent = conn.sock.send(request)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._drop(fd, conn, error_kind(exc))
            return
        if sent < len(request):
            conn.pending = memoryview(request)[sent:]
            self.epoll.modify(fd, _IN | _OUT)

    def _send_rest(self, fd: int, conn: _Conn) -> None:
        assert conn.pending is not None
        try:
            sent = conn.sock.send(conn.pending)
        except BlockingIOError:
            return
        except OSError as exc:
            self._drop(fd, conn, error_kind(exc))
            return
        conn.pending = conn.pending[sent:] if sent < len(conn.pending) else None
        if conn.pending is None:
            self.epoll.modify(fd, _IN)

    def _leave(self, fd: int, conn: _Conn) -> None:
        del self.conns[fd]
        self.epoll.unregister(fd)
        sockio.close(conn.sock)
        conn.pending = None

    def _drop(self, fd: int, conn: _Conn, kind: str | None) -> None:
        """Close the connection (counting ``kind`` unless the exchange did) and reconnect."""
        now = time.monotonic_ns()
        if kind is not None:
            conn.ex.fail(kind, now)
        self._leave(fd, conn)
        if conn.ex.window.closed(now):
            conn.ctx.recorder.retire()  # nothing left to reconnect for
            return
        # The target ended a connection that served nothing: wait before the next.
        # A wrong or late reply is an answer; those clients reconnect at once.
        if kind in ("mismatch", "timeout") or conn.ctx.recorder.requests != conn.served_mark:
            conn.backoff.reset()
        else:
            conn.backoff.arm()
        self._nursery.start_soon(self._join, conn.ctx, conn.ex, None, conn.backoff)

    async def _pump(self) -> None:
        poll = self.epoll.poll
        conns = self.conns
        monotonic_ns = time.monotonic_ns
        epoll_fd = self.epoll.fileno()
        busy = self.busy_poll
        checkpoint = trio.lowlevel.checkpoint
        while True:
            if busy:
                # Spin: look again at once, yielding to trio between looks. Burns the
                # core, saves the wake-up latency of a blocking wait (~10 µs a request).
                await checkpoint()
            else:
                await trio.lowlevel.wait_readable(epoll_fd)
            for fd, events in poll(0):
                conn = conns.get(fd)
                if conn is None:
                    continue
                if events & _OUT and conn.pending is not None:
                    self._send_rest(fd, conn)
                    if fd not in conns:
                        continue
                if not events & _READ:
                    continue
                ex = conn.ex
                try:
                    n = conn.sock.recv_into(ex.space())
                except BlockingIOError:
                    continue
                except OSError as exc:
                    self._drop(fd, conn, error_kind(exc))
                    continue
                if n == 0:
                    self._drop(fd, conn, "closed")
                    continue
                if ex.received(n, monotonic_ns()) == RECONNECT:
                    self._drop(fd, conn, None)
                elif not ex.in_flight:
                    if conn.pending is not None:
                        # A whole reply before the whole request went out: not an echo.
                        self._drop(fd, conn, "mismatch")
                    else:
                        self._send(fd, conn)

    async def _sweep_timeouts(self) -> None:
        """Recycle connections whose reply is overdue (checked a few times a timeout)."""
        pause = min(SWEEP_MAX_S, max(SWEEP_MIN_S, self.timeout_ns / 4e9))
        while True:
            await trio.sleep(pause)
            now = time.monotonic_ns()
            for fd, conn in list(self.conns.items()):
                if conn.ex.expire(now) == RECONNECT:
                    self._drop(fd, conn, None)
