"""``selectors``: one thread, non-blocking sockets, ``selectors.DefaultSelector`` (epoll).

The classic reactor: a connection costs one selector registration and a small
state object, not a thread, so tens of thousands of idle connections are cheap.
All work happens on one core, so it tops out where that core does, and one slow
reply delays every other connection. Reads go into one shared buffer (a sink
splices into one pipe to /dev/null instead: ``discard.Discarder``); a reply
that the kernel only partly accepts is kept per connection and the connection
stops being read until it is flushed (backpressure instead of unbounded buffering).
Datagrams are read in batches; replies follow ``replies.send_datagram``.

With ``--server-tls`` each connection is a non-blocking ``ssl.SSLSocket``: its handshake
runs inside its first reads, a read or a send that TLS cannot finish yet is retried on
the next event (the same bytes: OpenSSL's rule), and one read takes one record at most
(16 KiB, under the shared buffer), so nothing decrypted waits where no event sees it.
"""

from __future__ import annotations

import errno
import selectors
import socket
import ssl
import time
from collections.abc import Callable

from sockbench.core.kinds import ServerBehaviour
from sockbench.core.sink_report import encode_report
from sockbench.servers.behaviour import datagram_responder
from sockbench.servers.context import ServeContext
from sockbench.servers.discard import NOT_YET, Discarder
from sockbench.servers.replies import send_datagram
from sockbench.servers.sockets import DATAGRAM_MAX, SHARED_BUFFER
from sockbench.servers.source import SOURCE_CHUNK, StreamCounts

BATCH = 64  # accepts or datagrams per readiness event, so one socket cannot starve the rest
ACCEPT_PAUSE_S = 0.1
_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class _Conn:
    __slots__ = ("nbytes", "out", "reads", "sock", "source")

    def __init__(self, sock: socket.socket, source: bool = False) -> None:
        self.sock = sock
        self.out = bytearray()  # the part of a reply the kernel did not take yet
        self.reads = self.nbytes = 0  # sink mode: what was read, for the report at EOF
        # Source mode: its counts; None once the half-close came (``out`` is the report).
        self.source: StreamCounts | None = StreamCounts() if source else None


_STOP = object()
_ACCEPT = object()


def serve(listener: socket.socket, ctx: ServeContext) -> None:
    listener.setblocking(False)
    with selectors.DefaultSelector() as sel:
        sel.register(ctx.stop.fileno(), _READ, _STOP)
        if ctx.proto.is_stream:
            _serve_streams(sel, listener, ctx)
        else:
            _serve_datagrams(sel, listener, ctx)


def _serve_streams(sel: selectors.BaseSelector, listener: socket.socket, ctx: ServeContext) -> None:
    sel.register(listener, _READ, _ACCEPT)
    nodelay = listener.family != socket.AF_UNIX
    echo = ctx.behaviour is ServerBehaviour.ECHO
    source = ctx.behaviour is ServerBehaviour.SOURCE
    source_view = memoryview(SOURCE_CHUNK)
    buf = bytearray(SHARED_BUFFER)
    view = memoryview(buf)
    discarder = Discarder()  # sink mode: one pipe serves every connection in turn
    discard = discarder.discard_from
    ctx.ready()

    def close(conn: _Conn) -> None:
        sel.unregister(conn.sock)
        conn.sock.close()

    resume_accepting: float | None = None
    try:
        while True:
            timeout = None
            if resume_accepting is not None:
                timeout = resume_accepting - time.monotonic()
                if timeout <= 0:
                    sel.register(listener, _READ, _ACCEPT)
                    resume_accepting = timeout = None
            for key, mask in sel.select(timeout):
                conn = key.data
                if conn is _STOP:
                    return
                if conn is _ACCEPT:
                    if not _accept(sel, listener, nodelay, source, ctx.tls):
                        # Out of fds: the listener would stay readable and spin this
                        # loop; stop watching it for a moment while connections close.
                        sel.unregister(listener)
                        resume_accepting = time.monotonic() + ACCEPT_PAUSE_S
                    continue
                sock = conn.sock
                if source:
                    if not _source_event(sel, conn, mask, source_view, discard):
                        close(conn)
                    continue
                try:
                    if conn.out:  # waiting to flush: only EVENT_WRITE is registered
                        del conn.out[: sock.send(conn.out)]
                        if not conn.out:
                            sel.modify(sock, _READ, conn)
                        continue
                    n = sock.recv_into(buf) if echo else discard(sock)
                except NOT_YET:
                    continue
                except OSError:
                    close(conn)
                    continue
                if not n:
                    if not echo:
                        _send_report(conn)
                    close(conn)
                    continue
                if not echo:
                    conn.reads += 1
                    conn.nbytes += n
                    continue
                try:
                    sent = sock.send(view[:n])
                except NOT_YET:
                    sent = 0
                except OSError:
                    close(conn)
                    continue
                if sent < n:
                    conn.out += view[sent:n]
                    sel.modify(sock, _WRITE, conn)
    finally:
        for key in list(sel.get_map().values()):
            if isinstance(key.data, _Conn):
                close(key.data)
        discarder.close()


