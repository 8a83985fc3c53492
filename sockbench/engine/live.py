"""The mutable counters one worker's client tasks write to while they run.

Client tasks all live in one trio thread, so plain attribute updates are safe and
cheap. Only requests that *started* inside the measurement window are counted;
errors before it are kept apart as warm-up errors.
"""

from __future__ import annotations

import time
from collections import Counter

from sockbench.core.datagrams import DatagramCounts, DatagramLedger
from sockbench.core.histogram import Recorder, encode
from sockbench.core.tally import Tally

NEVER = 2**63 - 1


class LiveStats:
    __slots__ = (
        "bytes_received",
        "bytes_sent",
        "connect",
        "connections",
        "errors",
        "latency",
        "ledgers",
        "measure_end_ns",
        "measure_start_ns",
        "requests",
        "warmup_errors",
    )

    def __init__(self) -> None:
        self.measure_start_ns = NEVER
        self.measure_end_ns = NEVER
        self.requests = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.connections = 0
        self.errors: Counter[str] = Counter()
        self.warmup_errors: Counter[str] = Counter()
        self.latency = Recorder()
        self.connect = Recorder()
        self.ledgers: list[DatagramLedger] = []

    def error(self, kind: str) -> None:
        now = time.monotonic_ns()
        if self.measure_start_ns <= now < self.measure_end_ns:
            self.errors[kind] += 1
        elif now < self.measure_start_ns:
            self.warmup_errors[kind] += 1

    def datagram_counts(self) -> DatagramCounts | None:
        if not self.ledgers:
            return None
        total = DatagramCounts()
        for ledger in self.ledgers:
            total = total + ledger.counts()
        return total

    def tally(self, *, datagrams: bool) -> Tally:
        counts = self.datagram_counts()
        return Tally(
            requests=self.requests,
            bytes_sent=self.bytes_sent,
            bytes_received=self.bytes_received,
            connections=self.connections,
            errors=dict(self.errors),
            warmup_errors=dict(self.warmup_errors),
            latency=encode(self.latency.histogram),
            connect=encode(self.connect.histogram),
            clamped=self.latency.clamped + self.connect.clamped,
            datagrams=(counts or DatagramCounts()) if datagrams else None,
        )
