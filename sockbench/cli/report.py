"""`sockbench report`: re-render a saved result or compare folder."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sockbench.cli.app import app
from sockbench.errors import SockbenchError


@app.command()
def report(
    path: Annotated[str, typer.Argument(help="a result.json, a run folder or a compare folder")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="text, md, csv, hgrm or html")
    ] = "text",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="write to this file (default: stdout)")
    ] = None,
) -> None:
    """Re-render a saved result or compare folder without re-running it."""
    from sockbench.report import FORMATS, load, render
    from sockbench.report.files import check_file, write_text

    if fmt not in FORMATS:
        raise SockbenchError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if output is not None:
        check_file(output, "-o")
    doc = load(path)
    try:
        text = render(doc, fmt)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # The schema matched but the content is damaged (edited or truncated by hand).
        what = f"{type(exc).__name__}: {exc}"
        raise SockbenchError(f"{path}: not a complete sockbench result ({what})") from None
    if output is None or output == "-":
        sys.stdout.write(text)
    else:
        write_text(output, text)
        typer.echo(f"wrote {output}", err=True)
