"""Plain terminal text: aligned columns, no colour, no box drawing.

Meant for logs, ``less`` and pasting into a ticket, so it avoids ANSI codes and
non-ASCII rules; best values carry a trailing ``*`` instead of a colour.
"""

from __future__ import annotations

from collections.abc import Sequence

from sockbench.report.content import Section, Table
from sockbench.report.document import Doc, is_compare
from sockbench.report.sections import sections

BEST_MARK = "*"


def render(doc: Doc) -> str:
    """The whole report of a run result or compare document as plain text."""
    title = "sockbench compare report" if is_compare(doc) else "sockbench run report"
    return page(title, sections(doc))


def page(title: str, parts: Sequence[Section]) -> str:
    """A titled page of sections (a report, or ``sockbench diff``)."""
    return "\n\n".join([_heading(title, "="), *(render_section(s) for s in parts)]) + "\n"


def render_section(section: Section) -> str:
    lines = [_heading(section.title, "-")]
    if section.fields:
        width = max(len(k) for k, _ in section.fields)
        lines.extend(f"{k.ljust(width)}  {v}" for k, v in section.fields)
    if section.table is not None:
        lines.extend(render_table(section.table))
        if section.table.best and section.note:
            lines.append(f"{BEST_MARK} {section.note}")
    lines.extend(f"note: {note}" for note in section.notes)
    lines.extend(f"- {item}" for item in section.items)
    return "\n".join(lines)


def render_table(table: Table) -> list[str]:
    """Rows padded to column width; right-aligned numbers, left-aligned names.

    A right-aligned column with a best mark keeps a one-character slot for it in
    every row, so the digits stay aligned whether or not a row is marked.
    """
    ncols = len(table.headers)
    marked = [any((r, c) in table.best for r in range(len(table.rows))) for c in range(ncols)]
    grid: list[list[str]] = [list(table.headers)]
    for r, values in enumerate(table.rows):
        grid.append([v + (BEST_MARK if (r, c) in table.best else "") for c, v in enumerate(values)])
    for line in grid:
        for c in range(ncols):
            if marked[c] and table.align[c] == "r" and not line[c].endswith(BEST_MARK):
                line[c] += " "
    widths = [max(len(row[c]) for row in grid) for c in range(ncols)]
    return [
        "  ".join(
            v.ljust(widths[c]) if table.align[c] == "l" else v.rjust(widths[c])
            for c, v in enumerate(row)
        ).rstrip()
        for row in grid
    ]


def _heading(title: str, rule: str) -> str:
    return f"{title}\n{rule * len(title)}"
