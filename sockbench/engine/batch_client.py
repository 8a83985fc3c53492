"""Closed-loop ping-pong for many connections in one trio task, through a nested epoll set.

A trio task per client costs a trip through trio's scheduler and an ``epoll_ctl``
for every request: about two thirds of the generator's CPU in a closed-loop echo
benchmark. Here every connection of a worker is registered once, level-triggered,
in an epoll set of our own; trio waits for that one descriptor to become readable
(the set has events), and the pump then serves every ready connection in a batch:
``recv``, check, record, ``send`` the next request. trio still owns the run:
connecting, cancellation at the end of the window, timers, the other tasks.

It serves the common case only: closed loop over a stream socket with replies of a
known size (echo, ``--expect``, ``--expect-size``). The other workloads use a task
per client (``stream_client``, ``open_loop``).
"""

from __future__ import annotations

import select
import socket
import time

import trio

from sockbench.endpoints import Endpoint
from sockbench.engine import sockio
from sockbench.engine.error_kinds import error_kind
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats
from sockbench.engine.stream_client import connect_with_retry

_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
SWEEP_MIN_S = 0.05
SWEEP_MAX_S = 0.25


class _Conn:
    __slots__ = ("backoff", "buf", "first", "got", "pending", "sock", "source", "start", "view")

    def __init__(
        self, sock: socket.socket, size: int, source: str | None, backoff: sockio.Backoff
    ) -> None:
        self.backoff = backoff
        self.first = 0  # start of the connection's first request: still it at a drop = unserved
        self.sock = sock
        self.buf = bytearray(size)
        self.view = memoryview(self.buf)
        self.got = 0
        self.start = 0
        self.pending: memoryview | None = None  # the unsent rest of a request
        self.source = source


class BatchedClients:
    """Every closed-loop client of one worker, served by one pump task."""

    def __init__(
        self,
        endpoint: Endpoint,
        request: bytes,
        expected: bytes | None,
        size: int,
        timeout_s: float,
        stats: LiveStats,
        gate: StartGate,
        limiter: trio.CapacityLimiter,
        busy_poll: bool = False,
    ) -> None:
        self.busy_poll = busy_poll
        self.endpoint = endpoint
        self.request = request
        self.expected = expected
        self.size = size
        self.timeout_ns = int(timeout_s * 1e9)
        self.stats = stats
        self.gate = gate
        self.limiter = limiter
        self.epoll = select.epoll()
        self.conns: dict[int, _Conn] = {}

    async def run(self, sources: list[str | None]) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for source in sources:
                    nursery.start_soon(self._join, source, self.gate)
                await self.gate.go.wait()
                nursery.start_soon(self._sweep_timeouts)
                await self._pump()
        finally:
            for conn in self.conns.values():
                sockio.close(conn.sock)
            self.conns.clear()
            self.epoll.close()

    async def _join(
        self, source: str | None, gate: StartGate | None, backoff: sockio.Backoff | None = None
    ) -> None:
        """Connect one client (counting the attempt at the gate) and add it to the set."""
        backoff = backoff or sockio.Backoff()
        sock = await connect_with_retry(
            self.endpoint, self.stats, gate, self.limiter, source, backoff
        )
        await self.gate.go.wait()
        conn = _Conn(sock, self.size, source, backoff)
        fd = sock.fileno()
        self.conns[fd] = conn
        self.epoll.register(fd, _IN)
        self._send(fd, conn)
        conn.first = conn.start

    def _send(self, fd: int, conn: _Conn) -> None:
        conn.got = 0
        conn.start = time.monotonic_ns()
        try:
            sent = conn.sock.send(self.request)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._drop(fd, conn, error_kind(exc))
            return
        if sent < len(self.request):
            conn.pending = memoryview(self.request)[sent:]
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

    def _drop(self, fd: int, conn: _Conn, kind: str) -> None:
        """Count the error, close the connection and let the client reconnect."""
        self.stats.error(kind)
        del self.conns[fd]
        self.epoll.unregister(fd)
        sockio.close(conn.sock)
        # The target ended a connection before its first reply: wait before the next.
        # A wrong or late reply is an answer; those clients reconnect at once.
        if conn.first in (0, conn.start) and kind not in ("mismatch", "timeout"):
            conn.backoff.arm()
        else:
            conn.backoff.reset()
        self._nursery.start_soon(self._join, conn.source, None, conn.backoff)

    async def _pump(self) -> None:
        poll = self.epoll.poll
        conns = self.conns
        stats = self.stats
        expected = self.expected
        size = self.size
        nbytes = len(self.request)
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
                if not events & (_IN | select.EPOLLERR | select.EPOLLHUP):
                    continue
                got = conn.got
                try:
                    n = conn.sock.recv_into(conn.view[got:] if got else conn.view, size - got)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    self._drop(fd, conn, error_kind(exc))
                    continue
                if n == 0:
                    self._drop(fd, conn, "closed")
                    continue
                got += n
                if got < size:
                    conn.got = got
                    continue
                end = monotonic_ns()
                if conn.pending is not None or (expected is not None and conn.buf != expected):
                    self._drop(fd, conn, "mismatch")
                    continue
                stats.complete(conn.start, end, nbytes, received=size)
                self._send(fd, conn)

    async def _sweep_timeouts(self) -> None:
        """Recycle connections whose reply is overdue (checked a few times a timeout)."""
        pause = min(SWEEP_MAX_S, max(SWEEP_MIN_S, self.timeout_ns / 4e9))
        while True:
            await trio.sleep(pause)
            deadline = time.monotonic_ns() - self.timeout_ns
            for fd, conn in list(self.conns.items()):
                if conn.start < deadline:
                    self._drop(fd, conn, "timeout")
