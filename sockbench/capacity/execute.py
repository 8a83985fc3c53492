"""A sweep and a search, step by step: the order and the stopping, not the judging."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sockbench.capacity.steps import Say, SpecAt, Steps, consecutive_failures
from sockbench.core.search import SEARCH_EXIT_CODES, CapacitySearch
from sockbench.core.spec.capacity import SearchSpec, SweepSpec
from sockbench.core.status import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    RunStatus,
)
from sockbench.core.sweep import search_json
from sockbench.engine.io.interrupts import Interrupts


@dataclass(frozen=True)
class AtRatesOutcome:
    document: dict[str, Any]
    folder: Path | None
    exit_code: int


def _ended(steps: Steps, interrupts: Interrupts, code: int) -> int:
    if steps.status == RunStatus.INTERRUPTED:
        return interrupts.exit_code or EXIT_INTERRUPTED
    return code


def run_sweep(
    spec: SweepSpec, spec_at: SpecAt, *, folder: Path | None, command: str, say: Say
) -> AtRatesOutcome:
    """Every rate in order, until ``--stop-after-fail`` rates in a row fail."""
    interrupts = Interrupts()
    steps = Steps("sweep", spec_at, spec.shared.slos, folder, command, interrupts, say)
    rates, stop_after = spec.sweep.rates, spec.sweep.stop_after_fail
    with interrupts.installed(), steps.server_kept(spec.shared.keep_server, rates[0]):
        for rate in rates:
            if interrupts.count:
                steps.status = RunStatus.INTERRUPTED
            if steps.stopped:
                break
            steps.run(rate)
            if stop_after and consecutive_failures(steps.records) >= stop_after:
                if len(steps.records) < len(rates):
                    say(f"sweep: {stop_after} rates in a row failed; the higher ones are skipped")
                break
        doc = steps.write()
    code = EXIT_OK if steps.status == RunStatus.COMPLETED else EXIT_FAILED
    return AtRatesOutcome(doc, folder, _ended(steps, interrupts, code))


def run_search(
    spec: SearchSpec, spec_at: SpecAt, *, folder: Path | None, command: str, say: Say
) -> AtRatesOutcome:
    """Ramp, bisect and confirm (:class:`~sockbench.core.search.CapacitySearch`)."""
    options = spec.search
    search = CapacitySearch(
        options.rate_min, options.precision, options.rate_max, confirm=options.confirm
    )
    interrupts = Interrupts()
    steps = Steps("search", spec_at, spec.shared.slos, folder, command, interrupts, say)
    settings = {
        "rate_min": options.rate_min, "rate_max": options.rate_max,
        "precision": options.precision,
    }  # fmt: skip
    with interrupts.installed(), steps.server_kept(spec.shared.keep_server, options.rate_min):
        while (rate := search.next_rate()) is not None:
            if interrupts.count:
                steps.status = RunStatus.INTERRUPTED
            if steps.stopped:
                search.stop()
                break
            phase = search.phase
            search.record(rate, steps.run(rate, phase))
        outcome = search.outcome()
        doc = steps.write(search_json(outcome, settings))
    return AtRatesOutcome(doc, folder, _ended(steps, interrupts, SEARCH_EXIT_CODES[outcome.found]))
