"""HdrHistogram interval logs (format 1.3), as read by HistogramLogReader and the
HdrHistogram log tools (HistogramLogAnalyzer, HistogramLogProcessor).

Trade-off: hdrh's own HistogramLogWriter cannot be used as is (in 0.10.8 its
``output_start_time`` crashes, it prints ``%f`` timestamps and a truncated max,
and it cannot write tags), so the few lines of the format are written here, as a
pure function of the intervals.

Interval timestamps are seconds relative to the log's start, which is written as
both ``StartTime`` and ``BaseTime`` so readers never have to guess whether the
timestamps are absolute. The max column is the histogram's max divided by
``max_unit_ratio``: histograms hold µs, so the default 1000 gives milliseconds,
the unit the HdrHistogram tools assume.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

FORMAT_VERSION = "1.3"
LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
_TAG = re.compile(r"[^,\s]+")


class LogInterval(Protocol):
    """What one log line needs; :class:`sockbench.core.intervals.IntervalRow` fits."""

    @property
    def start_s(self) -> float:
        """Start, in seconds after the log's start time."""
        ...

    @property
    def t(self) -> float:
        """End, in seconds after the log's start time."""
        ...

    @property
    def max(self) -> int:
        """The interval's largest value in µs, as ``HdrHistogram.get_max_value`` gives it."""
        ...

    @property
    def histogram(self) -> str:
        """The encoded (``HISTF...``) interval histogram, values in µs."""
        ...


def format_log(
    intervals: Iterable[LogInterval],
    start_time_s: float,
    *,
    tag: str | None = None,
    max_unit_ratio: float = 1000.0,
    comment: str | None = None,
) -> str:
    """The whole log: header, legend and one line per interval.

    ``start_time_s`` is the wall-clock start of measurement (``time.time()``).
    ``tag``, if given, prefixes every line with ``Tag=<tag>,`` (no commas or
    spaces), which lets several histograms share one log.
    """
    if tag is not None and not _TAG.fullmatch(tag):
        raise ValueError(f"a log tag must be non-empty, without commas or spaces: {tag!r}")
    date = datetime.fromtimestamp(start_time_s, UTC).isoformat(timespec="milliseconds")
    lines = []
    if comment is not None:
        lines += [f"#{line}" for line in comment.splitlines()]
    lines += [
        f"#[Histogram log format version {FORMAT_VERSION}]",
        f"#[StartTime: {start_time_s:.3f} (seconds since epoch), {date}]",
        f"#[BaseTime: {start_time_s:.3f} (seconds since epoch)]",
        LEGEND,
    ]
    prefix = "" if tag is None else f"Tag={tag},"
    for item in intervals:
        top = item.max / max_unit_ratio
        length = item.t - item.start_s
        lines.append(f"{prefix}{item.start_s:.3f},{length:.3f},{top:.3f},{item.histogram}")
    return "\n".join(lines) + "\n"
