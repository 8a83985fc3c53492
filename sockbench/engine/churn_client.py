"""Connection churn: every request opens a new connection, sends, reads the reply, closes.

This loads the server's accept path, the "copy" of the listening socket made for
every client, rather than its steady-state I/O. Connect time and request latency
are recorded apart; connections per second is the headline number.
"""

from __future__ import annotations

import errno
import time

import trio

from sockbench.endpoints import Endpoint
from sockbench.engine import sockio
from sockbench.engine.error_kinds import Mismatch, PeerClosed, error_kind
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats

PORTS_EXHAUSTED_PAUSE_S = 0.05


async def churn_client(
    endpoint: Endpoint,
    payload: bytes,
    timeout_s: float,
    stats: LiveStats,
    gate: StartGate,
    source: str | None = None,
) -> None:
    size = len(payload)
    buf = bytearray(size)
    view = memoryview(buf)
    gate.attempted()
    await gate.go.wait()
    while True:
        start = time.monotonic_ns()
        try:
            with trio.fail_after(timeout_s):
                sock, connect_ns = await sockio.open_stream(endpoint, source)
                try:
                    sent_at = time.monotonic_ns()
                    await sockio.send_all(sock, payload)
                    await sockio.recv_exact(sock, buf, view, size)
                    end = time.monotonic_ns()
                finally:
                    sockio.close(sock)
            if buf != payload:
                raise Mismatch
        except trio.TooSlowError:
            stats.error("timeout")
            continue
        except (OSError, Mismatch, PeerClosed) as exc:
            stats.error(error_kind(exc))
            if isinstance(exc, OSError) and exc.errno == errno.EADDRNOTAVAIL:
                # Out of ephemeral ports (TIME_WAIT): wait instead of spinning on errors.
                await trio.sleep(PORTS_EXHAUSTED_PAUSE_S)
            continue
        if stats.complete(sent_at, end, size, window_ns=start):
            stats.connections += 1
            stats.connect.record((connect_ns + 500) // 1000)
