"""`sockbench diff A B`: saved runs or compare folders, B against A, with significance."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sockbench.cli.app import app
from sockbench.errors import SockbenchError


@app.command(context_settings={"ignore_unknown_options": True})
def diff(
    a: Annotated[
        list[str],
        typer.Argument(
            help="A, then B: result.json files, run folders or compare folders; repeats of "
            "a side go after it, separated by --vs (A1 A2 A3 --vs B1 B2 B3)",
            show_default=False,
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, md, html or json")] = "text",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="write to this file (default: stdout)")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="compare across hosts, CPU counts or sockbench major versions")
    ] = False,
) -> None:
    """Compare B with A per metric: "1.21× faster" or "1.08× slower", and whether the
    difference is significant (3 or more runs a side; see docs/reports.md)."""
    from sockbench.report import diff as diff_report
    from sockbench.report import load
    from sockbench.report.files import write_atomic

    if fmt not in diff_report.FORMATS:
        raise SockbenchError(
            f"unknown diff format {fmt!r}; choose one of {', '.join(diff_report.FORMATS)}"
        )
    side_a, side_b = split_sides(a)
    docs_a, docs_b = [load(p) for p in side_a], [load(p) for p in side_b]
    if not force:
        diff_report.check_comparable(docs_a, docs_b)
    names = (diff_report.describe_side(side_a), diff_report.describe_side(side_b))
    text = diff_report.render(docs_a, docs_b, names, fmt)
    if output is None or output == "-":
        sys.stdout.write(text)
    else:
        write_atomic(Path(output), text)
        typer.echo(f"wrote {output}", err=True)


def split_sides(paths: list[str]) -> tuple[list[str], list[str]]:
    """``A B`` or ``A1 A2 ... --vs B1 B2 ...``."""
    if "--vs" in paths:
        at = paths.index("--vs")
        side_a, side_b = paths[:at], paths[at + 1 :]
        if not side_a or not side_b or "--vs" in side_b:
            raise SockbenchError("diff: give at least one path on each side of --vs")
        return side_a, side_b
    if len(paths) != 2:
        raise SockbenchError(
            f"diff takes two paths, A and B (got {len(paths)}); for repeats separate the "
            "sides with --vs: A1 A2 A3 --vs B1 B2 B3"
        )
    return paths[:1], paths[1:]
