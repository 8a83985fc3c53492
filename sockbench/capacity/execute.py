"""Sweeps and searches, curve by curve, step by step: the order and the stopping, not
the judging (:mod:`sockbench.core.search`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sockbench.capacity.steps import CurveSteps, Say, Steps, StepWatch, consecutive_failures
from sockbench.core.search import SEARCH_EXIT_CODES, CapacitySearch, Found, search_status
from sockbench.core.spec.capacity import AtRates, SearchOptions, SweepOptions
from sockbench.core.spec.run import RunSpec
from sockbench.core.spec.server import Target
from sockbench.core.status import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_WRITE_FAILED,
    RunStatus,
)
from sockbench.core.sweep import search_json
from sockbench.engine.io.interrupts import Interrupts
from sockbench.report.numbers import fmt_payload


@dataclass(frozen=True)
class Workload:
    """One curve to run: its label, its spec (checked, at the first rate), where its runs
    go (a folder under the sweep's; None: the sweep's own) and compare's axes of it."""

    label: str
    spec: RunSpec
    subfolder: str | None = None
    cell: Mapping[str, Any] | None = None


def workload_label(spec: RunSpec) -> str:
    """``asyncio tcp 64 B 4 clients``, or the target's address for the server."""
    server = spec.server
    where = str(server.endpoint) if isinstance(server, Target) else spec.server_name
    clients = spec.load.clients
    payload = fmt_payload(spec.protocol.options.payload)
    return f"{where} {spec.proto.value} {payload} {clients:,} client{'s' if clients != 1 else ''}"


@dataclass(frozen=True)
class AtRatesOutcome:
    document: dict[str, Any]
    folder: Path | None
    exit_code: int
    failures: tuple[str, ...] = ()  # writes that failed (a disk that filled)
    fallback: Path | None = None  # where the document went instead


def _curves(workloads: Sequence[Workload], folder: Path | None) -> list[CurveSteps]:
    def where(w: Workload) -> Path | None:
        if folder is None:
            return None
        return folder / w.subfolder if w.subfolder else folder

    return [CurveSteps(w.label, w.spec, where(w), w.cell) for w in workloads]


def run_sweep(
    workloads: Sequence[Workload], shared: AtRates, sweep: SweepOptions, *,
    folder: Path | None, command: str, say: Say, watch: StepWatch | None = None,
) -> AtRatesOutcome:  # fmt: skip
    """Every rate of every workload in order; a workload stops once ``--stop-after-fail``
    of its rates in a row failed."""
    interrupts = Interrupts()
    steps = Steps("sweep", shared.slos, folder, command, interrupts, say, watch=watch)
    steps.curves = _curves(workloads, folder)
    stop_after = sweep.stop_after_fail
    with interrupts.installed():
        for curve in steps.curves:
            if steps.stopped(curve):
                break
            with curve.server_kept(shared.keep_server):
                for rate in sweep.rates:
                    if steps.stopped(curve):
                        break
                    steps.run(curve, rate)
                    if stop_after and consecutive_failures(curve.records) >= stop_after:
                        if len(curve.records) < len(sweep.rates):
                            say(f"{curve.label}: {stop_after} rates in a row failed; "
                                "the higher ones are skipped")  # fmt: skip
                        break
        doc = steps.write()
    failed = any(curve.error for curve in steps.curves)
    code = EXIT_FAILED if failed or steps.status != RunStatus.COMPLETED else EXIT_OK
    return _outcome(doc, steps, interrupts, code)


def run_search(
    workloads: Sequence[Workload], shared: AtRates, options: SearchOptions, *,
    folder: Path | None, command: str, say: Say, watch: StepWatch | None = None,
) -> AtRatesOutcome:  # fmt: skip
    """Ramp, bisect and confirm (:class:`~sockbench.core.search.CapacitySearch`), per
    workload; the exit code is the worst of theirs."""
    interrupts = Interrupts()
    steps = Steps("search", shared.slos, folder, command, interrupts, say, watch=watch)
    steps.curves = _curves(workloads, folder)
    settings = {
        "rate_min": options.rate_min, "rate_max": options.rate_max,
        "precision": options.precision,
    }  # fmt: skip
    codes = []
    with interrupts.installed():
        for curve in steps.curves:
            if steps.stopped(curve):
                break
            search = CapacitySearch(
                options.rate_min, options.precision, options.rate_max, confirm=options.confirm
            )
            with curve.server_kept(shared.keep_server):
                while (rate := search.next_rate()) is not None:
                    judgement = steps.run(curve, rate, search.phase)
                    if steps.stopped(curve):  # this step says nothing of the server's capacity
                        search.stop()
                        break
                    search.record(rate, judgement)
            outcome = search.outcome()
            curve.search = search_json(outcome, settings)
            codes.append(SEARCH_EXIT_CODES[outcome.found])
            if steps.status == RunStatus.COMPLETED:  # a signal's interrupted stays
                steps.status = search_status(outcome.found)
        doc = steps.write()
    code = max(codes, default=SEARCH_EXIT_CODES[Found.STOPPED])
    return _outcome(doc, steps, interrupts, code)


def _outcome(
    doc: dict[str, Any], steps: Steps, interrupts: Interrupts, code: int
) -> AtRatesOutcome:
    """The exit code: a signal's, else a write that failed (74, as ``run``), else ``code``."""
    saving = steps.saving
    failures = tuple(saving.failures) if saving is not None else ()
    if steps.status == RunStatus.INTERRUPTED:
        code = interrupts.exit_code or EXIT_INTERRUPTED
    elif failures:
        code = EXIT_WRITE_FAILED
    return AtRatesOutcome(
        doc, steps.folder, code, failures, saving.fallback if saving is not None else None
    )
