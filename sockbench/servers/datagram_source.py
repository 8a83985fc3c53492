"""The source's datagram path: one paced flow per sender that asks for one.

``--reverse`` over UDP (or unix-dgram) needs the server to send at the client's rate.
The client's first datagram says what to send (:func:`~sockbench.core.sink_report.
encode_source_request`: rate, payload, seconds; iperf3 uses a control connection for
this); the source then sends that sender ``payload``-byte datagrams on a uniform
schedule from a thread of its own, through the model's own socket, and counts what the
kernel took. A :data:`~sockbench.core.sink_report.REPORT_REQUEST` is answered as a sink
answers it, plus, to a sender with a flow, the bytes sent to it: the report ends the
flow first, so the count is final and the client learns ``sent = received + lost``
exactly.

The trade-off: pacing is timing, not I/O strategy, so every model paces the same way
(a thread per flow, sleeping on the server's stop signal), and a comparison of models
under ``--reverse`` over datagrams measures their reading of the control datagrams
only; a thread per flow also bounds how many clients a source serves well (hundreds,
not tens of thousands). A flow ends after its seconds (bounded by ``MAX_FLOW_S``), at
its report, at the server's stop, or when a new request from the same sender
replaces it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Hashable
from typing import Any

from sockbench.core.sink_report import (
    REPORT_REQUEST,
    SOURCE_BYTE,
    SOURCE_REQUEST,
    decode_source_request,
    encode_report,
)
from sockbench.servers.behaviour import Payload, SinkLedger
from sockbench.servers.context import StopSignal

MAX_FLOW_S = 3600.0
MAX_FLOW_RATE = 10_000_000.0


class Flow:
    """One sender's paced datagrams: a daemon thread, and the bytes the kernel took.

    Each send and its count happen under one lock, and :meth:`end` takes it: once ended,
    ``sent`` is final and holds every datagram that left, so a report built after it
    undercounts nothing the client could still read.
    """

    __slots__ = ("_ended", "_lock", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self._ended = False
        self._lock = threading.Lock()

    def end(self) -> int:
        """Stop sending; the bytes sent, final."""
        with self._lock:
            self._ended = True
            return self.sent

    def run(
        self, sock: socket.socket, addr: Any, rate: float, payload: int, seconds: float,
        stop: StopSignal,
    ) -> None:  # fmt: skip
        """Send on schedule until ``seconds`` passed; late sends go at once (no catch-up
        burst is skipped: the schedule's count is what is sent, or dropped by our kernel)."""
        data = SOURCE_BYTE * payload
        gap = 1.0 / rate
        start = time.monotonic()
        for k in range(int(rate * seconds)):
            delay = start + k * gap - time.monotonic()
            if delay > 0 and stop.wait(delay):
                return
            with self._lock:
                if self._ended:
                    return
                try:
                    self.sent += sock.sendto(data, socket.MSG_DONTWAIT, addr)
                except BlockingIOError:  # our own send buffer is full: dropped, not sent
                    continue
                except OSError:  # the client is gone
                    return


class DatagramSource:
    """A sink's ledger for what arrives, and a :class:`Flow` per sender that asked."""

    __slots__ = ("_flows", "_ledger", "_sock", "_stop")

    def __init__(self, sock: socket.socket, stop: StopSignal) -> None:
        self._sock, self._stop = sock, stop
        self._ledger = SinkLedger()
        self._flows: dict[Hashable, Flow] = {}

    def __call__(self, data: Payload, sender: Hashable) -> bytes | None:
        if len(data) > len(SOURCE_REQUEST) and bytes(data[: len(SOURCE_REQUEST)]) == SOURCE_REQUEST:
            self._start(bytes(data), sender)
            return None
        flow = self._flows.get(sender)
        if flow is not None and len(data) == len(REPORT_REQUEST) and data == REPORT_REQUEST:
            count, nbytes = self._ledger.counts(sender)
            self._ledger(data, sender)  # resets the sender's counters, as a sink's report does
            return encode_report(count, nbytes, flow.end())
        return self._ledger(data, sender)  # a sender without a flow: a sink's report

    def _start(self, request: bytes, sender: Hashable) -> None:
        asked = decode_source_request(request)
        if asked is None or not sender:
            return
        rate, payload, seconds = asked
        if not (0 < rate <= MAX_FLOW_RATE and 0 < payload <= 65507 and 0 < seconds <= MAX_FLOW_S):
            return
        old = self._flows.pop(sender, None)
        if old is not None:
            old.end()
        flow = self._flows[sender] = Flow()
        args = (self._sock, sender, rate, payload, seconds, self._stop)
        threading.Thread(target=flow.run, args=args, daemon=True, name="sockbench-source").start()
