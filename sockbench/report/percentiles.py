"""Walking HdrHistograms: decoding, merging, percentile steps and the spectrum curve.

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
