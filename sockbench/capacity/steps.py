"""The steps of a sweep or a search: each run at one rate, saved and judged, and the
folder written again after every step, so an interrupted sweep keeps what it ran."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sockbench.core.checks import Check, parse_check
from sockbench.core.progress import ProgressFn
from sockbench.core.rates import format_rate
from sockbench.core.search import Judgement, Phase, Verdict, judge
from sockbench.core.spec.run import RunSpec
from sockbench.core.status import RunStatus
from sockbench.core.sweep import Curve, StepRecord, row_of, sweep_document
from sockbench.engine.io.interrupts import Interrupts
from sockbench.engine.orchestration.runner import KeptServer, keep_server, run
from sockbench.errors import SockbenchError
from sockbench.report.files import SurvivingWriter, write_run_folder
from sockbench.report.numbers import fmt_rate, fmt_us
from sockbench.report.sweep import write_sweep_reports

SWEEP_DOCUMENT = "sweep.json"
Say = Callable[[str], None]
#: Before each step: its spec and its name (``step3``; ``cell2-step3`` in a compare), and
#: back the progress view that watches it (``--metrics-port``'s exporter), or None.
StepWatch = Callable[[RunSpec, str], ProgressFn | None]


def at_rate(spec: RunSpec, rate: float) -> RunSpec:
    """``spec`` at another open-loop rate. Nothing else in a spec depends on the rate
    (the sizing does not read it), so the spec checked at the first rate holds for all."""
    return dataclasses.replace(spec, load=dataclasses.replace(spec.load, rate=rate))


@dataclass
class CurveSteps:
    """One workload's steps (a curve of the document): its spec, runs and records."""

    label: str
    spec: RunSpec  # checked, at the first rate
    folder: Path | None  # where its runs go (None: nowhere)
    cell: Mapping[str, Any] | None = None
    records: list[StepRecord] = field(default_factory=list)
    search: Mapping[str, Any] | None = None
    kept: KeptServer | None = None
    error: str | None = None  # its server would not start or serve: no further step

    def curve(self) -> Curve:
        config = dict(self.spec.to_json())
        config.pop("rate", None)
        return Curve(self.label, config, tuple(self.records), self.search, self.cell)

    @contextlib.contextmanager
    def server_kept(self, keep: bool) -> Iterator[None]:
        """With ``keep``, one server for every step of this curve."""
        if not keep:
            yield
            return
        with keep_server(self.spec) as kept:
            self.kept = kept
            try:
                yield
            finally:
                self.kept = None


@dataclass
class Steps:
    """Every curve of one sweep or search, and its folder, written after every step."""

    kind: str  # "sweep" or "search"
    slos: tuple[str, ...]
    folder: Path | None
    command: str
    interrupts: Interrupts
    say: Say
    curves: list[CurveSteps] = field(default_factory=list)
    status: str = RunStatus.COMPLETED
    started_at: str = field(default_factory=lambda: _now())
    _started: float = field(default_factory=time.monotonic)
    saving: SurvivingWriter | None = None  # None: no folder
    watch: StepWatch | None = None

    def __post_init__(self) -> None:
        if self.folder is not None:
            self.saving = SurvivingWriter(self.folder, self.kind)

    @property
    def checks(self) -> list[Check]:
        return [parse_check(expr) for expr in self.slos]

    def stopped(self, curve: CurveSteps) -> bool:
        """Whether ``curve`` takes no further step: a signal came, a run was interrupted,
        or its server would not start or serve."""
        if self.interrupts.count and self.status == RunStatus.COMPLETED:
            self.status = RunStatus.INTERRUPTED
        return self.status == RunStatus.INTERRUPTED or curve.error is not None

    def run(self, curve: CurveSteps, rate: float, phase: Phase | None = None) -> Judgement:
        """Run ``rate`` on ``curve``, save its result, judge it; say one line about it."""
        n = len(curve.records) + 1
        self.say(f"{curve.label}: step {n}, {format_rate(rate, grouped=True)} req/s ...")
        spec = at_rate(curve.spec, rate)
        name = f"cell{curve.cell['index']}-step{n}" if curve.cell else f"step{n}"
        try:
            outcome = run(
                spec, command=self.command, interrupts=self.interrupts, server=curve.kept,
                progress=self.watch(spec, name) if self.watch else None,
            )  # fmt: skip
        except SockbenchError as exc:  # the server would not start, or stopped answering
            if not any(c.records for c in self.curves):
                raise  # before anything was measured: one line and exit 2, as `run`
            curve.error = " ".join(str(exc).split())
            judgement = Judgement(Verdict.FAIL, (curve.error,))
            self._record(curve, StepRecord(rate, "", RunStatus.SERVER_DIED, judgement, {}, phase))
            return judgement
        result = outcome.result
        if result["status"] == RunStatus.INTERRUPTED:
            self.status = RunStatus.INTERRUPTED
        judgement = judge(self.checks, result)
        saved = self._save_run(curve, result, n, rate)
        self._record(
            curve, StepRecord(rate, saved, result["status"], judgement, row_of(result), phase)
        )
        return judgement

    def _save_run(self, curve: CurveSteps, result: Mapping[str, Any], n: int, rate: float) -> str:
        """The run's folder, relative to the sweep's ("": not written)."""
        if self.saving is None or curve.folder is None:
            return ""
        name = f"{n:02d}-{format_rate(rate)}rps"
        where = curve.folder
        written: list[Path] = []
        self.saving.attempt(
            lambda: written.append(write_run_folder(dict(result), str(where), name)), where / name
        )
        return str(written[0].relative_to(self.saving.folder)) if written else ""

    def _record(self, curve: CurveSteps, record: StepRecord) -> None:
        curve.records.append(record)
        verdict = record.judgement.verdict.value
        why = f": {'; '.join(record.judgement.reasons)}" if record.judgement.reasons else ""
        row = record.row
        served = f"served {fmt_rate(row.get('rps'))} req/s, p99 {fmt_us(row.get('latency.p99'))}"
        self.say(f"  {verdict} ({served}){why}")
        self.write()

    def document(self) -> dict[str, Any]:
        return sweep_document(
            kind=self.kind, command=self.command, started_at=self.started_at,
            elapsed_s=time.monotonic() - self._started, status=self.status, slos=self.slos,
            curves=[curve.curve() for curve in self.curves],
        )  # fmt: skip

    def write(self) -> dict[str, Any]:
        """The document and its reports, in the folder or (a disk that filled) the
        document alone in the fallback file."""
        doc = self.document()
        if self.saving is not None:
            folder = self.saving.folder
            self.saving.document(SWEEP_DOCUMENT, doc)
            self.saving.attempt(lambda: write_sweep_reports(folder, doc), folder)
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