def _send_report(conn: _Conn) -> None:
    """Answer a sink client's half-close with its count. The report is tiny and this
    socket never sent anything before, so its send buffer has room for it."""
    try:
        conn.sock.send(encode_report(conn.reads, conn.nbytes))
    except OSError:  # the client is gone: nobody to tell
        pass


def _source_event(
    sel: selectors.BaseSelector,
    conn: _Conn,
    mask: int,
    chunk: memoryview,
    discard: Callable[[socket.socket], int],
) -> bool:
    """One readiness event of a source connection: discard what came, write while there
    is room; at the half-close, the report instead. False once it is done (or broke)."""
    sock, counts = conn.sock, conn.source
    try:
        if counts is None:  # flushing the report
            del conn.out[: sock.send(conn.out)]
            return bool(conn.out)
        if mask & _READ:
            n = discard(sock)
            if not n:
                conn.source = None
                conn.out += counts.closing(chunk)
                sel.modify(sock, _WRITE, conn)
                return True
            counts.read(n)
        if mask & _WRITE:
            counts.write(sock, chunk)
    except NOT_YET:
        pass
    except OSError:
        return False
    return True


def _accept(
    sel: selectors.BaseSelector,
    listener: socket.socket,
    nodelay: bool,
    source: bool,
    tls: ssl.SSLContext | None = None,
) -> bool:
    """Accept a batch of connections (over TLS with ``tls``); False when out of file
    descriptors."""
    for _ in range(BATCH):
        try:
            sock, _ = listener.accept()
        except BlockingIOError:
            break
        except OSError as exc:
            if exc.errno in _OUT_OF_RESOURCES:
                return False
            if exc.errno == errno.ECONNABORTED:
                continue
            raise
        sock.setblocking(False)
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        sel.register(sock, _READ | _WRITE if source else _READ, _Conn(sock, source))
    return True


def _serve_datagrams(sel: selectors.BaseSelector, sock: socket.socket, ctx: ServeContext) -> None:
    sel.register(sock, _READ, None)
    respond = datagram_responder(ctx.behaviour, sock, ctx.stop)
    buf = bytearray(DATAGRAM_MAX)
    view = memoryview(buf)
    recvfrom_into = sock.recvfrom_into
    stop = ctx.stop
    ctx.ready()
    while True:
        for key, _ in sel.select():
            if key.data is _STOP:
                return
            for _ in range(BATCH):
                try:
                    n, addr = recvfrom_into(buf)
                except BlockingIOError:
                    break
                except OSError:
                    continue
                out = respond(view[:n], addr)
                if out is not None:
                    # This loop serves this one socket only: waiting for room in its
                    # send buffer (Unix datagrams) holds up nobody else.
                    send_datagram(sock, out, addr, stop)
