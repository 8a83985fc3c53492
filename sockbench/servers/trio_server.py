"""``trio``: one trio task per connection (``trio.serve_listeners``), one task for datagrams.

Structured concurrency: a connection costs a task and its cancel scope, far
cheaper than a thread, and stopping is one cancellation that closes every
stream. The price is trio's per-operation checkpoints (a scheduler round trip
per ``await``), which the raw Protocol callbacks of ``asyncio`` do not pay.
Reads use a reusable buffer per connection (a sink splices into the loop's one
pipe to /dev/null instead: ``discard.Discarder``); writes go through
``SocketStream.send_all``, which waits for the client instead of buffering.
Datagram replies follow ``replies.send_datagram``: drop what one client cannot
take, wait (in trio) only when our own send buffer is full.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from functools import partial
from typing import Any

import trio

from sockbench.core.kinds import ServerBehaviour
from sockbench.servers.behaviour import Payload, datagram_responder
from sockbench.servers.context import ServeContext
from sockbench.servers.discard import Discarder
from sockbench.servers.replies import SEND_WAIT_S
from sockbench.servers.sockets import DATAGRAM_MAX, STREAM_BUFFER
from sockbench.servers.source import SOURCE_CHUNK, StreamCounts


def serve(listener: socket.socket, ctx: ServeContext) -> None:
    trio.run(_main, listener, ctx)


async def _main(listener: socket.socket, ctx: ServeContext) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_on_stop, ctx, nursery.cancel_scope)
        tsock = trio.socket.from_stdlib_socket(listener)
        if ctx.proto.is_stream:
            discarder = Discarder()
            handler = {
                ServerBehaviour.ECHO: _echo,
                ServerBehaviour.SINK: partial(_sink, discarder),
                ServerBehaviour.SOURCE: partial(_source, discarder),
            }[ctx.behaviour]
            if ctx.tls is not None:
                handler = partial(
                    {
                        ServerBehaviour.ECHO: _echo_tls,
                        ServerBehaviour.SINK: _sink_tls,
                        ServerBehaviour.SOURCE: _source_tls,
                    }[ctx.behaviour],
                    ctx.tls,
                )
            await nursery.start(trio.serve_listeners, handler, [trio.SocketListener(tsock)])
        else:
            await nursery.start(_serve_datagrams, tsock, listener, ctx)
        ctx.ready()


async def _cancel_on_stop(ctx: ServeContext, scope: trio.CancelScope) -> None:
    await trio.lowlevel.wait_readable(ctx.stop.fileno())
    scope.cancel()


async def _echo(stream: trio.SocketStream) -> None:
    buf = bytearray(STREAM_BUFFER)
    view = memoryview(buf)
    recv_into = stream.socket.recv_into
    try:
        while n := await recv_into(buf):
            await stream.send_all(view[:n])
    except (OSError, trio.BrokenResourceError):
        pass  # the client reset or vanished; serve_listeners closes the stream


async def _echo_tls(context: ssl.SSLContext, stream: trio.SocketStream) -> None:
    """Echo over TLS (trio's SSLStream: its handshake on the first receive)."""
    secured = trio.SSLStream(stream, context, server_side=True)
    try:
        while data := await secured.receive_some(STREAM_BUFFER):
            await secured.send_all(data)
    except (OSError, trio.BrokenResourceError):
        pass  # a failed handshake (the client counts why), a reset, a vanished client


async def _sink(discarder: Discarder, stream: trio.SocketStream) -> None:
    """Discard; answer the half-close with the count."""
    counts = StreamCounts()
    try:
        await _discard_to_eof(discarder, stream.socket, counts)
        await stream.send_all(counts.report(source=False))
    except (OSError, trio.BrokenResourceError):
        pass


async def _source(discarder: Discarder, stream: trio.SocketStream) -> None:
    """Write while the socket has room (raw sends: a cancelled wait never leaves a
    write half counted), discard what comes; at the half-close, stop and report."""
    counts = StreamCounts()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_write_source, stream.socket, counts)
            await _discard_to_eof(discarder, stream.socket, counts)
            nursery.cancel_scope.cancel()
        await stream.send_all(counts.report())
    except (OSError, trio.BrokenResourceError):
        pass


