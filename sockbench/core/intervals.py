"""Per-interval throughput and latency: the time series of a run.

Trade-off: the series does nothing per request. Once per tick the engine hands
over what happened since the previous tick (the latency samples and counter
deltas); the series folds the samples into one scratch histogram, keeps a row of
summary numbers and the *encoded* histogram, and resets the scratch histogram.
A full 1 µs-60 s histogram takes ~140 KB in memory but a few hundred bytes
encoded, so an hour of 1 s intervals stays small. Ticks cost a few milliseconds.

Times are nanoseconds since the start of measurement; rows give seconds.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeAlias, overload

import numpy as np
from hdrh.histogram import HdrHistogram

from sockbench.core.histogram import Recorder, decode, encode, new_histogram

if TYPE_CHECKING:  # the records type the rows; they load pydantic, so only for mypy
    from sockbench.core.records.counts import Interval, KindInterval

NS_PER_S = 1_000_000_000

Latencies: TypeAlias = "HdrHistogram | np.ndarray[Any, np.dtype[np.int64]] | array[int]"


@dataclass(frozen=True)
class KindRow:
    """One kind of request's part of an interval: its replies (a warm-up request's
    answered in the window too, as the row's own count has them), the measured ones'
    encoded latencies, and where the kind reads keys (a GET) the keys its measured
    requests found and missed."""

    kind: str
    requests: int
    histogram: str
    hits: int | None = None
    misses: int | None = None


@dataclass(frozen=True)
class PacingRow:
    """Open loop (``--rate``): how the schedule went in one interval. ``offered``: the
    requests sent in it (the result's ``offered_rps`` counts the same sends over the
    window); ``send_lag``: how late the requests answered in it went out after their due
    time, and ``scheduler_lag``: the generator's own part of the lateness of those sent in
    it (encoded histograms, µs, as the result's ``send_lag_us``/``scheduler_lag_us``)."""

    offered: int
    send_lag: str
    scheduler_lag: str


@dataclass(frozen=True)
class IntervalRow:
    """One interval: ``t`` is its end in seconds since the start of measurement.

    Latencies are in µs; ``histogram`` is the interval's encoded HdrHistogram.
    """

    start_s: float
    t: float
    requests: int
    errors: int
    rps: float
    p50: int
    p99: int
    max: int
    histogram: str
    by_kind: tuple[KindRow, ...] = ()
    # --mode stream (core/stream_meter.py): bytes written in the interval, and those the
    # peer took in it (None: not known while the run went); None for other workloads.
    sent_bytes: int | None = None
    received_bytes: int | None = None
    # --reverse, --bidir: the bytes the clients read from the server in the interval.
    read_bytes: int | None = None
    # The interval's errors by kind ((kind, count), sorted; they add up to ``errors``):
    # what --metrics-port exports (core/live_metrics.py); not a key of the result's rows.
    error_kinds: tuple[tuple[str, int], ...] = ()
    pacing: PacingRow | None = None  # open loop only

    @property
    def lookups(self) -> tuple[int, int] | None:
        """(hits, misses) over the kinds that read keys; None where none does."""
        reading = [k for k in self.by_kind if k.hits is not None]
        if not reading:
            return None
        return sum(k.hits or 0 for k in reading), sum(k.misses or 0 for k in reading)

    def to_json(self) -> Interval:
        """The row as reported: ``{t, requests, errors, rps, p50, p99, max}``, and
        ``by_kind: {kind: {requests, rps, p99}}`` for protocols with several kinds (with
        ``hits`` and ``misses`` in the row and in each kind that reads keys);
        a stream's rows add ``sent_bytes``, ``sent_bps``, ``received_bytes`` and
        ``received_bps`` (null where the receiver's side is not known per interval), and
        with ``--reverse``/``--bidir`` ``read_bytes`` and ``read_bps``; an open-loop run's
        ``offered``, ``offered_rps``, ``send_lag_p99`` and ``scheduler_lag_p99``."""
        doc: Interval = {
            "t": self.t,
            "requests": self.requests,
            "errors": self.errors,
            "rps": self.rps,
            "p50": self.p50,
            "p99": self.p99,
            "max": self.max,
        }
        if self.by_kind:
            doc["by_kind"] = {k.kind: self.kind_summary(k) for k in self.by_kind}
        if (lookups := self.lookups) is not None:
            doc["hits"], doc["misses"] = lookups
        if (pacing := self.pacing) is not None:
            doc["offered"] = pacing.offered
            doc["offered_rps"] = self.per_s(pacing.offered)
            doc["send_lag_p99"] = _p99(decode(pacing.send_lag))
            doc["scheduler_lag_p99"] = _p99(decode(pacing.scheduler_lag))
        if self.sent_bytes is not None:
            doc["sent_bytes"] = self.sent_bytes
            doc["sent_bps"] = self.bps(self.sent_bytes)
            doc["received_bytes"] = self.received_bytes
            doc["received_bps"] = self.bps(self.received_bytes)
        if self.read_bytes is not None:
            doc["read_bytes"] = self.read_bytes
            doc["read_bps"] = self.bps(self.read_bytes)
        return doc

    @overload
    def bps(self, nbytes: int) -> float: ...
    @overload
    def bps(self, nbytes: int | None) -> float | None: ...
    def bps(self, nbytes: int | None) -> float | None:
        """``nbytes`` moved in this interval, in bits/s (None: not known)."""
        if nbytes is None:
            return None
        return self.per_s(nbytes * 8)

    def per_s(self, count: int) -> float:
        """``count`` things in this interval, per second."""
        return round(count / max(self.t - self.start_s, 1e-9), 3)

    def kind_summary(self, kind: KindRow) -> KindInterval:
        """``{requests, rps, p99}`` of one kind in this interval, and ``{hits, misses}``
        where it reads keys."""
        doc: KindInterval = {
            "requests": kind.requests,
            "rps": self.per_s(kind.requests),
            "p99": _p99(decode(kind.histogram)),
        }
        if kind.hits is not None:
            doc["hits"], doc["misses"] = kind.hits, kind.misses or 0
        return doc


def _p99(hist: HdrHistogram) -> int:
    """A histogram's p99, 0 where it recorded nothing (as the rows keep an empty one)."""
    return int(hist.get_value_at_percentile(99.0)) if hist.get_total_count() else 0


def with_kinds(row: IntervalRow, kinds: tuple[KindRow, ...]) -> IntervalRow:
    return replace(row, by_kind=kinds)


def sum_known(values: Sequence[int | None]) -> int | None:
    """The sum, or None when one of ``values`` is None."""
    return None if any(v is None for v in values) else sum(v or 0 for v in values)


def count_kinds(counts: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """``(kind, count)`` pairs added up by kind, sorted, leaving out zeros."""
    total: Counter[str] = Counter()
    for kind, n in counts:
        total[kind] += n
    return tuple(sorted((kind, n) for kind, n in total.items() if n))


def _merge_kinds(rows: Sequence[IntervalRow]) -> tuple[KindRow, ...]:
    names = list(dict.fromkeys(k.kind for row in rows for k in row.by_kind))
    merged = []
    for name in names:
        same = [k for row in rows for k in row.by_kind if k.kind == name]
        hist = new_histogram()
        for k in same:
            hist.add(decode(k.histogram))
        reads = same[0].hits is not None
        merged.append(
            KindRow(
                name,
                sum(k.requests for k in same),
                encode(hist),
                hits=sum(k.hits or 0 for k in same) if reads else None,
                misses=sum(k.misses or 0 for k in same) if reads else None,
            )
        )
    return tuple(merged)


def _merge_pacing(rows: Sequence[IntervalRow]) -> PacingRow | None:
    """Workers' pacing in one interval: their sends added, their lags' histograms merged."""
    paced = [row.pacing for row in rows if row.pacing is not None]
    if not paced:
        return None
    send_lag, scheduler_lag = new_histogram(), new_histogram()
    for pacing in paced:
        send_lag.add(decode(pacing.send_lag))
        scheduler_lag.add(decode(pacing.scheduler_lag))
    return PacingRow(sum(p.offered for p in paced), encode(send_lag), encode(scheduler_lag))


def _row(start_ns: int, end_ns: int, requests: int, errors: int, hist: HdrHistogram) -> IntervalRow:
    if hist.get_total_count():
        pct = hist.get_percentile_to_value_dict([50.0, 99.0])
        p50, p99, top = int(pct[50.0]), int(pct[99.0]), int(hist.get_max_value())
    else:
        p50 = p99 = top = 0
    return IntervalRow(
        start_s=start_ns / NS_PER_S,
        t=end_ns / NS_PER_S,
        requests=requests,
        errors=errors,
        rps=round(requests * NS_PER_S / (end_ns - start_ns), 3),
        p50=p50,
        p99=p99,
        max=top,
        histogram=encode(hist),
    )


class IntervalSeries:
    """Cuts a run into intervals of ``interval_ns`` and keeps one row per interval.

    Call :meth:`end_interval` at each tick (``next_end_ns`` says when); the last
    interval may end early, when measurement stops. :attr:`total` holds every
    sample of every interval.
    """

    __slots__ = ("_last_end_ns", "_scratch", "interval_ns", "rows", "total")

    def __init__(self, interval_ns: int) -> None:
        if interval_ns <= 0:
            raise ValueError(f"interval must be positive, got {interval_ns} ns")
        self.interval_ns = interval_ns
        self.rows: list[IntervalRow] = []
        self.total = new_histogram()
        self._scratch = Recorder()
        self._last_end_ns = 0

    @property
    def next_end_ns(self) -> int:
        """When the current interval ends, on the regular grid."""
        return (len(self.rows) + 1) * self.interval_ns

    @property
    def rows_end_ns(self) -> int:
        """Where the last row ended (0 before the first)."""
        return self._last_end_ns

    @property
    def clamped(self) -> int:
        """Samples outside the histogram's range, recorded at its nearest end."""
        return self._scratch.clamped

    def end_interval(
        self, latencies: Latencies, requests: int, errors: int, end_ns: int | None = None
    ) -> IntervalRow:
        """Close the current interval with what happened in it and return its row.

        ``latencies`` are the interval's samples in µs, as an array or an
        HdrHistogram (which is only read); ``requests`` and ``errors`` are counts
        for this interval alone. ``end_ns`` defaults to :attr:`next_end_ns`.
        """
        start = self._last_end_ns
        end = self.next_end_ns if end_ns is None else end_ns
        if end <= start:
            raise ValueError(f"interval end {end} ns is not after its start {start} ns")
        scratch = self._scratch
        if isinstance(latencies, HdrHistogram):
            scratch.hist.add(latencies)
        else:
            scratch.add_values(np.asarray(latencies, dtype=np.int64))
        hist = scratch.hist
        row = _row(start, end, requests, errors, hist)
        self.total.add(hist)
        self.rows.append(row)
        self._last_end_ns = end
        clamped = scratch.clamped
        scratch.reset()
        scratch.clamped = clamped
        return row


def merge_rows(per_worker: Sequence[Sequence[IntervalRow]]) -> list[IntervalRow]:
    """Rows of several workers sharing one measurement start, added interval by interval.

    Workers tick on the same grid; where the last interval's end differs, the
    latest wins. A worker with fewer rows simply contributes nothing to the rest.
    """
    merged: list[IntervalRow] = []
    for index in range(max((len(rows) for rows in per_worker), default=0)):
        same = [rows[index] for rows in per_worker if index < len(rows)]
        hist = new_histogram()
        for row in same:
            hist.add(decode(row.histogram))
        row = _row(
            round(same[0].start_s * NS_PER_S),
            max(round(row.t * NS_PER_S) for row in same),
            sum(row.requests for row in same),
            sum(row.errors for row in same),
            hist,
        )
        if same[0].by_kind:
            row = with_kinds(row, _merge_kinds(same))
        if (pacing := _merge_pacing(same)) is not None:
            row = replace(row, pacing=pacing)
        if any(r.error_kinds for r in same):
            row = replace(row, error_kinds=count_kinds(p for r in same for p in r.error_kinds))
        if same[0].sent_bytes is not None:
            row = replace(
                row,
                sent_bytes=sum_known([r.sent_bytes for r in same]),
                received_bytes=sum_known([r.received_bytes for r in same]),
                read_bytes=sum_known([r.read_bytes for r in same]),
            )
        merged.append(row)
    return merged


def boundary_ahead(
    anchor_ns: int, interval_ns: int, now_ns: int, lead_ns: int, before_ns: int
) -> int | None:
    """The first boundary of the grid ``anchor + k * interval`` at least ``lead_ns`` after
    ``now_ns`` (time for the workers to hear of it), where a window moved at ``now_ns``
    ends (``--until``) or starts (``--warmup auto``), so every row stays a whole
    interval; None where that is not before ``before_ns`` (the maximum comes first)."""
    after = max(0, now_ns + lead_ns - anchor_ns)
    boundary = anchor_ns + -(-after // interval_ns) * interval_ns
    return boundary if boundary < before_ns else None
