"""Running a compare: one fresh server per cell, a failed cell recorded, Ctrl-C honoured.

Each cell is one :func:`sockbench.engine.orchestration.runner.run`, which starts a fresh server
process for it and stops it after, so no cell inherits another's warm caches,
leaked connections or grown heap. ``out_dir`` is None in the cells' configs: the
cells write no run folders of their own; everything lands in the compare folder.

A cell that fails (the server would not start, died, a worker crashed) is kept
with its status and error and the compare goes on. Ctrl-C stops it: the cell that
was running is kept as ``interrupted`` (the engine returns what it measured), no
further cell starts, and the folder is written with what was done. The process's
CPU affinity (which the engine narrows to the generator's CPUs) is restored
however the compare ends.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sockbench.compare.folder import RESULTS, write_histogram, write_reports
from sockbench.compare.plan import Cell, Plan
from sockbench.compare.summary import repeat_stats
from sockbench.core.progress import ProgressFn
from sockbench.core.result import Measurement, build_result
from sockbench.core.spec.run import RunSpec
from sockbench.core.spec.server import Command
from sockbench.core.status import (
    EXIT_WRITE_FAILED,
    RunStatus,
    combined_exit_code,
    exit_code,
    result_exit_code,
)
from sockbench.core.tally import Tally
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.engine.io.interrupts import Interrupts
from sockbench.engine.orchestration.runner import RunOutcome
from sockbench.environment import collect_environment
from sockbench.errors import SockbenchError
from sockbench.report.document import COMPARE_SCHEMA
from sockbench.report.files import SurvivingWriter


class RunFn(Protocol):
    """The shape of :func:`sockbench.engine.orchestration.runner.run` (tests pass a stand-in)."""

    def __call__(
        self,
        spec: RunSpec,
        *,
        command: str,
        progress: ProgressFn | None = None,
        interrupts: Interrupts | None = None,
    ) -> RunOutcome: ...


BeforeCell = Callable[[Cell], ProgressFn | None]
AfterCell = Callable[[Cell, dict[str, Any]], None]


@dataclass(frozen=True)
class CompareOutcome:
    """``failures``: what could not be written to the folder (a disk that filled); the
    document is then in ``fallback`` (None if that failed too) and the exit code is 74."""

    doc: dict[str, Any]
    folder: Path
    exit_code: int
    interrupted: bool
    failures: tuple[str, ...] = ()
    fallback: Path | None = None


class _Saving(SurvivingWriter):
    """The compare folder's writes (:class:`~sockbench.report.files.SurvivingWriter`)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, "compare")

    def results(self, doc: dict[str, Any]) -> None:
        self.document(RESULTS, doc)

    def histogram(self, stem: str, result: dict[str, Any]) -> None:
        self.attempt(lambda: write_histogram(self.folder, stem, result), self.folder)

    def reports(self, doc: dict[str, Any]) -> None:
        self.attempt(lambda: write_reports(self.folder, doc), self.folder)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_document(plan: Plan, command: str) -> dict[str, Any]:
    return {
        "schema": COMPARE_SCHEMA,
        "created_at": _now(),
        "command": command,
        "status": "running",
        "plan": plan.to_json(),
        "environment": collect_environment(),
        "cells": [],
    }


def failed_result(
    cell: Cell, *, command: str, started_at: str, status: str, error: str
) -> dict[str, Any]:
    """A result for a cell that produced none: zero counts, its status and why."""
    return build_result(
        Measurement(
            spec=cell.spec,
            command=command,
            environment=collect_environment(),
            server={
                "model": cell.model,
                "target": "not started",
                "cpus": sorted(cell.spec.sizing.server_cpus) or None,
                **_command(cell),
            },
            started_at=started_at,
            duration_s=0.0,
            status=RunStatus(status),
            tally=Tally.empty(datagrams=not cell.proto.is_stream),
            warnings=[
                RunWarning(
                    WarningKind.CELL_FAILED, f"the cell failed and measured nothing: {error}"
                )
            ],
            ran=False,
        )
    )


