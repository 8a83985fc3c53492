"""What one worker measures while its clients run: the sink of every exchange outcome.

Client tasks all live in one trio thread, so plain attribute updates are safe and
cheap. Which requests count is decided by :mod:`sockbench.core.exchange` (window
membership, timeouts, the drain); this recorder only adds up what it is told.
Errors not tied to a measured request (a failed connect) are kept by when they
happened: before the window they are warm-up errors.

Rates come from what the target did inside the window: ``served`` counts the replies
received between the window's start and its end (warm-up requests' replies among
them: an open-loop backlog from the warm-up is served there), and the interval rows
count the same replies. Requests of the window answered in the drain are measured
(their latencies are recorded) but were not served inside it: ``drained``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import trio

from sockbench.core.datagrams import DatagramCounts
from sockbench.core.error_replies import count as count_error_reply
from sockbench.core.exchange import NEVER, DatagramExchange, RequestWindow
from sockbench.core.histogram import NsRecorder, encode
from sockbench.core.intervals import (
    IntervalRow,
    IntervalSeries,
    KindRow,
    PacingRow,
    count_kinds,
    with_kinds,
)
from sockbench.core.kinds import StreamDirection
from sockbench.core.stream_meter import StreamCut, StreamMeter, settled
from sockbench.core.tally import ConnectSpan, Tally
from sockbench.core.tls import HANDSHAKE_US, handshake_name


class WorkerRecorder:
    __slots__ = (
        "_last_error_kinds",
        "_last_errors",
        "_last_offered",
        "_last_replies",
        "by_kind",
        "bytes_received",
        "bytes_sent",
        "clients_served",
        "connect",
        "connect_span",
        "connections",
        "datagram_exchanges",
        "drain_ns",
        "drain_row",
        "error_replies",
        "errors",
        "failures",
        "fault",
        "faulted",
        "handshake_us",
        "handshakes",
        "idle_closes",
        "interrupted",
        "kind_adds",
        "kind_stats",
        "latency",
        "loop_busy",
        "negotiated",
        "offered",
        "open_loop",
        "requests",
        "retired",
        "scheduler_lag",
        "send_lag",
        "series",
        "served",
        "served_from_warmup",
        "service",
        "start_ns",
        "stream",
        "stream_datagrams",
        "stream_probes",
        "warm_replies",
        "warmup_errors",
        "warmup_rows",
        "warmup_sent",
        "window",
        "window_closed",
    )

    def __init__(
        self,
        clients: int = 0,
        window: RequestWindow | None = None,
        *,
        open_loop: bool = False,
        stream_payload: int | None = None,
        stream_direction: StreamDirection = StreamDirection.FORWARD,
    ) -> None:
        self.start_ns = NEVER  # when the clients were let go: warm-up starts
        self.window = window if window is not None else RequestWindow(10**9, clients=clients)
        self.open_loop = open_loop
        self.retired = trio.Event()  # set once every client has nothing left to do
        if self.window.clients == 0:
            self.retired.set()
        self.interrupted = False
        # A protocol's code failed (one line, contract.fault_line): the worker stops as
        # an interrupt would, keeps what it measured, and the run ends worker_failed.
        self.fault: str | None = None
        self.faulted = trio.Event()
        self.drain_ns = 0
        # The share of its time the worker's loop was not idle (timing.LoopClock).
        self.loop_busy = 0.0
        self.requests = 0
        # Warm-up requests answered (on time) from the window's start on.
        self.warm_replies = 0
        # Open loop: requests sent (whatever their due time) inside the window.
        self.offered = 0
        # Open loop: warm-up requests sent (whenever): the drain's warm-up backlog.
        self.warmup_sent = 0
        # Snapshots at the window's end (close_window): replies received inside it.
        self.window_closed = False
        self.served = 0
        self.served_from_warmup = 0
        self.drain_row: IntervalRow | None = None
        self.bytes_sent = 0
        self.bytes_received = 0
        self.connections = 0
        self.connect_span = ConnectSpan()
        self.errors: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()  # measured requests that ended in error, by kind
        self.warmup_errors: Counter[str] = Counter()
        self.warmup_rows: WarmupRows | None = None  # --warmup auto: the warm-up's own rows
        # Per request: nanoseconds, appended as they come (core/histogram.NsRecorder).
        self.latency = NsRecorder()
        self.connect = NsRecorder()
        # TLS: each handshake's time (after the connect's), and how many were full or
        # resumed (core/tls.py's handshake_name).
        self.handshake_us = NsRecorder()
        self.handshakes: Counter[str] = Counter()
        self.negotiated: Counter[str] = Counter()
        # What measured requests' error replies said, by text (core/error_replies.py).
        self.error_replies: Counter[str] = Counter()
        self.clients_served = 0  # clients with a window request answered (exchanges')
        self.idle_closes = 0  # window connections the target ended with nothing in flight
        # Open loop only: latency from the actual send, and how late the send was.
        self.service = NsRecorder()
        self.send_lag = NsRecorder()
        # The generator's own part of the send lag: how late it sent once it could send
        # (a --pipeline slot was free). Only this part is the generator's fault.
        self.scheduler_lag = NsRecorder()
        self.datagram_exchanges: list[DatagramExchange] = []
        # Stream mode (``stream_payload`` given): what each client wrote and its peer took,
        # as it goes; where a peer's count can be read while the run goes (TCP_INFO), a
        # probe per client that reads it at each cut (None: not that client); UDP totals.
        self.stream = (
            None
            if stream_payload is None
            else StreamMeter(
                clients,
                stream_payload,
                reading=stream_direction.reads,
                sending=stream_direction.sends,
            )
        )
        self.stream_probes: list[Callable[[], int | None] | None] = [None] * clients
        self.stream_datagrams: DatagramCounts | None = None
        self.series: IntervalSeries | None = None
        self._last_replies = self._last_errors = self._last_offered = 0
        self._last_error_kinds: Counter[str] = Counter()  # by kind, at the last cut
        # Protocols with several kinds of request (SET, GET): the same numbers per kind.
        self.by_kind: dict[str, KindStats] = {}
        self._kinds([KindStats()])

    def stop_for(self, fault: str) -> None:
        """Stop this worker for ``fault`` (the first one is kept): what is open stays in
        flight, as after an interrupt, and the result says why."""
        if self.fault is None:
            self.fault = fault
        self.interrupted = True
        self.faulted.set()

    def keep_up(self) -> None:
        """Fold in the per-request samples that wait (:class:`NsRecorder`: no check per
        sample); the worker calls it every ``KEEP_UP_S``."""
        for recorder in (self.latency, self.service, self.send_lag, self.scheduler_lag):
            recorder.keep_up()
        for stats in self.kind_stats:
            stats.latency.keep_up()

    def track_kinds(self, kinds: tuple[str, ...], lookups: tuple[int, ...] = ()) -> None:
        """Count each of ``kinds`` apart; exchanges then name a kind by its index.
        ``lookups``: the keys each kind's request reads (its hits and misses are counted).

        ``kind_stats`` holds them by index, plus one more at the end that is never
        reported: where a plugin's undeclared kind lands, with no check on the hot path.
        """
        reads = dict(zip(kinds, lookups, strict=False))
        self.by_kind = {kind: KindStats(reads=reads.get(kind, 0)) for kind in kinds}
        self._kinds([*self.by_kind.values(), KindStats()])

    def _kinds(self, stats: list[KindStats]) -> None:
        self.kind_stats = stats
        # Each one's latency recorder's ``add``, by index: a completed request's only
        # write to its kind but for misses (one lookup and call, not three).
        self.kind_adds = tuple(k.latency.add for k in stats)

    @property
    def measure_start_ns(self) -> int:
        return self.window.measure_start_ns

    @property
    def measure_end_ns(self) -> int:
        return self.window.measure_end_ns

    def retire(self) -> None:
        """One client has nothing left to do (its window closed and its requests ended)."""
        self.window.retire()
        if self.window.all_retired:
            self.retired.set()

    def start_intervals(self, interval_ns: int) -> None:
        """Begin the time series; call when measurement starts."""
        self.series = IntervalSeries(interval_ns)
        self.latency.cut_interval()
        self._last_replies = self.replies
        self._last_errors = sum(self.errors.values())
        self._last_error_kinds = Counter(self.errors)
        self._last_offered = self.offered
        self.send_lag.cut_interval()
        self.scheduler_lag.cut_interval()
        for kind in self.by_kind.values():
            kind.latency.cut_interval()
            kind.rebase()

    @property
    def replies(self) -> int:
        """Replies that completed a request: measured ones, and warm-up ones answered
        from the window's start on."""
        return self.requests + self.warm_replies

    def cut_interval(self, end_ns: int) -> IntervalRow | None:
        """Close the interval ending at ``end_ns`` (monotonic); None if it would be empty."""
        series = self.series
        if series is None or end_ns - self.measure_start_ns <= series.rows_end_ns:
            return None
        errors = sum(self.errors.values())
        stream = self._cut_stream()
        replies = self.replies
        row = series.end_interval(
            self.latency.cut_interval(),
            replies - self._last_replies,
            errors - self._last_errors,
            end_ns=end_ns - self.measure_start_ns,
        )
        self._last_replies = replies
        self._last_errors = errors
        if row.errors:  # which kinds they were, for --metrics-port
            new = self.errors - self._last_error_kinds
            row = replace(row, error_kinds=count_kinds(new.items()))
            series.rows[-1] = row
            self._last_error_kinds = Counter(self.errors)
        if self.by_kind:
            row = with_kinds(row, tuple(k.cut(name) for name, k in self.by_kind.items()))
            series.rows[-1] = row
        if self.open_loop and stream is None:  # a stream's rows count bytes, not sends
            row = replace(row, pacing=self._cut_pacing())
            series.rows[-1] = row
        if stream is not None:
            row = replace(
                row,
                sent_bytes=stream.sent_bytes,
                received_bytes=stream.received_bytes,
                read_bytes=stream.read_bytes,
            )
            series.rows[-1] = row
        return row

    def _cut_pacing(self) -> PacingRow:
        """Open loop: the sends of the interval that just ended, and its lags."""
        offered, self._last_offered = self.offered - self._last_offered, self.offered
        return PacingRow(
            offered,
            encode(self.send_lag.cut_interval()),
            encode(self.scheduler_lag.cut_interval()),
        )

    def _cut_stream(self) -> StreamCut | None:
        """Stream mode: read what the peers took (the probes), then cut the meter; the
        messages written so far are the requests (req/s is msg/s)."""
        meter = self.stream
        if meter is None:
            return None
        for client, probe in enumerate(self.stream_probes):
            if probe is not None:
                meter.took(client, probe())
        cut = meter.cut()
        self.requests = meter.messages
        return cut

    def finish_stream(self, client: int, received: int | None) -> None:
        """``client`` is done: the receiver's final count of its window bytes (None: not
        reported); its probe is not read again (its socket is about to close)."""
        assert self.stream is not None
        self.stream_probes[client] = None
        self.stream.finish(client, received)

    def close_window(self, end_ns: int) -> IntervalRow | None:
        """The window ended at ``end_ns`` (its end, or earlier when the run stopped or every
        client finished): its last row, and what was served inside it."""
        if self.window_closed:
            return None
        self.window_closed = True
        row = self.cut_interval(end_ns)
        self.served = self.replies
        self.served_from_warmup = self.warm_replies
        return row

    def close_drain(self, end_ns: int) -> None:
        """The drain ended at ``end_ns``: what ended in it, as one row of its own
        (``drain_row``, None when it ended nothing), never one of the window's."""
        series = self.series
        if series is None or not self.window_closed:
            return
        if self.replies == self._last_replies and sum(self.errors.values()) == self._last_errors:
            return
        row = self.cut_interval(max(end_ns, self.measure_start_ns + series.rows_end_ns + 1))
        if row is not None:
            self.drain_row = series.rows.pop()

    @property
    def drained(self) -> int:
        """Measured requests answered after the window, in the drain."""
        return self.requests - (self.served - self.served_from_warmup)

    def completed(
        self, latency_ns: int, service_ns: int, sent: int, got: int, kind: int = -1, misses: int = 0
    ) -> None:
        self.requests += 1
        self.bytes_sent += sent
        self.bytes_received += got
        self.latency.add(latency_ns)
        if self.open_loop:
            self.service.add(service_ns)
            self.send_lag.add(latency_ns - service_ns)
        if kind >= 0:  # the kind's count is its latencies' (KindStats.requests)
            self.kind_adds[kind](latency_ns)
            if misses:
                self.kind_stats[kind].misses += misses

    def completed_run(
        self,
        latency_ns: int,
        service_ns: int,
        sent: int,
        got: int,
        count: int,
        kinds: list[int] | None,
        misses: list[int] | None,
    ) -> None:
        self.requests += count
        self.bytes_sent += sent
        self.bytes_received += got
        self.latency.add_many(latency_ns, count)
        if self.open_loop:
            self.service.add_many(service_ns, count)
            self.send_lag.add_many(latency_ns - service_ns, count)
        if kinds is None:
            return
        adds = self.kind_adds
        for kind in kinds:  # an add each: cheaper than counting a write's few kinds first
            adds[kind](latency_ns)
        if misses is not None and any(misses):
            stats = self.kind_stats
            for kind, missed in enumerate(misses):
                if missed:
                    stats[kind].misses += missed

    def failed(self, kind: str, count: int, at_ns: int) -> None:
        self.failures[kind] += count
        self.errors[kind] += count  # a lost datagram too: a request with no valid reply

    def warmup_reply(self, at_ns: int, latency_ns: int = 0) -> None:
        if at_ns >= self.window.measure_start_ns:
            self.warm_replies += 1
        elif self.warmup_rows is not None:
            self.warmup_rows.replied(latency_ns)

    def start_warmup_rows(self, start_ns: int, interval_ns: int) -> None:
        """--warmup auto: cut the warm-up into rows of its own from ``start_ns``."""
        self.warmup_rows = WarmupRows(start_ns, interval_ns, sum(self.warmup_errors.values()))

    def cut_warmup(self, end_ns: int) -> IntervalRow:
        """The warm-up's row ending at ``end_ns`` (monotonic), never one of the window's."""
        assert self.warmup_rows is not None
        return self.warmup_rows.cut(end_ns, sum(self.warmup_errors.values()))

    def kind_failed(self, kind: int, error: str) -> None:
        self.kind_stats[kind].errors[error] += 1

    def kind_warm_reply(self, kind: int, at_ns: int) -> None:
        if at_ns >= self.window.measure_start_ns:
            self.kind_stats[kind].warm_replies += 1

    def scheduled_send(self, due_ns: int, ready_ns: int, sent_ns: int) -> None:
        """Record how late the generator itself was: ``ready_ns`` is when it could send."""
        window = self.window  # its bounds, not this recorder's properties: a call less each
        start, end = window.measure_start_ns, window.measure_end_ns
        if start <= due_ns < end:
            self.scheduler_lag.add(sent_ns - (due_ns if due_ns >= ready_ns else ready_ns))
        elif due_ns < start:
            self.warmup_sent += 1
        if start <= sent_ns < end:
            self.offered += 1

    def add_stream_datagrams(
        self, client: int, sent: int, report: tuple[int, int] | None, answered: bool = False
    ) -> None:
        """Fold one UDP stream client's count in; a missing report leaves its fate unknown.
        ``answered``: its sink reported when the window opened, so one missing at its end
        is a sink that stopped (``sink_stopped``), not a target that never reports."""
        self.finish_stream(client, report[1] if report else None)
        if report is None:
            self.errors["sink_stopped" if answered else "no_report"] += 1
            counts = DatagramCounts(sent=sent, in_flight=sent)
        else:
            received = min(report[0], sent)
            counts = DatagramCounts(sent=sent, received=received, lost=sent - received)
        self.stream_datagrams = (self.stream_datagrams or DatagramCounts()) + counts

    def handshake(self, elapsed_ns: int, resumed: bool, negotiated: str) -> None:
        """A TLS handshake that succeeded, in ``elapsed_ns``: a full one or a resumption,
        and what it agreed on (core/tls.py's ``negotiated``)."""
        self.handshake_us.record(elapsed_ns)
        self.handshakes[handshake_name(resumed)] += 1
        self.negotiated[negotiated] += 1

    def client_served(self) -> None:
        self.clients_served += 1

    def closed_idle(self, at_ns: int) -> None:
        if at_ns >= self.window.measure_start_ns:
            self.idle_closes += 1

    def error_reply(self, reply: bytes) -> None:
        count_error_reply(self.error_replies, reply)

    def error(self, kind: str, at_ns: int) -> None:
        if at_ns < self.window.measure_start_ns:
            self.warmup_errors[kind] += 1
        else:
            self.errors[kind] += 1

    def datagram_counts(self) -> DatagramCounts | None:
        counted = [c for ex in self.datagram_exchanges if (c := ex.counts()) is not None]
        if not counted:
            return self.stream_datagrams
        total = self.stream_datagrams or DatagramCounts()
        for counts in counted:
            total = total + counts
        return total

    def tally(self, *, datagrams: bool, requests_issued: bool = True) -> Tally:
        """The worker's measurement; ``requests_issued`` False where requests are not
        exchanges (stream mode counts bytes)."""
        counts = self.datagram_counts()
        window = self.window
        meter = self.stream
        rows = tuple(self.series.rows) if self.series else ()
        requests, sent, received = self.requests, self.bytes_sent, self.bytes_received
        if meter is not None:  # a stream's counts are its meter's
            requests, sent = meter.messages, meter.sent_total
            received = sum(r or 0 for r in meter.received)
            rows = settled(rows)
        return Tally(
            issued=window.issued if requests_issued else None,
            failed=dict(self.failures),
            in_flight=self.in_flight() if requests_issued else 0,
            drain_ns=self.drain_ns,
            loop_busy_percent=round(100 * self.loop_busy, 1),
            requests=requests,
            served=self.served if self.window_closed else self.replies,
            served_from_warmup=(
                self.served_from_warmup if self.window_closed else self.warm_replies
            ),
            offered=self.offered,
            drain_interval=self.drain_row,
            bytes_sent=sent,
            bytes_received=received,
            connections=self.connections,
            connect_span=(self.connect_span.first_ns, self.connect_span.last_ns),
            errors=dict(self.errors),
            warmup_errors=dict(self.warmup_errors),
            latency=encode(self.latency.histogram),
            connect=encode(self.connect.histogram),
            clamped=self.latency.clamped + self.connect.clamped + self.handshake_us.clamped,
            datagrams=(counts or DatagramCounts()) if datagrams else None,
            client_bytes=tuple(meter.sent) if meter else (),
            client_received=tuple(meter.received) if meter else (),
            client_reads=meter.read_counts() if meter else (),
            extra_histograms={**self._open_loop_histograms(), **self._tls_histograms()},
            handshakes=dict(self.handshakes),
            negotiated=dict(self.negotiated),
            error_replies=dict(self.error_replies),
            # Streams' request/reply clients only: a datagram client's outcome is its
            # ledger's, and --mode stream has no requests to answer.
            clients_served=self.clients_served if requests_issued and not datagrams else None,
            closed_idle=self.idle_closes,
            intervals=rows,
            latency_by_kind={n: encode(k.latency.histogram) for n, k in self.by_kind.items()},
            requests_by_kind={n: k.requests for n, k in self.by_kind.items()},
            errors_by_kind={n: dict(k.errors) for n, k in self.by_kind.items()},
            lookups_by_kind={n: (k.hits, k.misses) for n, k in self.by_kind.items() if k.reads},
            faults=(self.fault,) if self.fault is not None else (),
        )

    @property
    def unended(self) -> int:
        """Measured requests issued in the window and not yet ended (answered or failed)."""
        return self.window.issued - self.requests - sum(self.failures.values())

    def in_flight(self) -> int:
        """What an interrupted run left open (:attr:`unended`). After a normal end it is 0
        by the drain's rule, so a remainder there is an accounting bug (the result's
        identity check then fails loudly)."""
        return self.unended if self.interrupted else 0

    def _tls_histograms(self) -> dict[str, str]:
        if not self.handshakes:
            return {}
        return {HANDSHAKE_US: encode(self.handshake_us.histogram)}

    def _open_loop_histograms(self) -> dict[str, str]:
        if self.service.histogram.get_total_count() == 0:
            return {}
        return {
            "service_time_us": encode(self.service.histogram),
            "send_lag_us": encode(self.send_lag.histogram),
            "scheduler_lag_us": encode(self.scheduler_lag.histogram),
        }


