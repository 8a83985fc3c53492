"""The batch pump for protocols: replies parsed by ``check_reply``, requests that vary,
several requests in flight per connection (``--pipeline`` in closed loop).

:class:`~sockbench.engine.batch_client.BatchedClients` reads replies of one known
size straight into a buffer; this subclass reads into a per-connection
:class:`~sockbench.core.expect.ReplyBuffer`, takes every complete reply the read
brought, and answers each with the client's next request, so ``--pipeline N``
keeps N requests in flight the way memtier's ``--pipeline`` does. The requests
that replace a batch of replies go out in one ``send``. Latency runs from the
send of each request to the read that completed its reply.
"""

from __future__ import annotations

import collections
import select
import socket
import time

import trio

from sockbench.core.expect import ReplyBuffer
from sockbench.core.protocols import Exchange, error_kind_of
from sockbench.endpoints import Endpoint
from sockbench.engine import sockio
from sockbench.engine.batch_client import BatchedClients
from sockbench.engine.error_kinds import error_kind
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats
from sockbench.engine.stream_client import REPLY_BUFFER_SIZE, connect_with_retry

_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_NEVER = 2**63 - 1
# (sent_ns, request size, kind or None)
_Request = tuple[int, int, str | None]


class _ProtoConn:
    __slots__ = (
        "client",
        "in_flight",
        "pending",
        "replies",
        "seq",
        "setup_pending",
        "sock",
        "source",
        "start",
    )

    def __init__(self, sock: socket.socket, client: int, seq: int, source: str | None) -> None:
        self.sock = sock
        self.client = client
        self.seq = seq
        self.source = source
        self.replies = ReplyBuffer(REPLY_BUFFER_SIZE, REPLY_BUFFER_SIZE // 4)
        self.in_flight: collections.deque[_Request] = collections.deque()
        self.pending: memoryview | None = None
        self.setup_pending = False
        self.start = _NEVER  # when the oldest request in flight was sent (for timeouts)


class ProtocolClients(BatchedClients):
    """Every closed-loop client of one worker speaking ``exchange``, ``pipeline`` deep."""

    def __init__(
        self,
        endpoint: Endpoint,
        exchange: Exchange,
        pipeline: int,
        first_client: int,
        timeout_s: float,
        stats: LiveStats,
        gate: StartGate,
        limiter: trio.CapacityLimiter,
        busy_poll: bool = False,
    ) -> None:
        super().__init__(
            endpoint, b"", None, 0, timeout_s, stats, gate, limiter, busy_poll=busy_poll
        )
        self.exchange = exchange
        self.pipeline = pipeline
        self._next_client = first_client
        # (client, seq) of dropped connections: their replacement carries on from there.
        self._resume: list[tuple[int, int]] = []
        self.conns: dict[int, _ProtoConn] = {}  # type: ignore[assignment]

    async def _join(self, source: str | None, gate: StartGate | None) -> None:
        if self._resume:
            client, seq = self._resume.pop()
        else:
            client, seq = self._next_client, 0
            self._next_client += 1
        sock = await connect_with_retry(self.endpoint, self.stats, gate, self.limiter, source)
        await self.gate.go.wait()
        conn = _ProtoConn(sock, client, seq, source)
        fd = sock.fileno()
        self.conns[fd] = conn
        self.epoll.register(fd, _IN)
        setup = self.exchange.setup(client) if self.exchange.setup is not None else None
        if setup:
            conn.setup_pending = True
            conn.start = time.monotonic_ns()
            self._write(fd, conn, setup)
        else:
            self._issue(fd, conn, self.pipeline)

    def _issue(self, fd: int, conn: _ProtoConn, count: int) -> None:
        """Send the client's next ``count`` requests in one write."""
        exchange = self.exchange
        fixed = exchange.fixed
        kind_of = exchange.kind
        client = conn.client
        seq = conn.seq
        now = time.monotonic_ns()
        if not conn.in_flight:
            conn.start = now
        conn.seq = seq + count
        if count == 1:  # the common case: one reply in, one request out
            request = fixed if fixed is not None else exchange.request(client, seq)
            kind = kind_of(client, seq) if kind_of is not None else None
            conn.in_flight.append((now, len(request), kind))
            self._write(fd, conn, request)
            return
        parts = []
        for i in range(seq, seq + count):
            request = fixed if fixed is not None else exchange.request(client, i)
            parts.append(request)
            conn.in_flight.append(
                (now, len(request), kind_of(client, i) if kind_of is not None else None)
            )
        self._write(fd, conn, b"".join(parts))

    def _write(self, fd: int, conn: _ProtoConn, data: bytes) -> None:
        if conn.pending is not None:
            # Still writing the previous batch: queue behind it (rare, big requests).
            conn.pending = memoryview(bytes(conn.pending) + data)
            return
        try:
            sent = conn.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._drop(fd, conn, error_kind(exc))
            return
        if sent < len(data):
            conn.pending = memoryview(data)[sent:]
            self.epoll.modify(fd, _IN | _OUT)

    def _drop(self, fd: int, conn: _ProtoConn, kind: str) -> None:  # type: ignore[override]
        """Count the error against the request it hit, and reconnect where it left off."""
        request_kind = conn.in_flight[0][2] if conn.in_flight else None
        self.stats.error(kind, request_kind)
        del self.conns[fd]
        self.epoll.unregister(fd)
        sockio.close(conn.sock)
        self._resume.append((conn.client, conn.seq))
        self._nursery.start_soon(self._join, conn.source, None)

    async def _pump(self) -> None:
        poll = self.epoll.poll
        conns = self.conns
        stats = self.stats
        check = self.exchange.check_reply
        monotonic_ns = time.monotonic_ns
        epoll_fd = self.epoll.fileno()
        busy = self.busy_poll
        checkpoint = trio.lowlevel.checkpoint
        while True:
            if busy:
                await checkpoint()
            else:
                await trio.lowlevel.wait_readable(epoll_fd)
            for fd, events in poll(0):
                conn = conns.get(fd)
                if conn is None:
                    continue
                if events & _OUT and conn.pending is not None:
                    self._send_rest(fd, conn)  # type: ignore[arg-type]
                    if fd not in conns:
                        continue
                if not events & (_IN | select.EPOLLERR | select.EPOLLHUP):
                    continue
                replies = conn.replies
                try:
                    n = conn.sock.recv_into(replies.space())
                except BlockingIOError:
                    continue
                except OSError as exc:
                    self._drop(fd, conn, error_kind(exc))
                    continue
                if n == 0:
                    self._drop(fd, conn, "closed")
                    continue
                replies.commit(n)
                end = monotonic_ns()
                data = replies.data
                in_flight = conn.in_flight
                done = size = 0
                while replies.start < replies.end:
                    size = check(data, replies.start, replies.end)
                    if size <= 0:
                        break
                    replies.start += size
                    if conn.setup_pending:
                        conn.setup_pending = False
                        done = self.pipeline
                        continue
                    if not in_flight:
                        size = -1  # a reply nobody asked for
                        break
                    sent, nbytes, kind = in_flight.popleft()
                    if kind is None:
                        stats.complete(sent, end, nbytes, received=size)
                    else:
                        stats.complete_kind(kind, sent, end, nbytes, size)
                    done += 1
                if size < 0:
                    self._drop(fd, conn, error_kind_of(size))
                    continue
                if done and not stats.done.is_set():  # past --requests: send no more
                    conn.start = in_flight[0][0] if in_flight else end
                    self._issue(fd, conn, done)
                elif not in_flight:
                    conn.start = _NEVER
