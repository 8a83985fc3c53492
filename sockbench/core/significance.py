"""Is B really different from A? Welch's t on the logarithms of the repeats.

The trade-off first. A compare has 3 to 5 repeats a cell, and at that size every rule
gives something up:

- A **percentile bootstrap** assumes nothing about the shape of the noise, but over 3
  values it cannot reach its coverage (the resampled means take 10 distinct values a
  side): with both sides drawn from one distribution it called 19-24 % of metrics
  significant at n = 3 and 9-12 % at n = 5, where it promised 5 %. sockbench used it
  until that was measured.
- An **exact permutation test** (or Mann–Whitney U) assumes nothing either, but 3
  against 3 has 20 arrangements, so its two-sided p cannot go below 0.1: it could never
  call anything at 95 %.
- **Welch's t on log values**, the rule here, assumes the repeats are roughly
  log-normal: noise multiplies a rate or a latency rather than adding to it. In return
  it keeps its 5 % at every n, needs no equal spreads, and gives a ratio interval
  directly: exp(the 95 % interval of mean(log b) - mean(log a)). One slow repeat (a
  noisy neighbour) widens its own side's spread, which makes the test more cautious,
  not less. ``tests/report/test_significance.py`` measures both rates by simulation;
  docs/reports.md gives the numbers.

So a verdict is: ``ratio`` is mean(B) / mean(A), what a report shows next to the two
means; ``low``-``high`` is the 95 % interval of the ratio of their geometric means (at
the spreads of repeated runs the two ratios differ by a fraction of a percent);
``significant`` says whether that interval excludes 1. When neither side varies at
all, any difference is significant and none is not.

No test, ``significant`` None, with the ratio still shown, when:

- either side has fewer than :data:`MIN_SAMPLES` values (:data:`TOO_FEW`);
- a value is 0 or less (:data:`NOT_POSITIVE`): its logarithm does not exist. A metric
  that can be 0 (an error count) gets a mean and its interval, not a ratio test.

Runs made in pairs, A then B then A then B (the benchmarks against a peer tool), are
tested as pairs (:func:`paired`): Student's t on the logarithms of each pair's B / A. On a
machine whose speed drifts (a shared VM: the same tool at 620k req/s, then 450k a few
minutes later) the drift moves both runs of a pair alike, so it cancels in the pair's
ratio, where Welch's test would count it as noise on each side and call nothing.

A model's own interval (:func:`mean_interval`) is Student's t interval of its mean, on
the values themselves (not their logarithms), never below 0 for a metric that cannot
be negative.

scipy is not a dependency, so the Student t 0.975 quantiles come from a table for 1 to
30 degrees of freedom and the normal quantile beyond; Welch–Satterthwaite's fractional
degrees of freedom are interpolated between table rows, log-linearly in 1/df. That
errs on the cautious side by at most 0.5 % for df >= 2 (the least a test here meets)
and is exact at whole df (checked against a numerical integral in the tests).

Everything is arithmetic on the values, with no random draws, so the same numbers
give the same verdict and a report re-rendered from its JSON comes out byte for byte
the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95
#: Fewer repeats than this on a side and no difference is called significant.
MIN_SAMPLES = 3
#: Why a :class:`Verdict` has no test (``significant`` is None).
TOO_FEW = "too few runs"
NOT_POSITIVE = "a value of 0 or less"

#: Student t quantiles at 0.975 (two-sided 95 %, :data:`CONFIDENCE`) for 1..30 degrees
#: of freedom.
T_975: tuple[float, ...] = (
    12.706204736174698, 4.302652729749464, 3.182446305284263, 2.776445105197793,
    2.570581835636315, 2.446911851144969, 2.364624251592785, 2.306004135204166,
    2.262157162854099, 2.228138851986274, 2.200985160091638, 2.178812829667228,
    2.160368656462793, 2.144786687917804, 2.131449545559774, 2.119905299221255,
    2.109815577833316, 2.100922040241038, 2.093024054408310, 2.085963447265863,
    2.079613844727663, 2.073873067904026, 2.068657610419049, 2.063898561628025,
    2.059538552753298, 2.055529438642873, 2.051830516480286, 2.048407141795244,
    2.045229642132703, 2.042272456301237,
)  # fmt: skip
#: The normal quantile at 0.975: Student t's limit as df grows.
Z_975 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """A mean and its 95 % confidence interval."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Verdict:
    """B against A: ``ratio`` is mean(B) / mean(A), ``low``-``high`` its 95 % interval.

    ``significant`` is None when there was no test, ``reason`` says why
    (:data:`TOO_FEW`, :data:`NOT_POSITIVE`); the ratio can still be shown, a verdict
    cannot, and ``low`` = ``high`` = ``ratio``.
    """

    ratio: float
    low: float
    high: float
    significant: bool | None
    reason: str = ""