async def _sink_tls(context: ssl.SSLContext, stream: trio.SocketStream) -> None:
    """Over TLS: read until the client's close_notify (its half-close), report, close."""
    secured = trio.SSLStream(stream, context, server_side=True)
    counts = StreamCounts()
    try:
        await _receive_to_eof(secured, counts)
        await secured.send_all(counts.report(source=False))
        await secured.aclose()
    except (OSError, trio.BrokenResourceError):
        pass


async def _source_tls(context: ssl.SSLContext, stream: trio.SocketStream) -> None:
    """Over TLS: write whole chunks while reading until the client's close_notify; then
    let the chunk being written finish (a send_all cancelled midway breaks the stream,
    and its bytes would be half counted), report, close."""
    secured = trio.SSLStream(stream, context, server_side=True)
    counts = StreamCounts()
    ended = trio.Event()

    async def write(scope: trio.CancelScope) -> None:
        try:
            while not ended.is_set():
                await secured.send_all(SOURCE_CHUNK)
                counts.sent += len(SOURCE_CHUNK)
        except (OSError, trio.BrokenResourceError):  # out of a nursery: an ExceptionGroup
            scope.cancel()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(write, nursery.cancel_scope)
            await _receive_to_eof(secured, counts)
            ended.set()
        if nursery.cancel_scope.cancelled_caught:
            return  # the write broke: nobody to report to
        await secured.send_all(counts.report())
        await secured.aclose()
    except (OSError, trio.BrokenResourceError):
        pass


async def _receive_to_eof(secured: trio.SSLStream[trio.SocketStream], counts: StreamCounts) -> None:
    while data := await secured.receive_some(STREAM_BUFFER):
        counts.read(len(data))


async def _discard_to_eof(
    discarder: Discarder, sock: trio.socket.SocketType, counts: StreamCounts
) -> None:
    """Discard until EOF (the loop's one pipe serves each connection in turn: a discard
    never awaits), counting each read."""
    discard, fd = discarder.discard, sock.fileno()
    while True:
        try:
            n = discard(fd)
        except BlockingIOError:
            await trio.lowlevel.wait_readable(sock)
            continue
        if not n:
            return
        counts.read(n)
        await trio.lowlevel.checkpoint()


async def _write_source(sock: trio.socket.SocketType, counts: StreamCounts) -> None:
    view = memoryview(SOURCE_CHUNK)
    fd = sock.fileno()  # os.write: trio's send would wait inside the count
    while True:
        try:
            counts.sent += os.write(fd, view)
        except BlockingIOError:
            await trio.lowlevel.wait_writable(sock)
            continue
        await trio.lowlevel.checkpoint()


async def _serve_datagrams(
    tsock: trio.socket.SocketType,
    sock: socket.socket,
    ctx: ServeContext,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    respond = datagram_responder(ctx.behaviour, sock, ctx.stop)
    buf = bytearray(DATAGRAM_MAX)
    view = memoryview(buf)
    recvfrom_into = tsock.recvfrom_into
    task_status.started()
    with tsock:
        while True:
            try:
                n, addr = await recvfrom_into(buf)
            except OSError:
                continue
            out = respond(view[:n], addr)
            if out is not None:
                await _reply(sock, out, addr)


async def _reply(sock: socket.socket, out: Payload, addr: Any) -> None:
    """``replies.send_datagram``, waiting for room the trio way instead of in poll()."""
    try:
        sock.sendto(out, addr)
        return
    except BlockingIOError:
        if sock.family != socket.AF_UNIX:
            return  # UDP: drop, as the network would
    except OSError:
        return
    with trio.move_on_after(SEND_WAIT_S):
        await trio.lowlevel.wait_writable(sock)
        with contextlib.suppress(OSError):
            sock.sendto(out, addr)
