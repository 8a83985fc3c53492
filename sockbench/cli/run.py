"""`sockbench run`: parse options, call the engine, print the summary."""

from __future__ import annotations

import typer

from sockbench.cli.app import app, command_line
from sockbench.cli.params import declare


@app.command()
@declare("run")
def run(**values: object) -> None:
    """Drive concurrent clients against a server and record latency histograms."""
    from rich.console import Console

    from sockbench.engine.interrupts import Interrupts
    from sockbench.engine.runner import run as run_benchmark
    from sockbench.errors import ResultNotWritten
    from sockbench.machine import build_run_config
    from sockbench.report import render
    from sockbench.report.files import check_file, check_folder, save_result
    from sockbench.report.live import live_enabled, open_live_progress
    from sockbench.report.terminal import print_report

    config = build_run_config(**values)  # checks --format and --quiet too
    fmt, quiet = str(values["fmt"]), bool(values["quiet"])
    # Output paths are checked before the load, not found bad after it.
    if config.out_dir:
        check_folder(config.out_dir, "--out")
    if config.json_path:
        check_file(config.json_path, "--json")
    to_stderr = config.json_path == "-"
    console = Console(stderr=to_stderr)
    label = f"{config.server_model or config.target} {config.proto.value} {config.clients} clients"
    interrupts = Interrupts()
    # From here to the last byte written, SIGINT/SIGTERM only stop (then hurry) the run.
    with interrupts.installed():
        with open_live_progress(live_enabled(console, quiet), label, console) as progress:
            outcome = run_benchmark(
                config, command=command_line(), progress=progress, interrupts=interrupts
            )
        saved = save_result(outcome.result, config.out_dir, config.json_path)
        if outcome.server_logs is not None:
            outcome.server_logs.keep(saved.folder)
        if fmt == "table":
            print_report(outcome.result, console)
        else:
            console.file.write(render(outcome.result, fmt))
    if saved.folder is not None:
        typer.echo(f"results: {saved.folder}", err=to_stderr)
    if saved.failures:
        raise ResultNotWritten(saved.failures, saved.fallback)
    raise typer.Exit(outcome.exit_code)
