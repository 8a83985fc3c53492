"""`sockbench report`: re-render a saved result or compare folder."""

from __future__ import annotations

import sys
from pathlib import Path
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
    from sockbench.output import write_atomic
    from sockbench.report import FORMATS, load, render

    if fmt not in FORMATS:
        raise SockbenchError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    text = render(load(path), fmt)
    if output is None or output == "-":
        sys.stdout.write(text)
    else:
        write_atomic(Path(output), text)
        typer.echo(f"wrote {output}", err=True)
