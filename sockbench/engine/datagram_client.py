"""Closed-loop request/reply over datagrams (UDP or Unix datagram sockets).

Every client owns its socket, numbers its datagrams, and waits up to the timeout
for the reply to the one in flight; replies that arrive after that are counted
late, never as received. A :class:`~sockbench.core.datagrams.DatagramLedger`
does the bookkeeping, so loss, duplicates and reordering are exact.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time

import trio

from sockbench.core import datagrams as dg
from sockbench.endpoints import Endpoint
from sockbench.engine import sockio
from sockbench.engine.error_kinds import error_kind
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats

RECV_BUFFER = 65536
# Every client of a worker reads into this one buffer: trio runs one task at a time and a
# client never awaits between its recv and reading what it got, so none can overwrite
# another's datagram. 64 KiB per client would be 3 GiB at 50,000 clients.
SHARED_RECV_BUFFER = bytearray(RECV_BUFFER)
_SHARED_VIEW = memoryview(SHARED_RECV_BUFFER)


def open_datagram(
    endpoint: Endpoint, reply_dir: str | None, source: str | None = None
) -> socket.socket:
    """A datagram socket connected to ``endpoint``.

    A Unix datagram client must bind a path of its own, or the server has no address
    to reply to; those paths live in ``reply_dir``, which the caller removes.
    """
    sock = sockio.open_socket(endpoint, source)
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


def open_counted(
    endpoint: Endpoint,
    reply_dir: str | None,
    source: str | None,
    stats: LiveStats,
    gate: StartGate,
) -> socket.socket | None:
    """Open one client's datagram socket, count it (or its error) and tell the start gate."""
    start = time.monotonic_ns()
    try:
        sock = open_datagram(endpoint, reply_dir, source)
    except OSError as exc:
        stats.error(error_kind(exc))
        gate.attempted()
        return None
    stats.connect.record((time.monotonic_ns() - start + 500) // 1000)
    stats.connections += 1
    gate.attempted()
    return sock


async def echo_client(
    endpoint: Endpoint,
    payload_size: int,
    timeout_s: float,
    stats: LiveStats,
    gate: StartGate,
    reply_dir: str | None,
    source: str | None = None,
) -> None:
    out = bytearray(os.urandom(payload_size))
    out_tail = bytes(out[dg.SEQ_SIZE :])
    inview = _SHARED_VIEW
    timeout_ns = int(timeout_s * 1e9)
    sock = open_counted(endpoint, reply_dir, source, stats, gate)
    if sock is None:
        return
    ledger: dg.DatagramLedger | None = None
    seq = 0
    try:
        await gate.go.wait()
        while True:
            dg.SEQ.pack_into(out, 0, seq)
            start = time.monotonic_ns()
            if start >= stats.measure_end_ns:
                # The window is over: a datagram sent now could not be accounted for.
                await trio.sleep_forever()
            if ledger is None and start >= stats.measure_start_ns:
                ledger = dg.DatagramLedger(timeout_ns, first_seq=seq)
                stats.ledgers.append(ledger)
            try:
                await sockio.send_all(sock, out)
            except OSError as exc:
                # ICMP errors from earlier datagrams surface on the next call.
                stats.error(error_kind(exc))
                await trio.sleep(0.01)
                continue
            if ledger is not None:
                ledger.on_send(seq, start)
            with trio.CancelScope(deadline=trio.current_time() + timeout_s) as scope:
                await _await_reply(sock, seq, start, ledger, inview, out_tail, stats)
            if scope.cancelled_caught and ledger is not None:
                ledger.expire(time.monotonic_ns())
            seq += 1
    finally:
        sockio.close(sock)


async def _await_reply(
    sock: socket.socket,
    seq: int,
    start: int,
    ledger: dg.DatagramLedger | None,
    inview: memoryview,
    out_tail: bytes,
    stats: LiveStats,
) -> None:
    """Wait for the reply to ``seq``; classify whatever else arrives meanwhile."""
    while True:
        await trio.lowlevel.wait_readable(sock)
        try:
            n = sock.recv_into(inview)
        except BlockingIOError:
            continue
        except OSError as exc:
            stats.error(error_kind(exc))
            continue
        end = time.monotonic_ns()
        if n < dg.SEQ_SIZE:
            stats.error("mismatch")
            continue
        (got,) = dg.SEQ.unpack_from(inview)
        if ledger is not None:
            outcome = ledger.on_reply(got)
            if outcome == dg.UNKNOWN:
                stats.error("mismatch")
            if outcome not in (dg.RECEIVED, dg.REORDERED) or got != seq:
                continue
        elif got != seq:
            continue
        if inview[dg.SEQ_SIZE : n] != out_tail:
            stats.error("mismatch")
        else:
            stats.complete(start, end, n)
        return
