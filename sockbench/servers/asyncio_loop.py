"""``asyncio`` and ``uvloop``: asyncio Protocols, on the standard loop or on uvloop.

Protocol callbacks (not streams/coroutines) are asyncio's cheapest path: a
connection costs a transport and a protocol object, and the loop calls
``data_received`` directly. Like ``selectors`` it is one thread; the standard
loop is a Python selector loop, uvloop replaces it with libuv in C. The two
registry entries share this module and differ only in ``ctx.options["loop"]``.

On the standard loop, streams use a ``BufferedProtocol`` reading into one
buffer shared by every connection (the loop is one thread, and each read is
consumed before the next starts). With a plain ``Protocol`` the transport reads
with ``recv(256 KiB)``: CPython allocates 256 KiB, then shrinks it to the bytes
received. glibc serves 256 KiB with ``mmap`` until its dynamic mmap threshold has
risen, which happens only when a larger mmapped block is *freed*, and a shrunk
one never is. So the server paid ``mmap`` + ``mremap`` + ``munmap`` and a page
fault per request, or not, depending on the process's history: one early read
that freed a whole buffer (a connection closed before sending, like the
reachability check of ``run --target``) lifted the threshold for good, which is
why ``serve`` + ``--target`` ran 2.5x faster than the embedded server of ``run``.
The shared buffer costs no allocation per read. The transport may keep a
reference to what it could not send yet (Python 3.12+ keeps a view, not a
copy): then that buffer is left to it and reads go to a fresh one.
Datagram reads are capped at :data:`DATAGRAM_MAX` for the same reason.

uvloop reads into one buffer of its own in C and hands over exact-size
``bytes``, so it keeps the plain ``Protocol``.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, cast

from sockbench.core.kinds import ServerBehaviour
from sockbench.core.sink_report import encode_report
from sockbench.servers.behaviour import DatagramResponder, datagram_responder
from sockbench.servers.context import ServeContext, StopSignal
from sockbench.servers.replies import send_datagram
from sockbench.servers.sockets import BACKLOG, DATAGRAM_MAX, SHARED_BUFFER
from sockbench.servers.source import SOURCE_CHUNK

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
ACCEPT_BATCH = 100
ERROR_LOG_INTERVAL_S = 5.0
SOURCE_WRITES_PER_CALLBACK = 16
# What a transport cannot send at once it copies (3.11) or keeps a view of (3.12+).
TRANSPORT_KEEPS_VIEWS = sys.version_info >= (3, 12)


def serve(listener: socket.socket, ctx: ServeContext) -> None:
    with asyncio.Runner(loop_factory=_loop_factory(ctx.options.get("loop", "asyncio"))) as runner:
        runner.run(_main(listener, ctx))


def _loop_factory(name: str) -> LoopFactory:
    if name == "uvloop":
        import uvloop

        factory: LoopFactory = uvloop.new_event_loop
        return factory
    if name == "asyncio":
        return asyncio.new_event_loop
    raise ValueError(f"unknown event loop {name!r}")


async def _main(listener: socket.socket, ctx: ServeContext) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_rate_limited_errors())
    stopped = loop.create_future()

    def on_stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    loop.add_reader(ctx.stop.fileno(), on_stop)
    try:
        if ctx.proto.is_stream:
            await _serve_streams(loop, listener, ctx, stopped)
        else:
            await _serve_datagrams(loop, listener, ctx, stopped)
    finally:
        loop.remove_reader(ctx.stop.fileno())


def _rate_limited_errors() -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """Log each kind of loop error at most every few seconds.

    Out of file descriptors, the loop reports every failed accept; under load that
    is thousands of tracebacks a second into the server's stderr.
    """
    last: dict[str, float] = {}

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        now = time.monotonic()
        if now - last.get(message, -ERROR_LOG_INTERVAL_S) >= ERROR_LOG_INTERVAL_S:
            last[message] = now
            loop.default_exception_handler(context)

    return handler


async def _serve_streams(
    loop: asyncio.AbstractEventLoop,
    listener: socket.socket,
    ctx: ServeContext,
    stopped: asyncio.Future[None],
) -> None:
    live: set[asyncio.Transport] = set()
    nodelay = listener.family != socket.AF_UNIX
    echo = ctx.behaviour is ServerBehaviour.ECHO
    source = ctx.behaviour is ServerBehaviour.SOURCE

    class Conn(asyncio.Protocol):
        __slots__ = ("nbytes", "paused", "reads", "sending", "sent", "transport")

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # Typed loosely by asyncio; uvloop's transports are not subclasses of asyncio's.
            self.transport = cast(asyncio.Transport, transport)
            self.reads = self.nbytes = 0  # sink mode: what was read, for the report at EOF
            # Source mode: bytes handed to the transport (all delivered: closing flushes).
            self.sent = 0
            self.sending = source  # until the half-close (source mode)
            self.paused = False  # the transport's buffer is past its high-water mark
            live.add(self.transport)
            if nodelay:
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.fill()

        def fill(self) -> None:
            """Source mode: write until the transport's buffer is past its high-water mark
            (it calls pause_writing from inside write); a reader that takes everything at
            once gets the rest after the loop's other callbacks, never starving them."""
            for _ in range(SOURCE_WRITES_PER_CALLBACK):
                if not self.sending or self.paused:
                    return
                self.transport.write(SOURCE_CHUNK)
                self.sent += len(SOURCE_CHUNK)
            if self.sending and not self.paused:
                asyncio.get_running_loop().call_soon(self.fill)

        def data_received(self, data: bytes) -> None:
            if echo:
                self.transport.write(data)
            else:
                self.reads += 1
                self.nbytes += len(data)

        def eof_received(self) -> bool:
            # Returning False closes the transport once the report is flushed.
            if not echo:
                self.sending = False
                self.transport.write(
                    encode_report(self.reads, self.nbytes, self.sent if source else None)
                )
            return False

        # A client that does not read makes writes pile up: stop reading from it (a
        # source stops writing instead: it must go on reading to see the half-close).
        def pause_writing(self) -> None:
            if source:
                self.paused = True
            else:
                self.transport.pause_reading()

        def resume_writing(self) -> None:
            if source:
                self.paused = False
                self.fill()
            else:
                self.transport.resume_reading()

        def connection_lost(self, exc: Exception | None) -> None:
            self.sending = False
            live.discard(self.transport)

    shared = _SharedBuffer()

    class BufferedConn(Conn, asyncio.BufferedProtocol):
        __slots__ = ()

        def get_buffer(self, sizehint: int) -> memoryview:
            return shared.view

        def buffer_updated(self, nbytes: int) -> None:
            if not echo:
                self.reads += 1
                self.nbytes += nbytes
                return
            transport = self.transport
            transport.write(shared.view[:nbytes])
            if TRANSPORT_KEEPS_VIEWS and transport.get_write_buffer_size():
                shared.renew()  # the transport holds a view of the unsent part

    # asyncio's ``backlog`` is both the listen() backlog and how many accepts it
    # tries per wake-up, and on EMFILE the standard loop repeats its error path
    # that many times (CPython 3.11): give it a small batch, then restore the
    # kernel backlog the host chose, which create_server just lowered.
    # Over TLS the transport hands decrypted bytes over: no shared buffer to read into.
    protocol = Conn if _is_uvloop(loop) or ctx.tls is not None else BufferedConn
    if ctx.tls is not None:
        server = await loop.create_server(
            protocol, sock=listener, backlog=ACCEPT_BATCH, ssl=ctx.tls
        )
    elif listener.family == socket.AF_UNIX:
        server = await loop.create_unix_server(protocol, sock=listener, backlog=ACCEPT_BATCH)
    else:
        server = await loop.create_server(protocol, sock=listener, backlog=ACCEPT_BATCH)
    if listener.fileno() >= 0:
        listener.listen(BACKLOG)
    ctx.ready()
    try:
        await stopped
    finally:
        server.close()
        for transport in list(live):
            transport.abort()
        await server.wait_closed()
        for _ in range(10):  # connection_lost runs on later loop iterations
            if not live:
                break
            await asyncio.sleep(0)


