"""The mutable counters one worker's client tasks write to while they run.

Client tasks all live in one trio thread, so plain attribute updates are safe and
cheap. Only requests that *started* inside the measurement window are counted;
errors before it are kept apart as warm-up errors.
"""

from __future__ import annotations

import time
from collections import Counter

import trio

from sockbench.core.datagrams import DatagramCounts, DatagramLedger
from sockbench.core.histogram import Recorder, encode
from sockbench.core.intervals import IntervalRow, IntervalSeries, KindRow, with_kinds
from sockbench.core.tally import Tally

NEVER = 2**63 - 1


class LiveStats:
    __slots__ = (
        "_last_errors",
        "_last_requests",
        "by_kind",
        "bytes_received",
        "bytes_sent",
        "client_bytes",
        "connect",
        "connections",
        "done",
        "errors",
        "latency",
        "ledgers",
        "measure_end_ns",
        "measure_start_ns",
        "request_limit",
        "requests",
        "scheduler_lag",
        "send_lag",
        "series",
        "service",
        "start_ns",
        "stream_datagrams",
        "warmup_errors",
    )

    def __init__(self, clients: int = 0, request_limit: int | None = None) -> None:
        self.start_ns = NEVER  # when the clients were let go: warm-up starts
        self.measure_start_ns = NEVER
        self.measure_end_ns = NEVER
        self.request_limit = request_limit or NEVER
        self.done = trio.Event()  # set once request_limit requests completed
        self.requests = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.connections = 0
        self.errors: Counter[str] = Counter()
        self.warmup_errors: Counter[str] = Counter()
        self.latency = Recorder()
        self.connect = Recorder()
        # Open loop only: latency from the actual send, and how late the send was.
        self.service = Recorder()
        self.send_lag = Recorder()
        # The generator's own part of the send lag: how late it sent once it could send
        # (a --pipeline slot was free). Only this part is the generator's fault.
        self.scheduler_lag = Recorder()
        self.ledgers: list[DatagramLedger] = []
        # Stream mode: bytes each client moved inside the window, and the UDP totals.
        self.client_bytes = [0] * clients
        self.stream_datagrams: DatagramCounts | None = None
        self.series: IntervalSeries | None = None
        self._last_requests = self._last_errors = 0
        # Protocols with several kinds of request (SET, GET): the same numbers per kind.
        self.by_kind: dict[str, KindStats] = {}

    def track_kinds(self, kinds: tuple[str, ...]) -> None:
        self.by_kind = {kind: KindStats() for kind in kinds}

    def start_intervals(self, interval_ns: int) -> None:
        """Begin the time series; call when measurement starts."""
        self.series = IntervalSeries(interval_ns)
        self.latency.cut_interval()
        self._last_requests = self.requests
        self._last_errors = sum(self.errors.values())
        for kind in self.by_kind.values():
            kind.latency.cut_interval()
            kind.last_requests = kind.requests

    def cut_interval(self, end_ns: int) -> IntervalRow | None:
        """Close the interval ending at ``end_ns`` (monotonic); None if it would be empty."""
        series = self.series
        if series is None or end_ns - self.measure_start_ns <= series.rows_end_ns:
            return None
        errors = sum(self.errors.values())
        row = series.end_interval(
            self.latency.cut_interval(),
            self.requests - self._last_requests,
            errors - self._last_errors,
            end_ns=end_ns - self.measure_start_ns,
        )
        self._last_requests = self.requests
        self._last_errors = errors
        if self.by_kind:
            row = with_kinds(row, tuple(k.cut(name) for name, k in self.by_kind.items()))
            series.rows[-1] = row
        return row

    def complete(
        self,
        start_ns: int,
        end_ns: int,
        nbytes: int,
        window_ns: int | None = None,
        received: int | None = None,
    ) -> bool:
        """Count one request that started at ``start_ns`` if it belongs to the window.

        ``window_ns`` decides membership instead of ``start_ns`` when given (churn: the
        connect started the transaction, the send starts its latency). Returns whether
        the request was counted. ``received`` is the reply's size when it differs
        from the request's.
        """
        at = start_ns if window_ns is None else window_ns
        if at < self.measure_start_ns or at >= self.measure_end_ns:
            return False
        if self.requests >= self.request_limit:
            return False
        self.requests += 1
        self.bytes_sent += nbytes
        self.bytes_received += nbytes if received is None else received
        self.latency.record((end_ns - start_ns + 500) // 1000)
        if self.requests == self.request_limit:
            self.done.set()
        return True

    def complete_kind(
        self, kind: str, start_ns: int, end_ns: int, nbytes: int, received: int
    ) -> None:
        """:meth:`complete` for a request of ``kind`` (one of :meth:`track_kinds`)."""
        if self.complete(start_ns, end_ns, nbytes, received=received):
            stats = self.by_kind[kind]
            stats.requests += 1
            stats.latency.record((end_ns - start_ns + 500) // 1000)

    def complete_scheduled(
        self,
        due_ns: int,
        sent_ns: int,
        end_ns: int,
        nbytes: int,
        received: int | None = None,
        kind: str | None = None,
    ) -> None:
        """An open-loop request: latency from when it was due (coordinated-omission free)."""
        if due_ns < self.measure_start_ns or due_ns >= self.measure_end_ns:
            return
        if self.requests >= self.request_limit:
            return
        if kind is not None:
            stats = self.by_kind[kind]
            stats.requests += 1
            stats.latency.record((end_ns - due_ns + 500) // 1000)
        self.requests += 1
        self.bytes_sent += nbytes
        self.bytes_received += nbytes if received is None else received
        self.latency.record((end_ns - due_ns + 500) // 1000)
        self.service.record((end_ns - sent_ns + 500) // 1000)
        self.send_lag.record((sent_ns - due_ns + 500) // 1000)
        if self.requests == self.request_limit:
            self.done.set()

    def scheduled_send(self, due_ns: int, ready_ns: int, sent_ns: int) -> None:
        """Record how late the generator itself was: ``ready_ns`` is when it could send."""
        if self.measure_start_ns <= due_ns < self.measure_end_ns:
            self.scheduler_lag.record((sent_ns - max(due_ns, ready_ns) + 500) // 1000)

    def add_stream_datagrams(
        self, sent: int, sent_bytes: int, report: tuple[int, int] | None
    ) -> None:
        """Fold one UDP stream client's count in; a missing report leaves its fate unknown."""
        if report is None:
            self.error("no_report")
            counts = DatagramCounts(sent=sent, in_flight=sent)
        else:
            received = min(report[0], sent)
            counts = DatagramCounts(sent=sent, received=received, lost=sent - received)
            self.bytes_received += report[1]
        self.bytes_sent += sent_bytes
        self.requests += sent
        self.stream_datagrams = (self.stream_datagrams or DatagramCounts()) + counts

    def error(self, kind: str, request_kind: str | None = None) -> None:
        """Count an error; ``request_kind`` names the kind of request it hit, when known."""
        now = time.monotonic_ns()
        if self.measure_start_ns <= now < self.measure_end_ns:
            self.errors[kind] += 1
            if request_kind is not None and request_kind in self.by_kind:
                self.by_kind[request_kind].errors[kind] += 1
        elif now < self.measure_start_ns:
            self.warmup_errors[kind] += 1

    def datagram_counts(self) -> DatagramCounts | None:
        if not self.ledgers:
            return self.stream_datagrams
        total = self.stream_datagrams or DatagramCounts()
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
            client_bytes=tuple(self.client_bytes),
            extra_histograms=self._open_loop_histograms(),
            intervals=tuple(self.series.rows) if self.series else (),
            latency_by_kind={n: encode(k.latency.histogram) for n, k in self.by_kind.items()},
            requests_by_kind={n: k.requests for n, k in self.by_kind.items()},
            errors_by_kind={n: dict(k.errors) for n, k in self.by_kind.items()},
        )

    def _open_loop_histograms(self) -> dict[str, str]:
        if self.service.histogram.get_total_count() == 0:
            return {}
        return {
            "service_time_us": encode(self.service.histogram),
            "send_lag_us": encode(self.send_lag.histogram),
            "scheduler_lag_us": encode(self.scheduler_lag.histogram),
        }


class KindStats:
    """One kind of request's share of a worker's counters."""

    __slots__ = ("errors", "last_requests", "latency", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.last_requests = 0
        self.errors: Counter[str] = Counter()
        self.latency = Recorder()

    def cut(self, name: str) -> KindRow:
        """This kind's part of the interval that just ended."""
        row = KindRow(name, self.requests - self.last_requests, encode(self.latency.cut_interval()))
        self.last_requests = self.requests
        return row
