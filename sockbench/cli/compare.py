"""`sockbench compare`: run a matrix of server models and workloads, write one folder."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from sockbench.cli.app import app, command_line, setup_logging
from sockbench.cli.examples import epilog
from sockbench.cli.output import echo_checks
from sockbench.cli.params import declare

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from sockbench.compare import Cell, Plan
    from sockbench.core.progress import ProgressFn
    from sockbench.report.live import LiveProgress
    from sockbench.report.metrics_export import MetricsExporter

#: Seconds a cell costs beyond warm-up and measurement (server start, connect, stop).
CELL_OVERHEAD_S = 2.0


@app.command(epilog=epilog("compare"))
@declare("compare")
def compare(values: dict[str, object], spelled: dict[str, str]) -> None:
    """Compare server models over protocols, client counts and payloads (a fresh server
    per cell, interleaved order, pinned CPUs) and write results and reports to a folder."""
    from rich.console import Console

    from sockbench.compare import build_plan, choose_folder, run_compare
    from sockbench.compare.plan import predicted_cell_warnings
    from sockbench.report.live import live_enabled
    from sockbench.report.metrics_export import open_exporter

    plan = build_plan(values, spelled=spelled)
    setup_logging(plan.output.verbose, plan.output.log_file)
    # The limits each cell will hit, said before any load (as `run` does for its one).
    for line in predicted_cell_warnings(plan):
        typer.echo(f"sockbench: warning: {line}", err=True)
    quiet = plan.output.quiet
    folder = choose_folder(plan.folder)
    if plan.at_rates is not None:
        _at_rates(plan, folder, quiet)
    console = Console()
    errors = Console(stderr=True)
    view = _View(plan, console, quiet)
    if not quiet:
        pins = (
            f"server on CPUs {_cpus(plan.server_cpus)}, generator on {_cpus(plan.client_cpus)}"
            if plan.server_cpus or plan.client_cpus
            else "server and generator not pinned"
        )
        console.print(
            f"compare: {len(plan.cells)} cells ({pins}), about "
            f"{_minutes(len(plan.cells) * view.estimate_s)}; writing {folder}",
            highlight=False,
            soft_wrap=True,
        )
    with (
        open_exporter(plan.output.metrics_address, plan.output.percentiles, _say) as view.exporter,
        view.live(live_enabled(console, quiet)),
    ):
        outcome = run_compare(
            plan,
            folder,
            command=command_line(),
            before_cell=view.before_cell,
            after_cell=view.after_cell,
        )
    if not quiet:
        from sockbench.cli.output import print_doc

        print_doc(outcome.doc, console)
    done = len(outcome.doc["cells"])
    if outcome.interrupted:
        errors.print(
            f"compare interrupted after {done} of {len(plan.cells)} cells; "
            f"kept what ran in {folder}",
            highlight=False,
            markup=False,
        )
    saturated = sum(1 for r in outcome.doc["cells"] if (r.get("generator") or {}).get("saturated"))
    if saturated and quiet:
        errors.print(
            f"warning: the load generator was saturated in {saturated} of {done} cells: they "
            "measured the client, not the server; see report.md",
            highlight=False,
        )
    if outcome.failures:  # a disk that filled: one line, where the document went, exit 74
        from sockbench.cli.run import ResultNotWritten

        raise ResultNotWritten(list(outcome.failures), outcome.fallback)
    typer.echo(f"results: {folder}")
    echo_checks(outcome.doc["cells"])
    raise typer.Exit(outcome.exit_code)


def _at_rates(plan: Plan, folder: Path, quiet: bool) -> None:
    """--capacity or --sweep: a search or a sweep per cell, then its report."""
    import sys

    from sockbench.compare.at_rates import run_cells_at_rates
    from sockbench.core.spec.formats import SweepFormat
    from sockbench.report.metrics_export import open_exporter, watch_steps
    from sockbench.report.sweep import render

    def say(line: str) -> None:
        if not quiet:
            typer.echo(line, err=True)

    what = "a search" if plan.at_rates and plan.at_rates.search else "a sweep"
    say(f"compare: {len(plan.cells)} cells, {what} each; writing {folder}")
    with open_exporter(plan.output.metrics_address, plan.output.percentiles, _say) as exporter:
        outcome = run_cells_at_rates(
            plan, folder, command=command_line(), say=say, watch=watch_steps(exporter)
        )
    sys.stdout.write(render(outcome.document, SweepFormat.TABLE))
    typer.echo(f"results: {folder}")
    if outcome.failures:
        from sockbench.cli.run import ResultNotWritten

        raise ResultNotWritten(list(outcome.failures), outcome.fallback)
    raise typer.Exit(outcome.exit_code)


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _cpus(cpus: tuple[int, ...]) -> str:
    return ",".join(str(c) for c in cpus) or "any"


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


class _View:
    """What the terminal shows while a compare runs: a live panel and a line per cell."""

    def __init__(self, plan: Plan, console: Console, quiet: bool) -> None:
        self.plan = plan
        self.console = console
        self.quiet = quiet
        self.panel: LiveProgress | None = None
        self.exporter: MetricsExporter | None = None  # --metrics-port: each cell's series
        self.run_id = ""  # the compare's, set at its first cell
        self.started = time.monotonic()
        self.done = 0
        self.estimate_s = plan.warmup_s + plan.duration_s + CELL_OVERHEAD_S

    def live(self, enabled: bool) -> Any:
        import contextlib

        from sockbench.report.live import LiveProgress

        if not enabled:
            return contextlib.nullcontext()
        self.panel = LiveProgress(self.console)
        return self.panel

    def _left_s(self) -> float:
        per_cell = (time.monotonic() - self.started) / self.done if self.done else self.estimate_s
        return per_cell * (len(self.plan.cells) - self.done)

    def before_cell(self, cell: Cell) -> ProgressFn | None:
        from sockbench.report.metrics_export import run_id, tee

        if self.exporter is not None:  # a cell's run_id: the compare's, and its index
            self.run_id = self.run_id or run_id()
            self.exporter.start_run(cell.spec, f"{self.run_id}-cell{cell.index}")
        if self.panel is not None:
            self.panel.set_label(
                f"cell {cell.index}/{len(self.plan.cells)}: {cell.label(self.plan.repeat)}"
                f"  (compare: about {_minutes(self._left_s())} left)"
            )
        return tee(self.panel, self.exporter)

    def after_cell(self, cell: Cell, result: dict[str, Any]) -> None:
        from sockbench.core.document import Result
        from sockbench.report import numbers
        from sockbench.report.stream_fields import rates_line

        self.done += 1
        if self.quiet:
            return
        status = result.get("status")
        line = f"cell {cell.index}/{len(self.plan.cells)} {cell.label(self.plan.repeat)}: "
        if result.get("stream") and (status == "completed" or result["stream"].get("sender")):
            line += rates_line(result)
        elif status == "completed" or (result.get("totals") or {}).get("requests"):
            measured = Result(result)
            line += (
                f"{numbers.fmt_rate(measured.served_rps)} req/s, "
                f"p99 {numbers.fmt_us(measured.metric('p99'))}"
            )
        if status != "completed":
            error = (result.get("cell") or {}).get("error")
            line += f" [{status}{': ' + error if error else ''}]"
        if (result.get("generator") or {}).get("saturated"):
            line += " [generator saturated: measured the client]"
        # Through the panel's console, a line printed while it is live goes above it.
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)