def t_quantile(df: float) -> float:
    """Student t's 0.975 quantile for ``df`` >= 1 (may be fractional) degrees of freedom.

    Exact from the table at whole df; between rows, and from 30 to the normal limit,
    log-linear in 1/df, which is never below the exact value (cautious) and at most
    0.5 % above it for df >= 2.
    """
    if not df >= 1:
        raise ValueError(f"t_quantile needs df >= 1, got {df}")
    if df >= len(T_975):
        upper, lower, x_upper, x_lower = T_975[-1], Z_975, 1.0 / len(T_975), 0.0
    else:
        k = math.floor(df)
        if k == df:
            return T_975[k - 1]
        upper, lower, x_upper, x_lower = T_975[k - 1], T_975[k], 1.0 / k, 1.0 / (k + 1)
    weight = (1.0 / df - x_lower) / (x_upper - x_lower)
    return math.exp(math.log(lower) + (math.log(upper) - math.log(lower)) * weight)


def _mean_var(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample variance (n - 1); exactly 0 when every value is the same."""
    if max(values) == min(values):
        return float(values[0]), 0.0
    n = len(values)
    mean = math.fsum(values) / n
    return mean, math.fsum((v - mean) ** 2 for v in values) / (n - 1)


def mean_interval(values: Sequence[float]) -> Interval | None:
    """The mean of ``values`` and its 95 % Student t interval (None when empty).

    One value is its own mean with no interval (low = high = the value). The low end
    is never below 0 when no value is: such a metric's mean cannot be negative.
    """
    if not values:
        return None
    if len(values) == 1:
        value = float(values[0])
        return Interval(value, value, value)
    mean, var = _mean_var([float(v) for v in values])
    half = t_quantile(len(values) - 1) * math.sqrt(var / len(values))
    low = mean - half
    if min(values) >= 0:
        low = max(low, 0.0)
    return Interval(mean, low, mean + half)


def compare(a: Sequence[float], b: Sequence[float]) -> Verdict | None:
    """mean(b) / mean(a) and whether its 95 % interval excludes 1 (None: no ratio).

    There is no ratio when a side is empty, mean(a) <= 0 or mean(b) < 0.
    """
    if not a or not b:
        return None
    mean_a, mean_b = math.fsum(a) / len(a), math.fsum(b) / len(b)
    if mean_a <= 0 or mean_b < 0:
        return None
    ratio = mean_b / mean_a
    if min(len(a), len(b)) < MIN_SAMPLES:
        return Verdict(ratio, ratio, ratio, None, TOO_FEW)
    if min(a) <= 0 or min(b) <= 0:
        return Verdict(ratio, ratio, ratio, None, NOT_POSITIVE)
    log_a, var_a = _mean_var([math.log(v) for v in a])
    log_b, var_b = _mean_var([math.log(v) for v in b])
    diff = log_b - log_a
    se_a, se_b = var_a / len(a), var_b / len(b)
    if se_a + se_b == 0:  # neither side varies: the difference is all there is
        return Verdict(ratio, math.exp(diff), math.exp(diff), significant=diff != 0)
    # Welch–Satterthwaite degrees of freedom: between min(n) - 1 and n_a + n_b - 2.
    df = (se_a + se_b) ** 2 / (se_a**2 / (len(a) - 1) + se_b**2 / (len(b) - 1))
    half = t_quantile(df) * math.sqrt(se_a + se_b)
    low, high = math.exp(diff - half), math.exp(diff + half)
    return Verdict(ratio, low, high, significant=low > 1.0 or high < 1.0)


def paired(a: Sequence[float], b: Sequence[float]) -> Verdict | None:
    """B against A run by run: the geometric mean of ``b[i] / a[i]`` and its 95 % Student
    t interval, from the logarithms of the pairs' ratios (None: no pairs).

    ``a`` and ``b`` must be as long as each other: pair ``i`` is ``a[i]`` and ``b[i]``,
    measured one after the other. No test under :data:`MIN_SAMPLES` pairs or with a value
    of 0 or less (the ratio is then mean(b) / mean(a)), as :func:`compare`.
    """
    if len(a) != len(b):
        raise ValueError(f"paired runs: {len(a)} against {len(b)}")
    if not a:
        return None
    if min(a) <= 0 or min(b) <= 0:
        ratio = math.fsum(b) / math.fsum(a) if math.fsum(a) > 0 else math.nan
        return Verdict(ratio, ratio, ratio, None, NOT_POSITIVE)
    logs = [math.log(y / x) for x, y in zip(a, b, strict=True)]
    mean, var = _mean_var(logs)
    ratio = math.exp(mean)
    if len(logs) < MIN_SAMPLES:
        return Verdict(ratio, ratio, ratio, None, TOO_FEW)
    half = t_quantile(len(logs) - 1) * math.sqrt(var / len(logs))
    low, high = math.exp(mean - half), math.exp(mean + half)
    return Verdict(ratio, low, high, significant=low > 1.0 or high < 1.0)
