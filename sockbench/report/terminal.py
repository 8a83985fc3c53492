"""The report as rich tables on a Console, for the CLI's closing summary.

Not a format of :data:`sockbench.report.FORMATS`: it writes to a console (colour,
terminal width) instead of returning a string, and the CLI decides when to call it.
It shows the same sections as the plain text report.

Wide tables meet narrow terminals: rather than letting rich wrap "1.23 ms" over two
lines in every cell, the least important columns (stdev, mean, p90, ...) are left
out until the table fits; the text, markdown and HTML reports keep them all.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from sockbench.report.document import Doc
from sockbench.report.sections import Section, Table, sections

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


def section_renderable(section: Section, console: Console | None = None) -> RichTable:
    """One section as a rich table titled with the section's name."""
    if section.table is not None:
        table = fit(section.table, console) if console is not None else section.table
        out = rich_table(table, section.title)
        caption = Text(justify="left")
        if table.best and section.note:
            caption.append(section.note + "\n", style=BEST_STYLE)
        for note in section.notes:
            caption.append(note + "\n", style="dim")
        if caption:
            caption.rstrip()
            out.caption = caption
            out.caption_justify = "left"
        return out
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


def fit(table: Table, console: Console) -> Table:
    """``table`` less as many :data:`DROPPABLE` columns as it takes to fit the console."""
    # Measured against an unbounded width: rich clamps a measurement to the options'.
    unbounded = console.options.update_width(1 << 16)
    while console.measure(rich_table(table), options=unbounded).maximum > console.width:
        drop = next((h for h in DROPPABLE if h in table.headers), None)
        if drop is None:
            break
        table = without_column(table, table.headers.index(drop))
    return table


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
