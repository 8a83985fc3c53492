"""Latency histograms: batched recording into HdrHistogram, summaries, merging.

The hdrhistogram package records one value per Python call (about 1 µs each): on a
hot path doing 100k requests/s that alone would eat a tenth of a core. A
:class:`Recorder` instead appends raw samples to a preallocated ``array`` and folds
them into the histogram's counts in batches with numpy, computing the bucket
indices exactly as HdrHistogram does. Values outside the trackable range (0 µs to 60 s) are
clamped to it and counted, never silently dropped (``record_value`` returns False
for them).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from sockbench.core.pickling import PicklesByFields

LOWEST_US = 1
HIGHEST_US = 60_000_000
SIGNIFICANT_FIGURES = 3
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99_9", 99.9),
    ("p99_99", 99.99),
)


def new_histogram() -> HdrHistogram:
    """A histogram in microseconds, 1 µs to 60 s, 3 significant digits."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def counts_array(hist: HdrHistogram) -> np.ndarray[Any, np.dtype[np.int64]]:
    """A numpy view (no copy) of the histogram's counts."""
    counts: np.ndarray[Any, np.dtype[np.int64]] = np.ctypeslib.as_array(hist.counts).view(np.int64)
    return counts


def counts_indices(
    hist: HdrHistogram, values: np.ndarray[Any, np.dtype[np.int64]]
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """HdrHistogram's ``counts_index_for`` for a whole array of in-range values."""
    unit = hist.unit_magnitude
    half_mag = hist.sub_bucket_half_count_magnitude
    masked = values | hist.sub_bucket_mask
    # frexp's exponent is the bit length of an integer exactly representable as a double.
    _, bit_length = np.frexp(masked.astype(np.float64))
    bucket = bit_length.astype(np.int64) - unit - (half_mag + 1)
    sub_bucket = values >> (bucket + unit)
    indices: np.ndarray[Any, np.dtype[np.int64]] = ((bucket + 1) << half_mag) + (
        sub_bucket - hist.sub_bucket_half_count
    )
    return indices


class Recorder:
    """Collects integer samples and records them into one HdrHistogram in batches.

    ``record`` is a bound ``array.append`` plus a length check; :meth:`flush` does
    the numpy work. Call :meth:`flush` (or read :attr:`histogram`) before reading
    results.
    """

    __slots__ = ("_batch", "_buffer", "_interval", "clamped", "hist")

    def __init__(self, batch: int = 8192) -> None:
        self.hist = new_histogram()
        self._buffer = array("q")
        self._batch = batch
        self.clamped = 0
        # Samples since the last cut_interval(), as counts plus [total, min, max].
        self._interval: tuple[np.ndarray[Any, np.dtype[np.int64]], list[int]] | None = None

    def record(self, value: int) -> None:
        buf = self._buffer
        buf.append(value)
        if len(buf) >= self._batch:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        values = np.frombuffer(self._buffer, dtype=np.int64).copy()
        del self._buffer[:]
        self.add_values(self._in_us(values))

    def _in_us(
        self, values: np.ndarray[Any, np.dtype[np.int64]]
    ) -> np.ndarray[Any, np.dtype[np.int64]]:
        return values

    def add_values(self, values: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        """Record a whole array of values at once (clamped into the trackable range)."""
        if values.size == 0:
            return
        hist = self.hist
        # 0 is a real value (a send that was not late at all); HdrHistogram keeps it exactly.
        out_of_range = (values < 0) | (values > HIGHEST_US)
        if out_of_range.any():
            self.clamped += int(out_of_range.sum())
            values = np.clip(values, 0, HIGHEST_US)
        idx = counts_indices(hist, values)
        counts = counts_array(hist)
        added = np.bincount(idx, minlength=counts.size)[: counts.size]
        counts += added
        low, high = int(values.min()), int(values.max())
        hist.total_count += int(values.size)
        hist.min_value = min(hist.min_value, low)
        hist.max_value = max(hist.max_value, high)
        if self._interval is not None:
            interval_counts, extent = self._interval
            interval_counts += added
            extent[0] += int(values.size)
            extent[1] = min(extent[1], low)
            extent[2] = max(extent[2], high)

    def cut_interval(self) -> HdrHistogram:
        """The samples recorded since the previous cut (or since the first one started)."""
        self.flush()
        interval = new_histogram()
        if self._interval is not None:
            counts, (total, low, high) = self._interval
            if total:
                counts_array(interval)[:] = counts
                interval.total_count = total
                interval.min_value = low
                interval.max_value = high
        self._interval = (np.zeros(counts_array(self.hist).size, dtype=np.int64), [0, 2**63, 0])
        return interval

    @property
    def histogram(self) -> HdrHistogram:
        self.flush()
        return self.hist

    @property
    def count(self) -> int:
        """Samples recorded so far, those waiting for the next fold too (none is dropped:
        out of range, it is clamped)."""
        return int(self.hist.total_count) + len(self._buffer)

    def reset(self) -> None:
        """Forget everything recorded so far (used at the end of warm-up)."""
        del self._buffer[:]
        self.hist.reset()
        self.clamped = 0


class NsRecorder(Recorder):
    """A :class:`Recorder` fed nanoseconds, rounded to µs in one place (connects,
    handshakes, and the samples every request makes).

    ``add`` is the buffer's own ``append``: no call of ours, no rounding and no length
    check per sample, about 115 ns less than :meth:`Recorder.record` (two to four samples
    a request). The values are rounded to whole microseconds at the flush, as
    ``(ns + 500) // 1000`` would round each one. The trade-off: nothing per sample bounds
    the buffer, so its owner calls :meth:`keep_up` on a clock (the worker does, every
    ``KEEP_UP_S``), which folds a batch in once one waits: the buffer holds at most a
    batch or that long of samples, whichever is more (64 KiB; 800 KiB at a million a
    second and 0.1 s).
    """

    __slots__ = ("_one", "add")

    def __init__(self, batch: int = 8192) -> None:
        super().__init__(batch)
        self.add = self._buffer.append
        self._one = array("q", [0])  # add_many's sample, repeated as an array

    def add_many(self, value: int, count: int) -> None:
        """``count`` samples of ``value``: one call for requests that share a latency (an
        array repeated and appended: a third of what extending by a tuple costs)."""
        one = self._one
        one[0] = value
        self._buffer.extend(one * count)

    def keep_up(self) -> None:
        """Fold the samples in once a batch is waiting."""
        if len(self._buffer) >= self._batch:
            self.flush()

    def _in_us(
        self, values: np.ndarray[Any, np.dtype[np.int64]]
    ) -> np.ndarray[Any, np.dtype[np.int64]]:
        values += 500
        values //= 1000
        return values


def encode(hist: HdrHistogram) -> str:
    return str(hist.encode().decode("ascii"))


def decode(encoded: str) -> HdrHistogram:
    """Decode into a histogram with the standard range, so it can be merged."""
    hist = new_histogram()
    hist.decode_and_add(encoded)
    return hist


def merge(encoded: list[str]) -> HdrHistogram:
    hist = new_histogram()
    for item in encoded:
        hist.decode_and_add(item)
    return hist


@dataclass(frozen=True)
class HistogramSummary(PicklesByFields):
    """The numbers a report shows for one histogram, plus the histogram itself."""

    count: int
    min: int
    mean: float
    stdev: float
    p50: int
    p90: int
    p99: int
    p99_9: int
    p99_99: int
    max: int
    histogram: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def mean_and_stdev(hist: HdrHistogram) -> tuple[float, float]:
    """hdrh's ``get_mean_value()`` and ``get_stddev()``, the same numbers bit for bit.

    Trade-off: hdrh's iterator steps through every bucket up to the top of the range in
    Python, empty or not (about 52,000 from 1 µs to 60 s): 65-80 ms a histogram, whatever
    it holds, which was most of a short run's CPU after its imports. Here numpy finds the non-empty
    buckets and hdrh's own arithmetic runs on those alone, in the same order (the
    float sums are not reassociated), so a summary does not change by a bit.
    """
    total_count = int(hist.get_total_count())
    if not total_count:
        return 0.0, 0.0
    counts = counts_array(hist)
    value_at = hist.get_value_from_index
    median_of = hist._hdr_median_equiv_value  # hdrh's, so its rounding is ours
    highest = hist.get_highest_equivalent_value
    buckets = [
        (int(counts[i]), median_of(highest(value_at(int(i))))) for i in np.flatnonzero(counts)
    ]
    mean = float(sum(count * median for count, median in buckets)) / total_count
    deviations = 0.0
    for count, median in buckets:
        dev = (median * 1.0) - mean
        deviations += (dev * dev) * count
    return mean, math.sqrt(deviations / total_count)


def summarize(hist: HdrHistogram) -> HistogramSummary:
    count = int(hist.get_total_count())
    if count == 0:
        return HistogramSummary(0, 0, 0.0, 0.0, 0, 0, 0, 0, 0, 0, encode(hist))
    pct = hist.get_percentile_to_value_dict([p for _, p in PERCENTILES])
    mean, stdev = mean_and_stdev(hist)
    return HistogramSummary(
        count=count,
        min=int(hist.get_min_value()),
        mean=round(mean, 3),
        stdev=round(stdev, 3) if math.isfinite(stdev) else 0.0,
        p50=int(pct[50.0]),
        p90=int(pct[90.0]),
        p99=int(pct[99.0]),
        p99_9=int(pct[99.9]),
        p99_99=int(pct[99.99]),
        max=int(hist.get_max_value()),
        histogram=encode(hist),
    )
