"""`sockbench report`: re-render a saved result or compare folder."""

from __future__ import annotations

import sys

import typer

from sockbench.cli.app import app
from sockbench.cli.params import declare
from sockbench.errors import SockbenchError


@app.command()
@declare("report")
def report(values: dict[str, object], spelled: dict[str, str]) -> None:
    """Re-render a saved result or compare folder without re-running it."""
    from sockbench.core.spec.report import parse_report
    from sockbench.report import load, render
    from sockbench.report.files import check_file, write_text

    options = parse_report(values)  # checks --format
    path, output = options.path, options.output
    if output is not None:
        check_file(output, "-o")
    doc = load(path)
    try:
        text = render(doc, options.fmt)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # The schema matched but the content is damaged (edited or truncated by hand).
        what = f"{type(exc).__name__}: {exc}"
        raise SockbenchError(f"{path}: not a complete sockbench result ({what})") from None
    if output is None or output == "-":
        sys.stdout.write(text)
    else:
        write_text(output, text)
        typer.echo(f"wrote {output}", err=True)
