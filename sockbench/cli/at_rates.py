"""What ``sockbench sweep`` and ``sockbench search`` share: their options split from the
run's, a spec per rate checked before any load, and the answer printed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import typer

from sockbench.cli.app import command_line, setup_logging


def run_at_rates(command: Literal["sweep", "search"], values: dict[str, object]) -> None:
    from sockbench.capacity.execute import Workload, run_search, run_sweep, workload_label
    from sockbench.core.spec.capacity import own_values, parse_search, parse_sweep
    from sockbench.core.spec.formats import SweepFormat
    from sockbench.machine import build_run_spec
    from sockbench.report.files import check_folder, to_json
    from sockbench.report.metrics_export import open_exporter, watch_steps
    from sockbench.report.sweep import render

    own = own_values(command, values)
    run_values = {k: v for k, v in values.items() if k not in own}
    sweep = parse_sweep(own) if command == "sweep" else None
    search = parse_search(own) if command == "search" else None
    first = sweep.sweep.rates[0] if sweep else search.search.rate_min if search else 0.0
    spec = build_run_spec({**run_values, "rate": first})  # every option, before any load
    output = spec.output
    setup_logging(output.verbose, output.log_file)
    folder = None
    if output.out_dir:
        check_folder(output.out_dir, "--out")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        folder = Path(output.out_dir) / f"{command}-{stamp}"
        folder.mkdir(parents=True, exist_ok=True)

    def say(line: str) -> None:
        if not output.quiet:
            typer.echo(line, err=True)

    workloads = [Workload(workload_label(spec), spec)]
    exporting = open_exporter(
        output.metrics_address, output.percentiles, lambda line: typer.echo(line, err=True),
        allow_remote=spec.generator.allow_remote,
    )  # fmt: skip
    with exporting as exporter:
        if sweep is not None:
            outcome = run_sweep(
                workloads, sweep.shared, sweep.sweep, folder=folder, command=command_line(),
                say=say, watch=watch_steps(exporter),
            )  # fmt: skip
            fmt = sweep.shared.fmt
        else:
            assert search is not None
            outcome = run_search(
                workloads, search.shared, search.search, folder=folder, command=command_line(),
                say=say, watch=watch_steps(exporter),
            )  # fmt: skip
            fmt = search.shared.fmt
    doc = outcome.document
    sys.stdout.write(to_json(doc) if fmt is SweepFormat.JSON else render(doc, fmt))
    sys.stdout.flush()
    if folder is not None:
        typer.echo(f"results: {folder}", err=True)
    if outcome.failures:
        from sockbench.cli.run import ResultNotWritten

        raise ResultNotWritten(list(outcome.failures), outcome.fallback)
    raise typer.Exit(outcome.exit_code)
