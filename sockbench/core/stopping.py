"""``--until 'p99 ±2%'``: when a run has measured a percentile closely enough (pure).

The trade-off: the rule reads the interval histograms the run keeps anyway, after each
merged interval, and asks :func:`~sockbench.core.percentile_ci.percentile_interval` how
wide the percentile's 95 % interval is; it costs nothing per request, but it can stop
only on an interval's end, and not before the batch means have their
:data:`~sockbench.core.series_tests.MIN_INTERVALS` intervals (the order statistic alone
assumes independent samples and is too narrow). The window then ends on the next
interval boundary that the workers can still be told of in time
(:func:`window_end`), so every request of the window is still measured or counted.

``--duration`` is the maximum: where the interval never gets narrow enough, the run
measures its whole window and says that the maximum came first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hdrh.histogram import HdrHistogram

from sockbench.core.histogram import new_histogram
from sockbench.core.percentile_ci import interval_of, tail_value
from sockbench.core.series_tests import MIN_INTERVALS
from sockbench.core.units import percentile_key
from sockbench.errors import ConfigError

if TYPE_CHECKING:  # the record types the section; it loads pydantic, so only for mypy
    from sockbench.core.records.result import Until

_UNTIL = re.compile(
    r"^\s*p(?P<p>\d+(?:\.\d+)?)\s*(?:±|\+-|\+/-)\s*(?P<width>\d+(?:\.\d+)?)\s*%\s*$"
)


@dataclass(frozen=True)
class UntilTarget:
    """A percentile (in %) and the widest 95 % interval asked for it (0.05: ±5 %)."""

    percentile: float
    relative: float

    def __str__(self) -> str:
        return f"p{self.percentile:g} ±{self.relative * 100:g}%"


def parse_until(value: object, flag: str = "--until") -> UntilTarget:
    """``p99 ±2%`` (or ``p99 +-2%``) -> UntilTarget(99.0, 0.02)."""
    if isinstance(value, UntilTarget):
        return value
    match = _UNTIL.match(str(value))
    if match is None:
        raise ConfigError(
            f"{flag} {str(value)!r} is not a percentile and a width: give one like 'p99 ±2%' "
            "or 'p99 +-2%'"
        )
    percentile, width = float(match["p"]), float(match["width"])
    if not 0 < percentile < 100:
        raise ConfigError(f"{flag} {str(value)!r}: the percentile must be between 0 and 100")
    if not 0 < width < 100:
        raise ConfigError(f"{flag} {str(value)!r}: the width must be between 0 and 100 %")
    return UntilTarget(percentile, width / 100)


@dataclass(frozen=True)
class StopDecision:
    """After ``intervals`` intervals: whether to stop, and the interval's ``relative``
    width then (None: not known yet, or a side unbounded)."""

    stop: bool
    relative: float | None
    intervals: int


class UntilMeter:
    """What the rule keeps between intervals: their merge and each one's value of the
    percentile, so a decision after the k-th interval is O(k) arithmetic, not a pass over
    k histograms (an hour of 1 s intervals would otherwise cost more than the run)."""

    def __init__(self, target: UntilTarget) -> None:
        self.target = target
        self.total = new_histogram()
        self.values: list[float] = []  # the intervals with enough samples in the tail
        self.intervals = 0

    def add(self, hist: HdrHistogram) -> StopDecision:
        """Take the next interval's histogram; whether the run may stop now."""
        self.total.add(hist)
        self.intervals += 1
        value = tail_value(hist, self.target.percentile)
        if value is not None:
            self.values.append(value)
        k = self.intervals
        if k < MIN_INTERVALS:
            return StopDecision(False, None, k)
        found = interval_of(self.total, self.target.percentile, self.values)
        if found is None or found.batch_means is None:
            return StopDecision(False, None if found is None else found.relative, k)
        relative = found.relative
        return StopDecision(relative is not None and relative <= self.target.relative, relative, k)


def decide(histograms: Sequence[HdrHistogram], target: UntilTarget) -> StopDecision:
    """Whether the run made of ``histograms`` (one per interval, in order) has measured
    ``target``'s percentile within its width: at least :data:`MIN_INTERVALS` intervals,
    the batch means among the interval's ingredients, and ``relative`` at most asked."""
    meter = UntilMeter(target)
    decision = StopDecision(False, None, 0)
    for hist in histograms:
        decision = meter.add(hist)
    return decision


def window_end(
    measure_start_ns: int, interval_ns: int, now_ns: int, lead_ns: int, max_end_ns: int
) -> int | None:
    """Where a window asked at ``now_ns`` to stop ends: the first interval boundary at
    least ``lead_ns`` ahead (time for the workers to hear of it), so the last row is a
    whole interval; None where that is not before ``max_end_ns`` (the maximum comes first)."""
    after = max(0, now_ns + lead_ns - measure_start_ns)
    end = measure_start_ns + -(-after // interval_ns) * interval_ns
    return end if end < max_end_ns else None


def until_section(
    target: UntilTarget, needed_s: float | None, percentiles: Mapping[str, Any]
) -> Until:
    """The result's ``until``: the target, whether it was reached (``needed_s``: the
    window it needed; None: the maximum came first) and the percentile's final width,
    from the result's ``validity.percentiles``."""
    found = percentiles.get(percentile_key(target.percentile)) or {}
    return {
        "target": str(target),
        "percentile": target.percentile,
        "relative_asked": target.relative,
        "reached": needed_s is not None,
        "needed_s": None if needed_s is None else round(needed_s, 6),
        "relative": found.get("relative"),
    }


def until_text(section: Mapping[str, Any], duration_s: float | None) -> str:
    """``stopped after 7.0 s: p99 ±4.1 % (asked ±5 %)``, or ``the maximum (--duration
    60 s) came first: p99 ±7.3 %``."""
    name = f"p{section['percentile']:g}"
    relative = section.get("relative")
    width = f"{name} ±{relative * 100:.1f} %" if relative is not None else f"{name} unbounded"
    asked = f"±{section['relative_asked'] * 100:g} %"
    if section.get("reached"):
        return f"stopped after {section['needed_s']:.2f} s: {width} (asked {asked})"
    maximum = f"--duration {duration_s:g} s" if duration_s else "--duration"
    return f"the maximum ({maximum}) came first: {width} (asked {asked})"
