"""How sure a run's percentiles are: a 95 % confidence interval for each (pure).

The trade-off: the interval is built from what a run keeps anyway, the whole run's
histogram and one histogram per interval, so it costs nothing per request, but it can
be no finer than the histogram (3 significant digits) and no better than its two
ingredients, each blind where the other sees:

- the **order statistic** (binomial) interval: among n independent samples, the number
  below the true p-quantile is Binomial(n, p), so the quantile lies between the samples
  of rank np ± z·sqrt(np(1-p)) (normal approximation), read from the histogram's counts.
  It needs no intervals, but it assumes independent samples, which latencies are not
  (a stall delays many requests at once), so alone it is too narrow;
- **batch means** over the intervals: the spread of the per-interval percentile, over
  sqrt(k), times Student's t, widened for lag-1 autocorrelation between intervals
  (sqrt((1+ρ)/(1-ρ))). It sees correlation up to an interval's length, but needs at
  least :data:`~sockbench.core.series_tests.MIN_INTERVALS` intervals that each hold
  :data:`MIN_TAIL` samples beyond the percentile.

The interval reported is the wider of the two on each side. Where the samples do not
allow one (p99.99 of 5,000 samples: the upper rank is past the last sample), its high
end is None: the data cannot bound it.

:func:`percentile_interval` takes the interval histograms as a growing list, so a
stopping rule (``--until 'p99 ±2%'``) calls it after each interval and stops once
``relative`` is small enough; pass ``total`` (their merge) when it is kept anyway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from sockbench.core.histogram import new_histogram
from sockbench.core.series_tests import MIN_INTERVALS, inflation, lag1_autocorrelation
from sockbench.core.significance import Z_975, t_quantile

#: Samples an interval must hold beyond a percentile (n·(1-p)) for its own value of that
#: percentile to count in the batch means: fewer, and it is the interval's maximum.
MIN_TAIL = 5


@dataclass(frozen=True)
class PercentileInterval:
    """One percentile (``percentile`` in %, ``value`` in µs) and its 95 % interval.

    ``low``/``high`` are the interval reported (None: the samples cannot bound that
    side); ``order_statistic`` and ``batch_means`` are its two ingredients (None where
    not computed), ``batches`` the intervals the batch means used and
    ``autocorrelation`` their lag-1 autocorrelation.
    """

    percentile: float
    value: int
    count: int
    low: int | None
    high: int | None
    order_statistic: tuple[int | None, int | None]
    batch_means: tuple[int, int] | None = None
    batches: int = 0
    autocorrelation: float | None = None

    @property
    def relative(self) -> float | None:
        """The larger side's distance from the value, as a fraction of it (0.03: ±3 %);
        None when a side is unbounded or the value is 0."""
        if self.low is None or self.high is None or self.value <= 0:
            return None
        return max(self.value - self.low, self.high - self.value) / self.value


def _at_rank(hist: HdrHistogram, rank: float, n: int) -> int:
    return int(hist.get_value_at_percentile(100.0 * rank / n))


def order_statistic(hist: HdrHistogram, percentile: float) -> tuple[int | None, int | None]:
    """The distribution-free 95 % interval of ``percentile`` from ``hist``'s counts: the
    values at ranks np ± 1.96·sqrt(np(1-p)); None for a side past the first or last
    sample."""
    n = int(hist.get_total_count())
    p = percentile / 100.0
    spread = Z_975 * math.sqrt(n * p * (1.0 - p))
    lower, upper = math.floor(n * p - spread), math.ceil(n * p + spread)
    low = _at_rank(hist, lower, n) if lower >= 1 else None
    high = _at_rank(hist, upper, n) if upper <= n else None
    return low, high


def tail_value(hist: HdrHistogram, percentile: float) -> float | None:
    """An interval's own value of ``percentile``, or None where it holds too few samples
    beyond it (:data:`MIN_TAIL`) for that value to be more than its maximum."""
    if hist.get_total_count() * (1.0 - percentile / 100.0) < MIN_TAIL:
        return None
    return float(hist.get_value_at_percentile(percentile))


def batch_means(
    values: Sequence[float], value: int
) -> tuple[tuple[int, int] | None, int, float | None]:
    """``value`` ± the batch-means half-width over the intervals' own values of the
    percentile (:func:`tail_value`, the Nones left out), the intervals used and their
    lag-1 autocorrelation; None when fewer than :data:`MIN_INTERVALS`."""
    k = len(values)
    if k < MIN_INTERVALS:
        return None, k, None
    mean = math.fsum(values) / k
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (k - 1))
    rho = lag1_autocorrelation(values)
    half = t_quantile(k - 1) * sd / math.sqrt(k) * inflation(rho)
    return (max(0, math.floor(value - half)), math.ceil(value + half)), k, rho


def percentile_interval(
    intervals: Sequence[HdrHistogram], percentile: float, total: HdrHistogram | None = None
) -> PercentileInterval | None:
    """``percentile`` of the run made of ``intervals`` (their merge, or ``total``) with its
    95 % interval; None when nothing was recorded."""
    if total is None:
        total = new_histogram()
        for hist in intervals:
            total.add(hist)
    values = [v for h in intervals if (v := tail_value(h, percentile)) is not None]
    return interval_of(total, percentile, values)


def interval_of(
    total: HdrHistogram, percentile: float, values: Sequence[float]
) -> PercentileInterval | None:
    """:func:`percentile_interval` from the intervals' merge and their values already read
    (:func:`tail_value`): O(intervals) arithmetic, for a rule asked after each interval."""
    n = int(total.get_total_count())
    if n == 0:
        return None
    value = int(total.get_value_at_percentile(percentile))
    os_low, os_high = order_statistic(total, percentile)
    batched, batches, rho = batch_means(values, value)
    low, high = os_low, os_high
    if batched is not None:
        low = batched[0] if low is None else min(low, batched[0])
        high = None if high is None else max(high, batched[1])
    return PercentileInterval(
        percentile, value, n, low, high, (os_low, os_high), batched, batches, rho
    )
