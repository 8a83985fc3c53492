"""Where a command's output goes, and how it looks there: rich on a terminal, plain text
(no box drawing, no cursor movement, no trailing spaces) in a pipe, a file, a CI log or a
``TERM=dumb`` terminal (which cannot redraw). One decision, :func:`is_plain`, for every
command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import typer

from sockbench.cli.lines import without_trailing_spaces
from sockbench.core import checks
from sockbench.report.live import is_plain

if TYPE_CHECKING:
    from rich.console import Console

    from sockbench.report.content import Section

__all__ = ["echo_checks", "is_plain", "print_doc", "print_section"]


def print_doc(doc: dict[str, Any], console: Console) -> None:
    """A run's or a compare's report as a table: rich on a terminal; elsewhere the same
    layout without the padding rich puts at the end of every line (a log or a diff
    should not carry it)."""
    from sockbench.report.terminal import print_report

    if not is_plain(console):
        print_report(doc, console)
        return
    with console.capture() as captured:
        print_report(doc, console)
    console.file.write(without_trailing_spaces(captured.get()))


def print_section(section: Section, console: Console) -> None:
    """One section (a listing): rich on a terminal, aligned plain columns elsewhere."""
    from sockbench.report import text
    from sockbench.report.terminal import section_renderable

    if is_plain(console):
        console.file.write(text.render_section(section) + "\n")
    else:
        console.print(section_renderable(section, console))


def echo_checks(results: Iterable[Mapping[str, Any]], *, err: bool = False) -> None:
    """The closing line of a run's or a compare's ``--check``\\ s (``2 of 3 checks
    failed``), last, where a CI log's reader looks; nothing when none was asked for."""
    line = checks.summary(results)
    if line is not None:
        typer.echo(line, err=err)