def _is_uvloop(loop: asyncio.AbstractEventLoop) -> bool:
    return type(loop).__module__.startswith("uvloop")


class _SharedBuffer:
    """The read buffer of every connection of one loop; replaced when a transport keeps it."""

    __slots__ = ("view",)

    def __init__(self) -> None:
        self.view = memoryview(bytearray(SHARED_BUFFER))

    def renew(self) -> None:
        self.view = memoryview(bytearray(SHARED_BUFFER))


class _Datagrams(asyncio.DatagramProtocol):
    """Reads through the transport; replies with ``replies.send_datagram``, not the transport.

    The transport would queue a reply that cannot go out now and send every later
    reply behind it: one Unix datagram client that stops reading (its queue full)
    would stall the server for everyone. ``send_datagram`` drops that reply, and
    waits only when our own send buffer is full, which is backpressure: this loop
    serves this one socket and nothing else.
    """

    def __init__(self, sock: socket.socket, respond: DatagramResponder, stop: StopSignal) -> None:
        self.sock = sock
        self.respond = respond
        self.stop = stop

    def datagram_received(self, data: bytes, addr: Any) -> None:
        out = self.respond(data, addr)
        if out is not None:
            send_datagram(self.sock, out, addr, self.stop)

    def error_received(self, exc: Exception) -> None:
        pass  # a client that vanished: nothing to do


async def _serve_datagrams(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    ctx: ServeContext,
    stopped: asyncio.Future[None],
) -> None:
    respond = datagram_responder(ctx.behaviour, sock, ctx.stop)
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Datagrams(sock, respond, ctx.stop), sock=sock
    )
    if not _is_uvloop(loop):
        # The standard transport reads with recvfrom(256 KiB): see the module docstring.
        transport.max_size = DATAGRAM_MAX  # type: ignore[attr-defined]
    ctx.ready()
    try:
        await stopped
    finally:
        transport.close()
        await asyncio.sleep(0)
