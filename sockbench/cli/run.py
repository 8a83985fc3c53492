"""`sockbench run`: parse options, call the engine, print the summary."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from sockbench.cli.app import app, command_line, setup_logging
from sockbench.cli.examples import epilog
from sockbench.cli.output import echo_checks
from sockbench.cli.params import declare
from sockbench.core.status import EXIT_WRITE_FAILED, RunStatus, combined_exit_code
from sockbench.errors import SockbenchError

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from sockbench.core.progress import ProgressFn
    from sockbench.core.warning import RunWarning


@app.command(epilog=epilog("run"))
@declare("run")
def run(values: dict[str, object], spelled: dict[str, str]) -> None:
    """Drive concurrent clients against a server and record latency histograms."""
    from rich.console import Console

    from sockbench.compare import repeat_run
    from sockbench.core.spec.server import Target
    from sockbench.engine.io.interrupts import Interrupts
    from sockbench.engine.orchestration.runner import run as run_benchmark
    from sockbench.machine import build_run_spec
    from sockbench.report.files import check_exports, check_file, check_folder, save_result
    from sockbench.report.metrics_export import open_exporter, run_id, tee

    spec = build_run_spec(values)  # checks --format and --quiet too
    output = spec.output
    setup_logging(output.verbose, output.log_file)
    fmt, quiet = output.fmt, output.quiet
    # Output paths are checked before the load, not found bad after it.
    if output.out_dir:
        check_folder(output.out_dir, "--out")
    if output.json_path:
        check_file(output.json_path, "--json")
    check_exports(output.exports)
    # What a program reads from stdout (the JSON, a report format) keeps stdout to itself:
    # progress lines then go to stderr, and with the JSON on stdout the report does too.
    json_stdout = output.json_path == "-" or fmt == "jsonl"
    console = Console(stderr=json_stdout)
    progress_console = Console(stderr=json_stdout or fmt != "table")
    where = spec.server.endpoint if isinstance(spec.server, Target) else spec.server_name
    label = f"{where} {spec.proto.value} {spec.load.clients} clients"
    interrupts = Interrupts()
    window_after_s = spec.load.ramp_s + spec.load.warmup_max_s
    results: list[dict[str, Any]] = []
    codes: list[int] = []
    failures: list[str] = []
    fallback: object | None = None
    # From here to the last byte written, SIGINT/SIGTERM only stop (then hurry) the run;
    # with --repeat, they stop the repetitions too, and those done are kept.
    with (
        interrupts.installed(),
        open_exporter(
            output.metrics_address,
            output.percentiles,
            _say,
            allow_remote=spec.generator.allow_remote,
        ) as exporter,
    ):
        for k in range(1, output.repeat + 1):
            if interrupts.count:
                break
            if output.repeat > 1:
                typer.echo(f"repeat {k}/{output.repeat}", err=True)
            with _progress(progress_console, fmt, quiet, label, window_after_s) as progress:
                if exporter is not None:  # --metrics-port: the ticks go to /metrics too
                    exporter.start_run(
                        spec, f"{run_id()}-repeat{k}" if output.repeat > 1 else run_id()
                    )
                outcome = run_benchmark(
                    spec,
                    command=command_line(),
                    progress=tee(progress, exporter),
                    interrupts=interrupts,
                    warn=_warner(progress),
                )
            to = repeat_run.outputs(output, k, results[0] if results else outcome.result)
            saved = save_result(outcome.result, output.out_dir, to.json_path, to.exports, to.name)
            if outcome.server_logs is not None:
                outcome.server_logs.keep(saved.folder)
            results.append(outcome.result)
            codes.append(outcome.exit_code)
            failures += saved.failures or []
            fallback = saved.fallback or fallback
            with _reader_may_leave(outcome.exit_code):
                _print_summary(outcome.result, fmt, console)
                if saved.folder is not None:
                    typer.echo(f"results: {saved.folder}", err=json_stdout)
                sys.stdout.flush()
            if outcome.result.get("status") == RunStatus.INTERRUPTED:
                break
    code = combined_exit_code(codes)
    if interrupts.exit_code and len(results) < output.repeat:
        # A signal stopped the repetitions between two: 143 for SIGTERM, as a shell says.
        # One that came after a run's window closed changed nothing (that run's code).
        code = interrupts.exit_code
    with _reader_may_leave(code):
        if output.repeat > 1:
            typer.echo(repeat_run.summary_line(results, output.repeat), err=json_stdout)
        echo_checks(results, err=json_stdout)
    if failures:
        raise ResultNotWritten(failures, fallback)
    raise typer.Exit(code)


class ResultNotWritten(SockbenchError):
    """The run measured, but its result could not be written where asked (a disk that
    filled, a mount gone read-only): the summary was printed and the JSON saved to a
    fallback path. A distinct exit code, so a script knows its file is not there."""

    exit_code = EXIT_WRITE_FAILED

    def __init__(self, failures: list[str], fallback: object | None) -> None:
        where = f"the result JSON is saved in {fallback}" if fallback else "nothing was saved"
        super().__init__(f"{'; '.join(failures)}; {where}")


@contextlib.contextmanager
def _reader_may_leave(code: int) -> Any:
    """``| head`` left before the summary: exit quietly, with the run's failure if it had one."""
    from sockbench.cli.app import OutputClosed
    from sockbench.core.status import closed_output_code

    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed(closed_output_code(code)) from None


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _warner(progress: ProgressFn) -> Callable[[RunWarning], None]:
    """A warning said before the load: on stderr, or above the live panel while one is
    drawn (written behind its back, it would break the panel and stay on screen)."""
    from rich.text import Text

    from sockbench.report.live import LiveProgress

    def warn(warning: RunWarning) -> None:
        line = f"sockbench: warning: {warning.text()}"
        if isinstance(progress, LiveProgress):
            progress.print(Text(line))
        else:
            typer.echo(line, err=True)

    return warn


@contextlib.contextmanager
def _progress(console: Console, fmt: str, quiet: bool, label: str, window_after_s: float) -> Any:
    """The live panel on a terminal (its interval lines left above it), a line per
    interval elsewhere, JSON lines for jsonl."""
    from sockbench.cli.lines import JsonLines, PlainLines, tick_line
    from sockbench.cli.output import is_plain
    from sockbench.report.live import open_live_progress

    progress: ProgressFn | None = None
    if fmt == "jsonl":
        progress = JsonLines(sys.stdout, window_after_s)
    elif not quiet and is_plain(console):
        progress = PlainLines(console.file, window_after_s)
    if progress is not None:
        yield progress
        return
    history = functools.partial(tick_line, window_after_s=window_after_s)
    with open_live_progress(not quiet, label, console, history, window_after_s) as live:
        yield live


def _print_summary(result: dict[str, Any], fmt: str, console: Console) -> None:
    from sockbench.cli.output import print_doc
    from sockbench.report import render

    if fmt == "jsonl":
        sys.stdout.write(json.dumps({"type": "result", "result": result}) + "\n")
    elif fmt != "table":
        console.file.write(render(result, fmt))
    else:
        print_doc(result, console)
