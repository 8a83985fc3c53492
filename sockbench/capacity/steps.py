"""One step of a sweep or a search: the run at one rate, saved and judged."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sockbench.core.checks import Check, parse_check
from sockbench.core.rates import format_rate
from sockbench.core.search import Judgement, Phase, Verdict, judge
from sockbench.core.spec.run import RunSpec
from sockbench.core.status import RunStatus
from sockbench.core.sweep import StepRecord, row_of, sweep_document
from sockbench.engine.io.interrupts import Interrupts
from sockbench.engine.orchestration.runner import KeptServer, keep_server, run
from sockbench.errors import SockbenchError
from sockbench.report.files import to_json, write_atomic, write_run_folder
from sockbench.report.numbers import fmt_rate, fmt_us
from sockbench.report.sweep import write_sweep_reports

SWEEP_DOCUMENT = "sweep.json"

SpecAt = Callable[[float], RunSpec]
Say = Callable[[str], None]


@dataclass
class Steps:
    """The steps of one sweep or search, and its folder, written after every step."""

    kind: str  # "sweep" or "search"
    spec_at: SpecAt  # the run's spec at a rate, checked (bad input never gets here)
    slos: tuple[str, ...]
    folder: Path | None
    command: str
    interrupts: Interrupts
    say: Say
    records: list[StepRecord] = field(default_factory=list)
    status: str = RunStatus.COMPLETED
    started_at: str = field(default_factory=lambda: _now())
    _started: float = field(default_factory=time.monotonic)
    _kept: KeptServer | None = None

    @property
    def checks(self) -> list[Check]:
        return [parse_check(expr) for expr in self.slos]

    @contextlib.contextmanager
    def server_kept(self, keep: bool, first: float) -> Iterator[None]:
        """With ``keep``, one server (the first rate's spec's) for every step."""
        if not keep:
            yield
            return
        with keep_server(self.spec_at(first)) as kept:
            self._kept = kept
            try:
                yield
            finally:
                self._kept = None

    @property
    def stopped(self) -> bool:
        return self.status != RunStatus.COMPLETED

    def run(self, rate: float, phase: Phase | None = None) -> Judgement:
        """Run ``rate``, save its result, judge it; say one line about it."""
        n = len(self.records) + 1
        self.say(f"{self.kind} step {n}: {format_rate(rate)} req/s ...")
        spec = self.spec_at(rate)
        try:
            outcome = run(spec, command=self.command, interrupts=self.interrupts, server=self._kept)
        except SockbenchError as exc:  # the server would not start, or stopped answering
            self.status = RunStatus.SERVER_DIED
            judgement = Judgement(Verdict.FAIL, (" ".join(str(exc).split()),))
            self._record(StepRecord(rate, "", RunStatus.SERVER_DIED, judgement, {}, phase))
            return judgement
        result = outcome.result
        if result["status"] == RunStatus.INTERRUPTED:
            self.status = RunStatus.INTERRUPTED
        judgement = judge(self.checks, result)
        saved = self._save_run(result, n, rate)
        self._record(StepRecord(rate, saved, result["status"], judgement, row_of(result), phase))
        return judgement

    def _save_run(self, result: Mapping[str, Any], n: int, rate: float) -> str:
        if self.folder is None:
            return ""
        name = f"{n:02d}-{format_rate(rate)}rps"
        written = write_run_folder(dict(result), str(self.folder), name)
        return str(written.relative_to(self.folder))

    def _record(self, record: StepRecord) -> None:
        self.records.append(record)
        verdict = record.judgement.verdict.value
        why = f": {'; '.join(record.judgement.reasons)}" if record.judgement.reasons else ""
        row = record.row
        served = f"served {fmt_rate(row.get('rps'))} req/s, p99 {fmt_us(row.get('latency.p99'))}"
        self.say(f"  {verdict} ({served}){why}")
        self.write()

    def document(self, search: Mapping[str, Any] | None = None) -> dict[str, Any]:
        config = dict(self.spec_at(self.records[0].rate if self.records else 1.0).to_json())
        config.pop("rate", None)
        return sweep_document(
            kind=self.kind, command=self.command, started_at=self.started_at,
            elapsed_s=time.monotonic() - self._started, status=self.status, config=config,
            slos=self.slos, steps=self.records, search=search,
        )  # fmt: skip

    def write(self, search: Mapping[str, Any] | None = None) -> dict[str, Any]:
        doc = self.document(search)
        if self.folder is not None:
            write_atomic(self.folder / SWEEP_DOCUMENT, to_json(doc))
            write_sweep_reports(self.folder, doc)
        return doc


def consecutive_failures(records: Sequence[StepRecord]) -> int:
    """How many of the last steps in a row did not pass."""
    n = 0
    for record in reversed(records):
        if record.judgement.verdict is Verdict.PASS:
            break
        n += 1
    return n


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
