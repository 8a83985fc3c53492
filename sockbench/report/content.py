"""The content model of every report: sections of already-formatted strings.

The text, markdown, terminal and HTML renderers differ only in layout, so what a
report says is built once (:mod:`sockbench.report.sections` and its builders) as
:class:`Section` values, for a run and for a compare alike. Formatting early means
every format shows the same digits; the price is that a renderer cannot re-format a
number (the CSV writer, which wants raw numbers, therefore reads the document itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Align = Literal["l", "r"]


@dataclass(frozen=True)
class Table:
    """Formatted cells; ``best`` holds the (row, column) positions to highlight and
    ``row_keys`` an optional identifier per row (the HTML report's ``data-cell``)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[Align, ...]
    best: frozenset[tuple[int, int]] = frozenset()
    row_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A titled part of a report: key/value fields, a table and/or a list of items.

    ``note`` explains what a highlighted value means (shown when there is one);
    ``notes`` are always shown, under the table.
    """

    title: str
    fields: tuple[tuple[str, str], ...] = ()
    table: Table | None = None
    items: tuple[str, ...] = ()
    note: str = ""
    #: A stable identifier ("run", "latency", "summary", ...) for renderers that place
    #: sections themselves.
    key: str = ""
    notes: tuple[str, ...] = ()
