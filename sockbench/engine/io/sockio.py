"""Non-blocking stdlib sockets driven by trio's low-level readiness waits.

trio's own socket wrapper tries ``recv`` first and waits on EAGAIN, which costs
a failing syscall per request in a ping-pong benchmark. Here a read first waits
for readability and then reads once: one ``send`` and one ``recv`` per request in
the common case, and nothing retained per request.
"""

from __future__ import annotations

import errno
import os
import socket
import time

import trio

from sockbench.endpoints import Endpoint, Proto

_UNIX_BACKLOG_RETRY_S = 0.001
# Linux: let connect() pick the port for a socket bound to an address, so ports are
# unique per (source, destination) pair rather than per source address.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def open_socket(
    endpoint: Endpoint, source: str | None = None, buffer: int | None = None
) -> socket.socket:
    """A non-blocking socket for ``endpoint``, bound to ``source`` (an IP) when given,
    its buffers ``buffer`` bytes each way when given (before the connect: TCP's window
    scale is agreed in the handshake)."""
    sock = socket.socket(endpoint.family, endpoint.proto.socktype)
    sock.setblocking(False)
    try:
        if buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
        if source is not None:
            if endpoint.proto.is_stream:
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
    except BaseException:
        sock.close()
        raise
    return sock


async def connect(sock: socket.socket, endpoint: Endpoint) -> None:
    """Connect a non-blocking socket, yielding to trio while the handshake runs."""
    while True:
        try:
            sock.connect(endpoint.sockaddr)
            return
        except BlockingIOError as exc:
            if endpoint.proto.is_unix and exc.errno == errno.EAGAIN:
                # A Unix listener with a full backlog answers EAGAIN instead of queueing.
                await trio.sleep(_UNIX_BACKLOG_RETRY_S)
                continue
        await trio.lowlevel.wait_writable(sock)
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
        return


async def open_stream(
    endpoint: Endpoint, source: str | None = None, buffer: int | None = None
) -> tuple[socket.socket, int]:
    """A connected stream socket and its connect time in ns."""
    sock = open_socket(endpoint, source, buffer)
    try:
        start = time.monotonic_ns()
        await connect(sock, endpoint)
        elapsed = time.monotonic_ns() - start
        if endpoint.proto is Proto.TCP:
            if sock.getsockname() == sock.getpeername():
                # TCP simultaneous open: with no listener on a local port in the ephemeral
                # range, a reconnecting client can draw that very port as its source and
                # connect to itself, then "echo" its own requests at full speed.
                raise ConnectionRefusedError(errno.ECONNREFUSED, "connected to itself")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        close(sock)
        raise
    return sock, elapsed


def close(sock: socket.socket) -> None:
    trio.lowlevel.notify_closing(sock)
    sock.close()


async def send_all(sock: socket.socket, data: bytes | bytearray | memoryview) -> None:
    try:
        sent = sock.send(data)
    except BlockingIOError:
        sent = 0
    if sent == len(data):
        return
    view = memoryview(data)
    while sent < len(view):
        await trio.lowlevel.wait_writable(sock)
        try:
            sent += sock.send(view[sent:])
        except BlockingIOError:
            pass
