"""The report as rich tables on a Console, for the CLI's closing summary.

Not a format of :data:`sockbench.report.FORMATS`: it writes to a console (colour,
terminal width) instead of returning a string, and the CLI decides when to call it.
It shows the same sections as the plain text report.

Wide tables meet narrow terminals: rather than letting rich wrap "1.23 ms" over two
lines in every cell, or leaving columns out, a table too wide for the console is
wrapped: its columns continue in a second table below, under the same row labels.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

from sockbench.report.content import Section, Table
from sockbench.report.document import Doc
from sockbench.report.sections import sections

BEST_STYLE = "bold green"
#: Columns given up first when a table is wider than the console.
DROPPABLE: tuple[str, ...] = (
    "stdev",
    "mean",
    "p90",
    "p99.99",
    "min",
    "threads",
    "RSS MiB",
    "payload",
    "lost",
    "server CPU %",
    "errors",
    "p99.9",
)


def print_report(doc: Doc, console: Console | None = None) -> None:
    """Print every section of a run result or compare document."""
    console = console or Console()
    for section in sections(doc):
        console.print(section_renderable(section, console))


def section_renderable(section: Section, console: Console | None = None) -> RenderableType:
    """One section as a rich table titled with the section's name (its fields first,
    when it has both)."""
    if section.table is not None:
        parts = wrap(section.table, console) if console is not None else [section.table]
        head = _fields(section) if section.fields else None
        tables = [
            rich_table(part, section.title if i == 0 and head is None else None)
            for i, part in enumerate(parts)
        ]
        notes = Text(justify="left")
        if section.table.best and section.note:
            notes.append(section.note + "\n", style=BEST_STYLE)
        for note in section.notes:
            notes.append(note + "\n", style="dim")
        notes.rstrip()
        # Below the tables, not a table's caption: a caption wraps at its table's width,
        # which for the last part of a wrapped table is a few columns ("95" / "% interval").
        shown: list[RenderableType] = [*tables, notes] if notes else list(tables)
        if head is not None:
            return Group(head, *shown)
        return shown[0] if len(shown) == 1 else Group(*shown)
    return _fields(section)


def _fields(section: Section) -> RichTable:
    out = RichTable(title=section.title, title_justify="left", show_header=False, box=None)
    out.add_column(style="bold", no_wrap=True)
    out.add_column(overflow="fold")
    # Text, not str: rich would read "[threaded tcp ...]" in a warning as markup.
    for key, value in section.fields:
        out.add_row(Text(key), Text(value))
    for item in section.items:
        out.add_row(Text("!", style="yellow"), Text(item))
    return out


def rich_table(table: Table, title: str | None = None) -> RichTable:
    out = RichTable(title=title, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True)
    for header, align in zip(table.headers, table.align, strict=True):
        out.add_column(Text(header), justify="right" if align == "r" else "left", no_wrap=True)
    for r, row in enumerate(table.rows):
        out.add_row(
            *(
                Text(value, style=BEST_STYLE) if (r, c) in table.best else Text(value)
                for c, value in enumerate(row)
            )
        )
    return out


def _width(table: Table, console: Console) -> int:
    # Measured against an unbounded width: rich clamps a measurement to the options'.
    unbounded = console.options.update_width(1 << 16)
    return console.measure(rich_table(table), options=unbounded).maximum


def wrap(table: Table, console: Console) -> list[Table]:
    """``table`` as one or more tables that each fit the console, every column kept:
    the label columns repeat (:func:`label_columns`), the others continue in the next
    table."""
    if len(table.headers) <= 2 or _width(table, console) <= console.width:
        return [table]
    labels = list(range(label_columns(table)))
    columns = list(range(len(labels), len(table.headers)))
    parts: list[Table] = []
    while columns:
        take = 1
        while (
            take < len(columns)
            and _width(pick_columns(table, [*labels, *columns[: take + 1]]), console)
            <= console.width
        ):
            take += 1
        parts.append(pick_columns(table, [*labels, *columns[:take]]))
        columns = columns[take:]
    return parts


def label_columns(table: Table) -> int:
    """How many leading columns name a row: the fewest that tell every row apart (a
    compare's model alone repeats per protocol), one at least, and never all but one."""
    most = max(1, len(table.headers) - 2)
    for count in range(1, most + 1):
        if len({row[:count] for row in table.rows}) == len(table.rows):
            return count
    return 1


def pick_columns(table: Table, keep: list[int]) -> Table:
    """The columns ``keep`` of ``table``, in that order."""
    return Table(
        headers=tuple(table.headers[i] for i in keep),
        rows=tuple(tuple(row[i] for i in keep) for row in table.rows),
        align=tuple(table.align[i] for i in keep),
        best=frozenset((r, keep.index(c)) for r, c in table.best if c in keep),
    )


def without_column(table: Table, index: int) -> Table:
    def cut(values: tuple[str, ...]) -> tuple[str, ...]:
        return values[:index] + values[index + 1 :]

    return Table(
        headers=cut(table.headers),
        rows=tuple(cut(row) for row in table.rows),
        align=table.align[:index] + table.align[index + 1 :],
        best=frozenset((r, c if c < index else c - 1) for r, c in table.best if c != index),
        row_keys=table.row_keys,
    )
