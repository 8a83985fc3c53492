"""Tests on a run's per-interval series: trend, autocorrelation, Poisson dispersion (pure).

The trade-off: these see a run only through its interval rows (a count, a rate and a
p99 per ``--interval``), never per request, so they cost nothing on the hot path and
work on every saved result, but they cannot see anything shorter than an interval, and
a run of few intervals gives them too little to say anything (:data:`MIN_INTERVALS`).
Each is a few lines of textbook statistics, written here rather than taken from scipy
(not a dependency): Mann-Kendall with Sen's slope for a trend, the lag-1
autocorrelation for independence, and the index of dispersion for Poisson counts.
docs/validity.md says what each can and cannot tell.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: Intervals a series needs before a trend or a dispersion is tested. With fewer, Mann-
#: Kendall cannot reach :data:`TREND_ALPHA` at all (5 values: p >= 0.017) and a lag-1
#: autocorrelation is mostly noise.
MIN_INTERVALS = 8
#: A trend is flagged when Mann-Kendall's two-sided p is below this ...
TREND_ALPHA = 0.01
#: ... and Sen's line moves by at least this fraction of where it started over the run:
#: a steady server's p99 wanders, and a significant 2 % drift is not worth failing. A
#: server 1 % a second slower moves its p50 by 6 to 10 % in a 10 s window (measured,
#: docs/validity.md), which 5 % catches.
TREND_MIN_CHANGE = 0.05
#: Counts are flagged as not Poisson when the dispersion test's two-sided p is below this.
DISPERSION_ALPHA = 0.001
#: A lag-1 autocorrelation above this is reported as correlated intervals.
CORRELATED = 0.3
#: Longer series are averaged in consecutive groups down to this many points before the
#: trend test, whose cost grows with the square of its length (an hour of 1 s rows).
MAX_TREND_POINTS = 400


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def lag1_autocorrelation(series: Sequence[float]) -> float | None:
    """The lag-1 autocorrelation of ``series`` (about 0 for independent values, near 1
    for a slow wander or a trend); None for fewer than 3 values or a constant series."""
    n = len(series)
    if n < 3:
        return None
    mean = math.fsum(series) / n
    dev = [x - mean for x in series]
    denominator = math.fsum(d * d for d in dev)
    if denominator <= 0:
        return None
    return math.fsum(dev[i] * dev[i + 1] for i in range(n - 1)) / denominator


def inflation(rho: float | None) -> float:
    """How much an AR(1) correlation of ``rho`` widens a mean's interval: sqrt((1+ρ)/(1-ρ)),
    1 for none or a negative one, ρ capped at 0.9 (a factor of 4.4)."""
    if rho is None or rho <= 0:
        return 1.0
    rho = min(rho, 0.9)
    return math.sqrt((1 + rho) / (1 - rho))


@dataclass(frozen=True)
class Trend:
    """Mann-Kendall's test of ``series`` for a monotonic trend, with Sen's slope.

    ``change`` is how far Sen's line moved from the first interval to the last, as a
    fraction of where it started (0.12: it rose 12 %; -0.4: it fell 40 %); ``p_value``
    is two-sided, its variance corrected for ties and widened for the lag-1
    autocorrelation left once the trend is out (``autocorrelation``), as an AR(1)
    would need.
    """

    n: int
    s: int
    z: float
    p_value: float
    slope: float  # per interval, in the series' unit
    change: float
    autocorrelation: float | None

    @property
    def flagged(self) -> bool:
        """Significant (:data:`TREND_ALPHA`) and large enough (:data:`TREND_MIN_CHANGE`)."""
        return self.p_value < TREND_ALPHA and abs(self.change) >= TREND_MIN_CHANGE


def grouped(series: Sequence[float], points: int) -> Sequence[float]:
    """``series`` averaged in consecutive, near-equal groups down to ``points`` values."""
    n = len(series)
    if n <= points:
        return series
    edges = [round(i * n / points) for i in range(points + 1)]
    return [math.fsum(series[a:b]) / (b - a) for a, b in itertools.pairwise(edges)]


def _residual_autocorrelation(series: Sequence[float], slope: float) -> float | None:
    """The lag-1 autocorrelation left once the trend is taken out: of the residuals of
    Sen's line or of the best single step, whichever fits closer. A step (a warm-up
    that ends) leaves a sawtooth around a line that would read as correlation and hide
    the very shift the test is for; a slow wander is fitted by neither."""
    n = len(series)
    line = [x - slope * i for i, x in enumerate(series)]
    line_mean = math.fsum(line) / n
    candidates = [[x - line_mean for x in line]]
    best: tuple[float, int] | None = None
    for cut in range(2, n - 1):
        a, b = series[:cut], series[cut:]
        ma, mb = math.fsum(a) / len(a), math.fsum(b) / len(b)
        sse = math.fsum((x - ma) ** 2 for x in a) + math.fsum((x - mb) ** 2 for x in b)
        if best is None or sse < best[0]:
            best = (sse, cut)
    if best is not None:
        cut = best[1]
        ma = math.fsum(series[:cut]) / cut
        mb = math.fsum(series[cut:]) / (n - cut)
        candidates.append([x - (ma if i < cut else mb) for i, x in enumerate(series)])
    closest = min(candidates, key=lambda r: math.fsum(x * x for x in r))
    return lag1_autocorrelation(closest)


def mann_kendall(series: Sequence[float]) -> Trend | None:
    """The trend test of ``series``; None for fewer than :data:`MIN_INTERVALS` values."""
    if len(series) < MIN_INTERVALS:
        return None
    series = grouped(series, MAX_TREND_POINTS)
    n = len(series)
    s = 0
    for i in range(n - 1):
        for j in range(i + 1, n):
            diff = series[j] - series[i]
            s += (diff > 0) - (diff < 0)
    ties: dict[float, int] = {}
    for x in series:
        ties[x] = ties.get(x, 0) + 1
    variance = (
        n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties.values())
    ) / 18
    slope = _sen_slope(series)
    # The correlation that widens the test is read from the ranks, as the statistic is:
    # a trend that curves (a service time that compounds) leaves residuals of a straight
    # line that read as correlation and hid it, while its ranks are a straight line.
    ordered = _ranks(series)
    rho = _residual_autocorrelation(ordered, _sen_slope(ordered))
    variance *= inflation(rho) ** 2
    if variance <= 0:  # every value the same
        z, p_value = 0.0, 1.0
    else:
        z = (s - (s > 0) + (s < 0)) / math.sqrt(variance)  # continuity correction
        p_value = min(1.0, 2 * normal_sf(abs(z)))
    return Trend(n, s, z, p_value, slope, _change(series, slope), rho)


def _ranks(series: Sequence[float]) -> list[float]:
    """Each value's rank (1 = the smallest), ties sharing their mean rank."""
    order = sorted(range(len(series)), key=series.__getitem__)
    ranks = [0.0] * len(series)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and series[order[j + 1]] == series[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _sen_slope(series: Sequence[float]) -> float:
    """Sen's slope: the median of the slopes between every pair of points."""
    n = len(series)
    return statistics.median(
        [(series[j] - series[i]) / (j - i) for i in range(n - 1) for j in range(i + 1, n)]
    )


def _change(series: Sequence[float], slope: float) -> float:
    """How far Sen's line moves over the series: its end over its start, less 1 (-0.4:
    fell 40 %); where the line starts at or below 0, its rise over the median."""
    n = len(series)
    start = statistics.median([x - slope * i for i, x in enumerate(series)])
    if start > 0:
        return max(start + slope * (n - 1), 0.0) / start - 1.0
    level = abs(statistics.median(series))
    return slope * (n - 1) / level if level > 0 else 0.0


@dataclass(frozen=True)
class Dispersion:
    """Counts per interval against a Poisson process of one rate.

    ``index`` is the variance over the mean (1 for Poisson, 0 for a steady clock, above 1
    for bursts or stalls); ``p_value`` is two-sided, from the chi-square statistic
    sum((n - λT)² / λT) on k - 1 degrees of freedom, λ the counts' own rate.
    """

    intervals: int
    index: float
    p_value: float

    @property
    def poisson(self) -> bool:
        return self.p_value >= DISPERSION_ALPHA


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for chi-square with ``df`` degrees of freedom (Wilson-Hilferty: within
    about 0.001 of the exact value from df 3 on, closer as df grows)."""
    if x <= 0:
        return 1.0
    k = 2.0 / (9.0 * df)
    return normal_sf(((x / df) ** (1.0 / 3.0) - (1.0 - k)) / math.sqrt(k))


def poisson_dispersion(counts: Sequence[int], seconds: Sequence[float]) -> Dispersion | None:
    """Whether ``counts[i]`` events in ``seconds[i]`` look like one Poisson process;
    None for fewer than :data:`MIN_INTERVALS` intervals or no events."""
    k = len(counts)
    total, span = sum(counts), math.fsum(seconds)
    if k < MIN_INTERVALS or total <= 0 or span <= 0:
        return None
    rate = total / span
    statistic = math.fsum(
        (n - rate * t) ** 2 / (rate * t) for n, t in zip(counts, seconds, strict=True)
    )
    df = k - 1
    upper = chi2_sf(statistic, df)
    return Dispersion(k, statistic / df, min(1.0, 2 * min(upper, 1.0 - upper)))
