"""Is B really different from A? A bootstrap confidence interval on the ratio of means.

Why the bootstrap and not Mann–Whitney U: a compare typically has 3 to 5 repeats
per cell, and with 3 against 3 the exact two-sided U test cannot go below
p = 0.10, so it could never call anything significant at 95 %. The percentile
bootstrap of mean(B) / mean(A) has no such floor, gives the interval a reader
wants next to "1.21× faster", and makes no assumption about the shape of the
distribution. Its known weakness is at very small n, where the interval is too
narrow; with 3 repeats it calls a difference significant only when the two sets
barely overlap, which is the bar a careful reader would set by eye anyway.
docs/reports.md states the rule for users.

Resampling uses a fixed seed, so the same numbers give the same verdict and a
report re-rendered from its JSON comes out byte for byte the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
#: Fewer repeats than this and no difference is called significant.
MIN_SAMPLES = 3
RESAMPLES = 10_000
SEED = 20_240_601


@dataclass(frozen=True)
class Interval:
    """A mean and its bootstrap confidence interval."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Verdict:
    """B against A: ``ratio`` is mean(B) / mean(A), with its confidence interval.

    ``significant`` is None when either side has fewer than :data:`MIN_SAMPLES`
    values: a ratio can still be shown, a verdict cannot.
    """

    ratio: float
    low: float
    high: float
    significant: bool | None


def _resampled_means(values: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    picks = rng.integers(0, len(data), size=(RESAMPLES, len(data)))
    means: np.ndarray = data[picks].mean(axis=1)
    return means


def _bounds(samples: np.ndarray) -> tuple[float, float]:
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def mean_interval(values: Sequence[float]) -> Interval | None:
    """The mean of ``values`` and its 95 % bootstrap interval (None when empty).

    With fewer than :data:`MIN_SAMPLES` values the interval is just min–max.
    """
    if not values:
        return None
    mean = float(np.mean(values))
    if len(values) < MIN_SAMPLES:
        return Interval(mean, float(min(values)), float(max(values)))
    low, high = _bounds(_resampled_means(values, np.random.default_rng(SEED)))
    return Interval(mean, low, high)


def compare(a: Sequence[float], b: Sequence[float]) -> Verdict | None:
    """mean(b) / mean(a) and whether its 95 % interval excludes 1 (None: no ratio)."""
    if not a or not b:
        return None
    mean_a, mean_b = float(np.mean(a)), float(np.mean(b))
    if mean_a <= 0 or mean_b < 0:
        return None
    ratio = mean_b / mean_a
    if min(len(a), len(b)) < MIN_SAMPLES:
        return Verdict(ratio, ratio, ratio, None)
    rng = np.random.default_rng(SEED)
    means_a = _resampled_means(a, rng)
    means_b = _resampled_means(b, rng)
    # All-zero resamples of A cannot happen: every value is >= 0 and the mean > 0, but
    # a resample of only zeros can; such a ratio is infinite and sits in the upper tail.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(means_a > 0, means_b / np.where(means_a > 0, means_a, 1.0), np.inf)
    low, high = _bounds(ratios)
    return Verdict(ratio, low, high, significant=low > 1.0 or high < 1.0)