class WarmupRows:
    """--warmup auto's view of the warm-up: the replies to warm-up requests answered on
    time (latency from each request's mark) and the warm-up's errors, cut into rows on
    the grid from the warm-up's start. They feed the rule (core/warmup.py) and the
    result's ``warmup`` section, never a count of the window."""

    __slots__ = ("_last_errors", "_last_replies", "latency", "replies", "series", "start_ns")

    def __init__(self, start_ns: int, interval_ns: int, errors: int) -> None:
        self.start_ns = start_ns
        self.series = IntervalSeries(interval_ns)
        self.latency = NsRecorder()
        self.latency.cut_interval()  # the first row's samples from here
        self.replies = 0
        self._last_replies = 0
        self._last_errors = errors

    def replied(self, latency_ns: int) -> None:
        self.replies += 1
        self.latency.record(latency_ns)

    def cut(self, end_ns: int, errors: int) -> IntervalRow:
        row = self.series.end_interval(
            self.latency.cut_interval(),
            self.replies - self._last_replies,
            errors - self._last_errors,
            end_ns=end_ns - self.start_ns,
        )
        self._last_replies, self._last_errors = self.replies, errors
        return row


class KindStats:
    """One kind of request's share of a worker's counters."""

    __slots__ = (
        "errors",
        "last_misses",
        "last_requests",
        "last_warm",
        "latency",
        "misses",
        "reads",
        "warm_replies",
    )

    def __init__(self, *, reads: int = 0) -> None:
        # A kind that reads keys (GET): how many each request reads, and how many of its
        # completed requests' keys missed (the rest hit).
        self.reads = reads
        self.misses = 0
        self.last_requests = self.last_misses = 0
        # Its warm-up requests answered (on time) from the window's start on: its part of
        # the served rate, as WorkerRecorder.warm_replies is of the whole.
        self.warm_replies = self.last_warm = 0
        self.errors: Counter[str] = Counter()
        self.latency = NsRecorder()

    @property
    def requests(self) -> int:
        """Its completed requests: one latency each, so counted by their recorder."""
        return self.latency.count

    @property
    def hits(self) -> int:
        """Keys its completed requests found: each reads ``reads`` keys; the rest missed."""
        return self.reads * self.requests - self.misses

    def cut(self, name: str) -> KindRow:
        """This kind's part of the interval that just ended: its replies (a warm-up
        request's too, as the row's own count has them), the measured ones' latencies,
        and their hits and misses where it reads keys."""
        requests, misses = self.requests - self.last_requests, self.misses - self.last_misses
        row = KindRow(
            name,
            requests + self.warm_replies - self.last_warm,
            encode(self.latency.cut_interval()),
            hits=self.reads * requests - misses if self.reads else None,
            misses=misses if self.reads else None,
        )
        self.rebase()
        return row

    def rebase(self) -> None:
        """The next interval counts from here (the window's start, or a cut)."""
        self.last_requests, self.last_misses = self.requests, self.misses
        self.last_warm = self.warm_replies
