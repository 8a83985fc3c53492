"""`sockbench diff A B`: saved runs or compare folders, B against A, with significance."""

from __future__ import annotations

import typer

from sockbench.cli.app import app
from sockbench.cli.examples import epilog
from sockbench.cli.params import declare
from sockbench.cli.report import check_output, write_output


# Unknown options pass as paths, so `--vs` reaches the command (core.spec.diff.split_sides).
@app.command(epilog=epilog("diff"), context_settings={"ignore_unknown_options": True})
@declare("diff")
def diff(values: dict[str, object], spelled: dict[str, str]) -> None:
    """Compare B with A per metric: "1.21× faster" or "1.08× slower", and whether the
    difference is significant (3 or more runs a side; see docs/reports.md)."""
    from sockbench.core.spec.diff import parse_diff
    from sockbench.report import diff as diff_report
    from sockbench.report import load
    from sockbench.report.document import reading

    spec = parse_diff(values)  # checks --format and the sides
    options = spec.options
    check_output(options.output)
    docs_a, docs_b = [load(p) for p in spec.a], [load(p) for p in spec.b]
    with reading(" vs ".join((", ".join(spec.a), ", ".join(spec.b)))):
        if not options.force:
            diff_report.check_comparable(docs_a, docs_b)
        for line in diff_report.differences(docs_a, docs_b):  # refuses a stream vs echo
            typer.echo(f"sockbench: warning: {line}", err=True)
        names = (diff_report.describe_side(spec.a), diff_report.describe_side(spec.b))
        text = diff_report.render(docs_a, docs_b, names, options.fmt)
    write_output(options.output, text)
