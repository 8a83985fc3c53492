"""What every client driver is handed, and the connect, count and gate logic they share."""

from __future__ import annotations

import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import cast

import trio

from sockbench.core.exchange import NEVER, RequestWindow
from sockbench.core.expect import ReplyMatcher
from sockbench.core.lifecycle import CONNECT, WAIT, ConnectionLifecycle
from sockbench.core.protocols import ProtocolAdapter
from sockbench.core.protocols.contract import fault_line, raised_in_protocol
from sockbench.core.schedule import ClientArrivals
from sockbench.core.spec.load import Load
from sockbench.core.tls import TLS_TIMEOUT, failed_handshakes
from sockbench.endpoints import Endpoint
from sockbench.engine.clients.gate import StartGate
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.io import sockio
from sockbench.engine.io.error_kinds import TlsFailed, error_kind
from sockbench.engine.io.tls import TlsClient, handshake

PROGRESS_S = 2.0  # first connects slower than this are said on stderr


@dataclass(frozen=True, slots=True)
class ClientContext:
    """One client's part of the run: where, what, and the worker's shared pieces."""

    endpoint: Endpoint
    request: bytes
    matcher: ReplyMatcher
    timeout_s: float
    recorder: WorkerRecorder
    gate: StartGate
    limiter: trio.CapacityLimiter
    index: int = 0
    first_client: int = 0  # this worker's first client's number in the run
    source: str | None = None
    reply_dir: str | None = None
    schedule: ClientArrivals | None = None  # open loop: uniform or Poisson (--arrival)
    pipeline: int = 1
    # A protocol whose requests vary, have kinds or a setup (redis, memcache, plugins);
    # None: every request is ``request``.
    protocol: ProtocolAdapter | None = None
    start_ns: int = 0  # the first connect waits this long after the gate's origin (ramp)
    connect_timeout_s: float = Load.connect_timeout_s  # --connect-timeout
    tls: TlsClient | None = None  # a tls:// target: the worker's TLS, shared
    socket_buffer: int | None = None  # --socket-buffer: SO_RCVBUF and SO_SNDBUF asked
    # This client's number in the run: read per varying request, so a field, not a property.
    index_in_run: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index_in_run", self.first_client + self.index)

    def request_for(self, seq: int) -> bytes:
        """This client's ``seq``-th request."""
        protocol = self.protocol
        if protocol is None or protocol.fixed is not None:
            return self.request
        return protocol.request(self.index_in_run, seq)

    def requests_before(self, seq: int, count: int) -> bytes:
        """The ``count`` requests before the ``seq``-th, in order, as one write: those a
        close the reply announced left unserved, sent again on the next connection
        (``StreamExchange.resend``)."""
        return b"".join(self.request_for(k) for k in range(seq - count, seq))

    @property
    def window(self) -> RequestWindow:
        return self.recorder.window

    def interrupted(self) -> bool:
        return self.recorder.interrupted


