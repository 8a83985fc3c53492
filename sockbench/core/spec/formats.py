"""The formats report, diff, sweep and search write: each vocabulary's names, once (pure).

The renderers live above core (:mod:`sockbench.report`, :mod:`sockbench.report.diff`)
and are keyed by these members; the options (:mod:`.report`, :mod:`.diff`) take their
choices from them, and ``run --format`` takes the report formats among its own.
"""

from __future__ import annotations

from enum import StrEnum


class ReportFormat(StrEnum):
    """``sockbench report --format``: a renderer of :data:`sockbench.report.FORMATS`."""

    TEXT = "text"
    MD = "md"
    CSV = "csv"
    HGRM = "hgrm"
    HTML = "html"


class DiffFormat(StrEnum):
    """``sockbench diff --format``: how :func:`sockbench.report.diff.render` writes."""

    TEXT = "text"
    MD = "md"
    HTML = "html"
    JSON = "json"


class SweepFormat(StrEnum):
    """``sockbench sweep|search --format``: the table on the terminal, or a report of the
    sweep document (:mod:`sockbench.report.sweep`)."""

    TABLE = "table"
    MD = "md"
    CSV = "csv"
    HTML = "html"
    JSON = "json"
