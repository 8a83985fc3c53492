"""Connection churn: every request opens a new connection, sends, reads the reply, closes.

This loads the server's accept path, the "copy" of the listening socket made for
every client, rather than its steady-state I/O. Connect time and request latency
are recorded apart; connections per second is the headline number. Over TLS each
connection's handshake is timed apart too (a resumption with ``--tls-resume``): churn
is then a handshake-rate benchmark. A transaction
belongs to the window by when its connect started; its latency runs from the send.
"""

from __future__ import annotations

import errno
import time

import trio

from sockbench.core.exchange import RECONNECT, TIMEOUT
from sockbench.engine.clients.context import ClientContext, secure
from sockbench.engine.clients.reference import new_exchange
from sockbench.engine.io import sockio
from sockbench.engine.io.error_kinds import PeerClosed, error_kind
from sockbench.engine.io.tls import wait_readable

PORTS_EXHAUSTED_PAUSE_S = 0.05


async def churn(ctx: ClientContext) -> None:
    recorder = ctx.recorder
    ex = new_exchange(ctx)
    ctx.gate.attempted()
    await ctx.gate.go.wait()
    try:
        while True:
            start = time.monotonic_ns()
            if not ex.issue(start, start):
                break
            measured = ex.measured_in_flight > 0
            try:
                with trio.fail_after(ctx.timeout_s):
                    sock, connect_ns = await sockio.open_stream(
                        ctx.endpoint, ctx.source, ctx.socket_buffer
                    )
                    if ctx.tls is not None:
                        sock = await secure(ctx, sock, counted=measured)
                    try:
                        ex.resent(time.monotonic_ns())
                        await sockio.send_all(sock, ctx.request)
                        while ex.in_flight:
                            await wait_readable(sock)
                            try:
                                n = sock.recv_into(ex.space())
                            except BlockingIOError:
                                continue
                            if n == 0:
                                raise PeerClosed
                            if ex.received(n, time.monotonic_ns()) == RECONNECT:
                                break
                    finally:
                        sockio.close(sock)
            except trio.TooSlowError:
                ex.fail(TIMEOUT, time.monotonic_ns())
                continue
            except (OSError, PeerClosed) as exc:
                ex.fail(error_kind(exc), time.monotonic_ns())
                if isinstance(exc, OSError) and exc.errno == errno.EADDRNOTAVAIL:
                    # Out of ephemeral ports (TIME_WAIT): wait instead of spinning on errors.
                    await trio.sleep(PORTS_EXHAUSTED_PAUSE_S)
                continue
            if measured:
                recorder.connections += 1
                recorder.connect.record(connect_ns)
    finally:
        ex.finish(time.monotonic_ns(), ctx.interrupted())
    recorder.retire()
