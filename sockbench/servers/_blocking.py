"""Pieces shared by the models built on blocking sockets and threads (threaded, threadpool).

A thread blocked in ``recv``/``accept`` cannot watch a stop flag, so stopping
works by waking it from outside: ``shutdown(SHUT_RDWR)`` on its socket makes the
blocked call return at once (Linux does this for TCP, UDP and Unix sockets),
which keeps the per-byte paths free of any extra polling.
"""

from __future__ import annotations

import errno
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from sockbench.core.kinds import ServerBehaviour
from sockbench.servers.behaviour import Payload, datagram_responder
from sockbench.servers.context import ServeContext, StopSignal
from sockbench.servers.discard import discard_blocking
from sockbench.servers.replies import send_datagram
from sockbench.servers.sockets import DATAGRAM_MAX, STREAM_BUFFER
from sockbench.servers.source import source_blocking

ACCEPT_BATCH = 64
JOIN_TIMEOUT_S = 2.0
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def wake(sock: socket.socket) -> None:
    """Make any call blocked on ``sock`` in another thread return."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # ENOTCONN on unconnected UDP still wakes the readers
        pass


def accept_until_stopped(
    listener: socket.socket, stop: StopSignal, handle: Callable[[socket.socket], None]
) -> None:
    """Accept connections, handing each (blocking, TCP_NODELAY) to ``handle``, until stopped.

    Polls the listener together with the stop pipe: one extra syscall per accept
    batch, never per byte.
    """
    listener.setblocking(False)
    nodelay = listener.family != socket.AF_UNIX
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    poller.register(stop.fileno(), select.POLLIN)
    while not stop.is_set():
        poller.poll()
        for _ in range(ACCEPT_BATCH):
            if stop.is_set():
                return
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    # Out of fds: let existing connections finish instead of spinning.
                    stop.wait(0.05)
                    break
                if exc.errno == errno.ECONNABORTED:
                    continue
                raise
            conn.setblocking(True)
            if nodelay:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            handle(conn)


def serve_stream(
    conn: socket.socket, behaviour: ServerBehaviour, tls: ssl.SSLContext | None = None
) -> None:
    """Serve one connection until the peer closes, it fails, or it is shut down. Never raises.

    ``tls``: the connection speaks TLS (its handshake runs here, in the connection's thread),
    over a duplicate of its descriptor: ``conn`` stays as it was given, so shutting it
    down (the server stops) still wakes this thread."""
    if tls is not None:
        try:
            with tls.wrap_socket(conn.dup(), server_side=True) as secured:
                serve_stream(secured, behaviour)
        except OSError:  # the handshake failed (the client counts why), or it was shut down
            pass
        return
    if behaviour is ServerBehaviour.SINK:
        discard_blocking(conn)
        return
    if behaviour is ServerBehaviour.SOURCE:
        source_blocking(conn)
        return
    buf = bytearray(STREAM_BUFFER)
    view = memoryview(buf)
    recv_into = conn.recv_into
    sendall = conn.sendall
    try:
        while n := recv_into(buf):
            sendall(view[:n])
    except OSError:  # reset by the peer, or shut down because the server stops
        pass


def read_datagrams(
    sock: socket.socket, ctx: ServeContext, reply: Callable[[Payload, Any], None]
) -> None:
    """Blocking recvfrom loop: apply the mode and pass each reply to ``reply``, until stopped.

    Echo replies are views of a reused buffer, valid only until ``reply`` returns.
    """
    respond = datagram_responder(ctx.behaviour, sock, ctx.stop)
    buf = bytearray(DATAGRAM_MAX)
    view = memoryview(buf)
    recvfrom_into = sock.recvfrom_into
    stop = ctx.stop
    while True:
        try:
            n, addr = recvfrom_into(buf)
        except OSError:
            if stop.is_set() or sock.fileno() < 0:
                return
            continue
        if not n and stop.is_set():  # woken by wake(): an empty read after shutdown
            return
        out = respond(view[:n], addr)
        if out is not None:
            reply(out, addr)


def reply_at_once(sock: socket.socket, ctx: ServeContext) -> Callable[[Payload, Any], None]:
    """The ``reply`` for :func:`read_datagrams` that sends from the reading thread itself."""
    stop = ctx.stop

    def reply(out: Payload, addr: Any) -> None:
        send_datagram(sock, out, addr, stop)

    return reply


def run_datagram_reader(
    sock: socket.socket, ctx: ServeContext, reply: Callable[[Payload, Any], None]
) -> None:
    """Run :func:`read_datagrams` in a thread; report ready, wait for stop, wake and join it."""
    reader = threading.Thread(
        target=read_datagrams, args=(sock, ctx, reply), name="sockbench-dgram", daemon=True
    )
    reader.start()
    ctx.ready()
    ctx.stop.wait()
    wake(sock)
    reader.join(JOIN_TIMEOUT_S)


class Connections:
    """Live connections and the threads serving them, so a stop can wake and join them all.

    The lock makes "remove and close" atomic against "shut down every live one",
    so a socket is never shut down after another thread closed (and the kernel
    reused) its file descriptor.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[socket.socket, threading.Thread | None] = {}

    def add(self, conn: socket.socket, thread: threading.Thread | None = None) -> None:
        with self._lock:
            self._live[conn] = thread

    def close(self, conn: socket.socket) -> None:
        with self._lock:
            self._live.pop(conn, None)
            conn.close()

    def shutdown_all(self) -> None:
        with self._lock:
            for conn in self._live:
                wake(conn)

    def join(self, timeout: float = JOIN_TIMEOUT_S) -> None:
        with self._lock:
            threads = [t for t in self._live.values() if t is not None]
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def close_all(self) -> None:
        with self._lock:
            for conn in self._live:
                conn.close()
            self._live.clear()
