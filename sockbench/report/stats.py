"""Pure helpers shared by the renderers: histograms, percentile steps, number formats.

Percentile levels follow the reference (Java/C) HdrHistogram ``PercentileIterator``
rather than the ``hdrh`` package's: the package drops the integer truncation of the
half-distance exponent, so its levels (0, 10, 19, ...) are not the familiar
0, 10, 20, ... 50, 55, 60 ... rows of an ``.hgrm`` file. Walking the counts
ourselves costs a few lines and gives byte-compatible output; it also runs over the
non-empty buckets only, which is far faster than the package's per-index iterator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from hdrh.histogram import HdrHistogram

#: Percentiles a spectrum chart is drawn up to (1/(1-p) = 100,000).
SPECTRUM_MAX_PERCENTILE = 99.999


class PercentileStep(NamedTuple):
    """One row of a percentile distribution: ``value`` (histogram units) reached at
    ``percentile`` (0..100), with ``total_count`` values at or below it."""

    value: int
    percentile: float
    total_count: int


def decode(summary: Mapping[str, Any] | None) -> HdrHistogram | None:
    """The histogram of a HistSummary, or None when the summary or its histogram is absent."""
    if not summary:
        return None
    encoded = summary.get("histogram")
    if not isinstance(encoded, str) or not encoded:
        return None
    return HdrHistogram.decode(encoded)


def merge(histograms: Sequence[HdrHistogram]) -> HdrHistogram | None:
    """One histogram holding the counts of all of them (None for an empty list)."""
    if not histograms:
        return None
    first = histograms[0]
    merged = HdrHistogram(
        first.lowest_trackable_value, first.highest_trackable_value, first.significant_figures
    )
    for hist in histograms:
        merged.add(hist)
    return merged


def _nonzero(hist: HdrHistogram) -> tuple[list[int], list[int]]:
    """Indices and counts of the non-empty buckets, in value order."""
    counts = np.ctypeslib.as_array(hist.counts)
    idx = np.flatnonzero(counts)
    return [int(i) for i in idx], [int(c) for c in counts[idx]]


def percentile_distribution(
    hist: HdrHistogram, ticks_per_half_distance: int = 5
) -> list[PercentileStep]:
    """The rows of ``outputPercentileDistribution``, exactly as the reference iterator yields them.

    Ticks are equal-sized within each half of the remaining distance to 100 %, and the
    last row is always the maximum at percentile 100.
    """
    indices, counts = _nonzero(hist)
    # The counts, not the header's total: a decoded histogram's total is derived from
    # them anyway, and this way a corrupt header cannot leave the last row out.
    total = sum(counts)
    if total <= 0:
        return []
    steps: list[PercentileStep] = []
    level = 0.0
    cumulative = 0
    for index, count in zip(indices, counts, strict=True):
        cumulative += count
        value = int(hist.get_highest_equivalent_value(hist.get_value_from_index(index)))
        # Once every value is counted the reference iterator reports the current level
        # once more and then jumps to 100 %, so the last bucket emits at most one row here.
        while (100.0 * cumulative) / total >= level:
            steps.append(PercentileStep(value, level, cumulative))
            if cumulative >= total:
                break
            gap = 100.0 - level
            if gap <= 0.0:
                break
            exponent = int(math.log(100.0 / gap) / math.log(2))
            level += 100.0 / (ticks_per_half_distance * (1 << (exponent + 1)))
        if cumulative >= total:
            steps.append(PercentileStep(value, 100.0, cumulative))
            break
    return steps


def mean_stddev(hist: HdrHistogram) -> tuple[float, float]:
    """Mean and standard deviation as the reference computes them (bucket medians,
    summed in value order so the printed digits match it)."""
    indices, counts = _nonzero(hist)
    total = sum(counts)
    if total <= 0:
        return 0.0, 0.0
    medians = [_median_equivalent(hist, hist.get_value_from_index(i)) for i in indices]
    total_value = 0.0
    for median, count in zip(medians, counts, strict=True):
        total_value += median * float(count)
    mean = total_value / total
    deviation_total = 0.0
    for median, count in zip(medians, counts, strict=True):
        deviation = median - mean
        deviation_total += deviation * deviation * count
    return mean, math.sqrt(deviation_total / total)


def _median_equivalent(hist: HdrHistogram, value: int) -> int:
    lowest = int(hist.get_lowest_equivalent_value(value))
    size = int(hist.get_highest_equivalent_value(value)) - lowest + 1
    return lowest + (size >> 1)


def spectrum(
    hist: HdrHistogram, max_percentile: float = SPECTRUM_MAX_PERCENTILE, ticks: int = 10
) -> tuple[list[float], list[int]]:
    """Points (percentile in %, value) of the latency-by-percentile curve, below 100 %.

    The 100 % row is dropped because its x on the 1/(1-p) axis is infinite; the
    curve ends at ``max_percentile`` or at the last level the sample size reaches.
    """
    percentiles: list[float] = []
    values: list[int] = []
    for step in percentile_distribution(hist, ticks):
        if step.percentile >= 100.0 or step.percentile > max_percentile:
            break
        percentiles.append(step.percentile)
        values.append(step.value)
    return percentiles, values


def inverse_tail(percentile: float) -> float:
    """The classic HdrHistogram x coordinate 1/(1-p) for a percentile in %."""
    return 1.0 / (1.0 - percentile / 100.0)


# --- formatting -------------------------------------------------------------------

DASH = "—"


def fmt_us(us: float | None) -> str:
    """A duration in µs with a readable unit and three significant digits:
    "57 µs", "1.23 ms", "2.5 s"; a dash for missing values."""
    if us is None or (isinstance(us, float) and not math.isfinite(us)):
        return DASH
    if abs(us) < 999.5:
        return f"{us:.0f} µs"
    for scale, unit in ((1e3, "ms"), (1e6, "s")):
        scaled = float(f"{us / scale:.3g}")
        if abs(scaled) < 1000 or unit == "s":
            return f"{_trim(scaled)} {unit}"
    raise AssertionError("unreachable")


def _trim(value: float) -> str:
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return text


def fmt_int(value: float | None) -> str:
    """An integer with thousands separators ("1,234,567"); a dash when missing."""
    if value is None:
        return DASH
    return f"{round(value):,}"


def fmt_rate(rps: float | None) -> str:
    """Requests per second: separators above 100, one decimal below."""
    if rps is None:
        return DASH
    return f"{rps:,.0f}" if abs(rps) >= 100 else f"{rps:,.1f}"


def fmt_bytes(n: float | None) -> str:
    """A byte count in binary units: "512 B", "1.5 KiB", "12.3 MiB"."""
    if n is None:
        return DASH
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def fmt_bps(bps: float | None) -> str:
    """Bits per second in decimal units, as iperf3 prints them: "14.6 Mbit/s"."""
    if bps is None:
        return DASH
    for unit, factor in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= factor:
            return f"{bps / factor:.3g} {unit}"
    return f"{bps:.0f} bit/s"


def fmt_percent(value: float | None) -> str:
    """A CPU percentage with one decimal ("97.5 %")."""
    return DASH if value is None else f"{value:.1f} %"


def fmt_payload(payload: object) -> str:
    """A payload size as given by the config: bytes for integers, as-is otherwise."""
    if isinstance(payload, bool) or payload is None:
        return DASH
    if isinstance(payload, int):
        return f"{payload} B" if payload < 1024 else fmt_bytes(payload)
    return str(payload)


def best_indices(values: Sequence[float | None], higher_is_better: bool) -> set[int]:
    """Positions holding the best value, or none when there is nothing to choose between
    (fewer than two known values, or all of them equal)."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return set()
    numbers = [v for _, v in known]
    best = max(numbers) if higher_is_better else min(numbers)
    if all(v == best for v in numbers):
        return set()
    return {i for i, v in known if v == best}
