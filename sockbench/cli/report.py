"""`sockbench report`: re-render a saved result or compare folder."""

from __future__ import annotations

import sys

import typer

from sockbench.cli.app import app
from sockbench.cli.examples import epilog
from sockbench.cli.params import declare
from sockbench.core.status import EXIT_WRITE_FAILED
from sockbench.errors import SockbenchError


class NotWritten(SockbenchError):
    """The report was rendered but writing it failed (``-o /dev/full``, a disk that
    filled): one line, and the exit code of a result that could not be written."""

    exit_code = EXIT_WRITE_FAILED


@app.command(epilog=epilog("report"))
@declare("report")
def report(values: dict[str, object], spelled: dict[str, str]) -> None:
    """Re-render a saved result or compare folder without re-running it."""
    from sockbench.core.spec.formats import ReportFormat
    from sockbench.core.spec.report import parse_report
    from sockbench.report import load, render
    from sockbench.report.document import reading
    from sockbench.report.hgrm import check_histogram

    options = parse_report(values)  # checks --format
    path, output = options.path, options.output
    check_output(output)
    doc = load(path)
    if options.fmt == ReportFormat.HGRM:  # a stream's result has no histogram: one line
        check_histogram(doc)
    with reading(path):  # the schema matched but the content is damaged
        text = render(doc, options.fmt)
    write_output(output, text)


def check_output(output: str | None) -> None:
    """``-o`` can receive a file: checked before anything is read or rendered."""
    from sockbench.report.files import check_file

    if output is not None:
        check_file(output, "-o")


def write_output(output: str | None, text: str) -> None:
    """``text`` to stdout, or to ``-o`` by report.files' rules; a failure is one line."""
    from sockbench.report.files import write_text

    if output is None or output == "-":
        sys.stdout.write(text)
        return
    try:
        write_text(output, text)
    except OSError as exc:
        raise NotWritten(f"cannot write -o {output}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {output}", err=True)