class ProtocolGuard:
    """Around a driver's whole run, never per call: an exception out of a protocol's code
    (or raised on what it returned) stops the worker cleanly (``WorkerRecorder.stop_for``)
    instead of ending the run with a traceback and no result. Without a protocol (echo)
    an exception is sockbench's own bug and goes on up."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: ClientContext) -> None:
        self.ctx = ctx

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> bool:
        protocol = self.ctx.protocol
        if exc is None or protocol is None:
            return False
        fault = _fault_of(exc, protocol)
        if fault is None:
            return False
        self.ctx.recorder.stop_for(fault_line(protocol, fault))
        return True


def _fault_of(exc: BaseException, protocol: ProtocolAdapter) -> BaseException | None:
    """The failure in ``exc`` (a group's first), or None when it holds only cancellations
    or an interrupt, which are not a protocol's fault. A ``KeyboardInterrupt`` raised in
    the protocol's own code is its fault: a run's signal handler (engine/io/interrupts.py)
    turns Ctrl-C into a stop, never into that exception, so only the code raised it."""
    leaves = list(_leaves(exc))
    failures = [e for e in leaves if not isinstance(e, trio.Cancelled)]
    interrupts = [e for e in failures if isinstance(e, KeyboardInterrupt)]
    if not failures or any(not raised_in_protocol(protocol, e) for e in interrupts):
        return None
    return failures[0]


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def trio_time(monotonic_ns: int) -> float:
    """A ``time.monotonic_ns`` instant on trio's clock (which is offset from it)."""
    if monotonic_ns >= NEVER:
        return float("inf")
    return trio.current_time() + (monotonic_ns - time.monotonic_ns()) / 1e9


async def connect_stream(
    ctx: ClientContext, gate: StartGate | None, life: ConnectionLifecycle | None = None
) -> socket.socket | None:
    """Connect, counting failures by kind and backing off (with jitter) while they repeat.

    ``gate`` is told after the first attempt, successful or not, so one unreachable
    client cannot hold the whole run at the start line. ``life`` carries the back-off
    over from the client's previous connections. None once the lifecycle says the client
    retires (the window closed while it retried): there is nothing left to connect for.
    """
    life = life or ConnectionLifecycle(ctx.window)
    if gate is None:
        return await reconnect(ctx, life, CONNECT)
    sock = await first_connect(ctx, gate)
    if sock is not None:
        life.connected()
        return sock
    return await reconnect(ctx, life, life.connect_failed(time.monotonic_ns()))


async def first_connect(ctx: ClientContext, gate: StartGate) -> socket.socket | None:
    """A client's first connect: wait for its turn in the ramp, try once, tell the gate.

    The try, its wait for a free connect slot included, ends ``--connect-timeout``
    after the client's turn or the worker's last connect, whichever came later: clients
    that cannot connect hold the start for that long at most, not that long per batch of
    the connectors' size, while a target that keeps accepting is given all the time it
    takes. While connects take longer than :data:`PROGRESS_S`, a line on stderr says how
    far they got.

    None: the attempt failed (counted); the caller tells the lifecycle
    (:meth:`~ConnectionLifecycle.connect_failed`) and :func:`reconnect` does what it says.
    """
    starts_clock = not gate.origin_ns and not gate.ramped
    await gate.turn(ctx.start_ns)
    if starts_clock:
        trio.lowlevel.spawn_system_task(_say_connect_progress, ctx, gate)
    recorder = ctx.recorder
    span = recorder.connect_span
    span.attempt(time.monotonic_ns())
    # Until the worker's last connect, or this client's turn, had --connect-timeout:
    # once nothing connected for that long, the rest fail at once (and retry in the run).
    quiet_since_ns = max(span.last_ns, gate.origin_ns + ctx.start_ns)
    sock = await _attempt(ctx, trio_time(quiet_since_ns + int(ctx.connect_timeout_s * 1e9)))
    if sock is not None:
        recorder.connect_span.up(time.monotonic_ns())
    gate.attempted()
    return sock


async def reconnect(
    ctx: ClientContext, life: ConnectionLifecycle, action: int
) -> socket.socket | None:
    """Do what the lifecycle said (``CONNECT``, ``WAIT`` or ``RETIRE``), and what it says
    after each failed attempt: the connected socket, or None once it says ``RETIRE``."""
    while action in (CONNECT, WAIT):
        if action == WAIT:
            await trio.sleep_until(trio_time(life.wake_ns))
        sock = await _attempt(ctx)
        if sock is not None:
            life.connected()
            return sock
        action = life.connect_failed(time.monotonic_ns())
    return None


async def _attempt(ctx: ClientContext, deadline: float | None = None) -> socket.socket | None:
    """One connect, counted: its time and the connection, or its error's kind.
    ``deadline`` (trio's clock) bounds the wait for a connect slot and the connect
    together (a ``connect_timeout``); without one, the connect alone has its timeout."""
    recorder = ctx.recorder
    try:
        with trio.fail_at(float("inf") if deadline is None else deadline):
            async with ctx.limiter:
                with trio.fail_after(ctx.connect_timeout_s):
                    sock, connect_ns = await sockio.open_stream(
                        ctx.endpoint, ctx.source, ctx.socket_buffer
                    )
        if ctx.tls is not None:
            sock = await secure(ctx, sock)
    except (OSError, trio.TooSlowError) as exc:
        kind = "connect_timeout" if isinstance(exc, trio.TooSlowError) else error_kind(exc)
        recorder.error(kind, time.monotonic_ns())
        return None
    recorder.connect.record(connect_ns)
    recorder.connections += 1
    return sock


async def secure(ctx: ClientContext, sock: socket.socket, *, counted: bool = True) -> socket.socket:
    """TLS over the connected ``sock``: its handshake within ``--connect-timeout``, timed
    and counted (full or resumed) unless not ``counted``; ``sock`` closed if it fails.

    The result stands in for a socket (:class:`~sockbench.engine.io.tls.TlsSocket`): the
    drivers move the exchange's bytes through it, TLS moves ciphertext.
    """
    assert ctx.tls is not None
    try:
        with trio.fail_after(ctx.connect_timeout_s):
            conn, handshake_ns, resumed = await handshake(sock, ctx.tls, ctx.endpoint, ctx.index)
    except trio.TooSlowError:
        sockio.close(sock)
        raise TlsFailed(TLS_TIMEOUT) from None
    except BaseException:
        sockio.close(sock)
        raise
    if counted:
        ctx.recorder.handshake(handshake_ns, resumed, conn.negotiated())
    return cast(socket.socket, conn)


async def _say_connect_progress(ctx: ClientContext, gate: StartGate) -> None:
    """While this worker's first connects take long, say every :data:`PROGRESS_S` how many
    connected and how many failed, by kind; once they end, say it once more if any failed."""
    recorder, total = ctx.recorder, ctx.window.clients
    started = time.monotonic()
    said = False
    while not gate.all_attempted.is_set():
        with trio.move_on_after(PROGRESS_S):
            await gate.all_attempted.wait()
        if gate.all_attempted.is_set():
            break
        failed = sum(recorder.warmup_errors.values())
        _say(
            f"connecting{gate.label}: {recorder.connections:,} of {total:,} clients "
            f"connected, {failed:,} failed{_kinds(recorder)} after "
            f"{time.monotonic() - started:.0f} s "
            f"(a connect waits up to {ctx.connect_timeout_s:g} s: --connect-timeout)"
        )
        said = True
    failed = total - recorder.connections
    tls = failed_handshakes(recorder.warmup_errors)
    if failed and tls is not None:
        _say(
            f"warning{gate.label}: {recorder.connections:,} of {total:,} clients "
            f"connected{_kinds(recorder)}: {tls[1]}"
        )
    elif failed and (said or 2 * failed >= total):
        _say(
            f"warning{gate.label}: {recorder.connections:,} of {total:,} clients "
            f"connected in {time.monotonic() - started:.1f} s{_kinds(recorder)}: the target "
            "took no more (out of descriptors, a full backlog, a firewall), or this machine could "
            "open no more (too_many_open_files, no_ephemeral_port); the others keep trying "
            "during the run, their failures counted; use fewer --clients or raise the limits"
        )


def _kinds(recorder: WorkerRecorder) -> str:
    kinds = recorder.warmup_errors.most_common(3)
    return f" ({', '.join(f'{kind} {n:,}' for kind, n in kinds)})" if kinds else ""


def _say(line: str) -> None:
    try:
        print(f"sockbench: {line}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr is gone: the run goes on
        pass


def open_datagram(
    endpoint: Endpoint,
    reply_dir: str | None,
    source: str | None = None,
    buffer: int | None = None,
) -> socket.socket:
    """A datagram socket connected to ``endpoint``.

    A Unix datagram client must bind a path of its own, or the server has no address
    to reply to; those paths live in ``reply_dir``, which the caller removes.
    """
    sock = sockio.open_socket(endpoint, source, buffer)
    try:
        if endpoint.proto.is_unix:
            if reply_dir is None:
                raise ValueError("a unix-dgram client needs a directory for its reply socket")
            sock.bind(tempfile.mktemp(prefix="c", dir=reply_dir))
        sock.connect(endpoint.sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def open_counted(ctx: ClientContext) -> socket.socket | None:
    """Open one client's datagram socket, count it (or its error) and tell the start gate."""
    recorder = ctx.recorder
    start = time.monotonic_ns()
    recorder.connect_span.attempt(start)
    try:
        sock = open_datagram(ctx.endpoint, ctx.reply_dir, ctx.source, ctx.socket_buffer)
    except OSError as exc:
        recorder.error(error_kind(exc), time.monotonic_ns())
        ctx.gate.attempted()
        return None
    recorder.connect.record(time.monotonic_ns() - start)
    recorder.connections += 1
    recorder.connect_span.up(time.monotonic_ns())
    ctx.gate.attempted()
    return sock