def run_cell(
    cell: Cell,
    run: RunFn,
    *,
    command: str,
    progress: ProgressFn | None,
    interrupts: Interrupts | None = None,
) -> tuple[dict[str, Any], bool]:
    """The cell's result (with its ``cell`` object) and whether the compare must stop."""
    started_at = _now()
    error: str | None = None
    try:
        outcome = run(cell.spec, command=command, progress=progress, interrupts=interrupts)
    except SockbenchError as exc:  # the server would not start or answer
        status, error = RunStatus.SERVER_DIED, " ".join(str(exc).split()) or type(exc).__name__
    except Exception as exc:  # the generator failed: out of memory, descriptors, a bug
        status, error = (
            RunStatus.WORKER_FAILED,
            f"{type(exc).__name__}: {' '.join(str(exc).split())}",
        )
    if error is not None:
        result = failed_result(
            cell, command=command, started_at=started_at, status=status, error=error
        )
        result["cell"] = {**cell.to_json(), "error": error}
        return result, False
    result = dict(outcome.result)
    result["cell"] = cell.to_json()
    died = (result.get("server") or {}).get("error")
    if died:  # an external command that exited mid-cell: its code and last stderr lines
        result["cell"]["error"] = died
    return result, result.get("status") == RunStatus.INTERRUPTED


def _command(cell: Cell) -> dict[str, Any]:
    server = cell.spec.server
    return {"template": server.template} if isinstance(server, Command) else {}


def _keeping_logs(cell: Cell, folder: Path) -> Cell:
    """A command's stdout/stderr go beside the cell's .hgrm, named by its stem."""
    if not isinstance(cell.spec.server, Command):
        return cell
    return dataclasses.replace(cell, spec=cell.spec.with_server_logs(f"{folder / cell.stem}."))


def run_compare(
    plan: Plan,
    folder: Path,
    *,
    command: str,
    run: RunFn | None = None,
    before_cell: BeforeCell | None = None,
    after_cell: AfterCell | None = None,
) -> CompareOutcome:
    """Run every cell of ``plan`` in order and write the compare folder.

    ``before_cell`` may return a progress function for the cell's run;
    ``after_cell`` sees each cell's result as soon as it is stored.
    """
    if run is None:
        from sockbench.engine.orchestration.runner import run as engine_run

        run = engine_run
    affinity = os.sched_getaffinity(0)
    folder.mkdir(parents=True, exist_ok=True)
    doc = new_document(plan, command)
    saving = _Saving(folder)
    saving.results(doc)
    interrupted = False
    started = time.monotonic()
    # SIGINT/SIGTERM, in a cell or between cells, stop the compare (a second one hurries
    # the cell's shutdown); the cell that was running is kept, and the folder written.
    interrupts = Interrupts()
    try:
        with interrupts.installed():
            for cell in (_keeping_logs(c, folder) for c in plan.cells):
                if interrupts.count:
                    interrupted = True
                    break
                progress = before_cell(cell) if before_cell else None
                result, stop = run_cell(
                    cell, run, command=command, progress=progress, interrupts=interrupts
                )
                doc["cells"].append(result)
                saving.results(doc)
                saving.histogram(cell.stem, result)
                if after_cell:
                    after_cell(cell, result)
                if stop or interrupts.count:
                    interrupted = True
                    break
    except KeyboardInterrupt:  # off the main thread, or a stand-in engine's Ctrl-C
        interrupted = True
    finally:
        os.sched_setaffinity(0, affinity)
    doc["status"] = RunStatus.INTERRUPTED if interrupted else RunStatus.COMPLETED
    doc["finished_at"] = _now()
    doc["elapsed_s"] = round(time.monotonic() - started, 3)
    doc["repeats"] = repeat_stats(doc)
    saving.results(doc)
    saving.reports(doc)
    code = combined_exit_code([exit_code(doc["status"]), *map(result_exit_code, doc["cells"])])
    if interrupted and interrupts.exit_code:
        code = interrupts.exit_code  # 143 for SIGTERM, as a shell reports it
    if saving.failures:
        code = EXIT_WRITE_FAILED  # as `run`: measured, but not all written where asked
    return CompareOutcome(doc, folder, code, interrupted, tuple(saving.failures), saving.fallback)
