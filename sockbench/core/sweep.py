"""The sweep document: one row per rate run, and a search's answer (pure).

``sockbench sweep`` and ``sockbench search`` both run the same workload at several
open-loop rates, each a full run saved as its own result. This document is what ties
them together: per step, the rate asked, where its result is, its verdict and a row of
the numbers a latency–load curve needs, read from the result through the metric
registry (:data:`ROW_METRICS`), so a column here means what it means everywhere else.
A search adds its answer (:class:`~sockbench.core.search.SearchOutcome`).

Versioned like every document (:data:`~sockbench.core.schemas.SWEEP_SCHEMA`); a reader
dispatches on ``schema``. The result documents stay the truth: a row is a copy of
numbers found there, for the tables and the chart. A document holds one curve per
workload: one for ``sweep`` and ``search``, one per cell for ``compare --sweep`` and
``compare --capacity``, so one report and one chart serve them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sockbench.core.metrics import Metric, metric
from sockbench.core.schemas import SWEEP_SCHEMA
from sockbench.core.search import Judgement, Phase, SearchOutcome

#: The numbers of a row, registry names in column order: what a latency–load curve and
#: its table need (offered and served rate, the tail, errors, the server's CPU, and how
#: busy the generator's loop was: its CPU counts the spin before each due time).
ROW_METRICS: tuple[str, ...] = (
    "offered", "rps", "achieved", "latency.p50", "latency.p90", "latency.p99",
    "latency.p99.9", "latency.max", "errors", "server.cpu", "generator.busy",
)  # fmt: skip


def row_metrics() -> tuple[Metric, ...]:
    return tuple(metric(name) for name in ROW_METRICS)


def row_of(doc: Mapping[str, Any]) -> dict[str, float | None]:
    """A result's row: each of :data:`ROW_METRICS` by name (None: not measured)."""
    return {m.name: m.value(doc) for m in row_metrics()}


@dataclass(frozen=True)
class StepRecord:
    """One run of a sweep or a search, as the document keeps it."""

    rate: float
    result: str  # the result's path, relative to the sweep's folder
    status: str
    judgement: Judgement
    row: Mapping[str, float | None]
    phase: Phase | None = None  # a search's phase; None in a sweep

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rate": self.rate,
            "result": self.result,
            "status": self.status,
            "verdict": self.judgement.verdict.value,
            "reasons": list(self.judgement.reasons),
            "row": dict(self.row),
        }
        if self.phase is not None:
            out["phase"] = self.phase.value
        return out


def search_json(outcome: SearchOutcome, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A search's answer: how it ended, the capacity, its bracket and its settings."""
    return {
        "found": outcome.found.value,
        "capacity_rps": outcome.capacity,
        "highest_pass_rps": outcome.highest_pass,
        "lowest_fail_rps": outcome.lowest_fail,
        "lowest_invalid_rps": outcome.lowest_invalid,
        "confirmed": outcome.confirmed,
        **settings,
    }


@dataclass(frozen=True)
class Curve:
    """One workload's steps: the whole of a ``sweep`` or ``search``, or one cell (a model
    under one workload) of ``compare --sweep`` or ``--capacity``."""

    label: str  # "asyncio tcp 64 B 100 clients", or the target
    config: Mapping[str, Any]  # its runs' config, but the rate
    steps: Sequence[StepRecord]
    search: Mapping[str, Any] | None = None  # a search's answer (:func:`search_json`)
    cell: Mapping[str, Any] | None = None  # compare's axes of it

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "config": dict(self.config),
            "steps": [step.to_json() for step in self.steps],
        }
        if self.search is not None:
            out["search"] = dict(self.search)
        if self.cell is not None:
            out["cell"] = dict(self.cell)
        return out


def sweep_document(
    *,
    kind: str,
    command: str,
    started_at: str,
    elapsed_s: float,
    status: str,
    slos: Sequence[str],
    curves: Sequence[Curve],
) -> dict[str, Any]:
    """The whole document. ``kind`` is ``sweep`` or ``search``; ``status`` is
    ``completed`` or why it ended early."""
    return {
        "schema": SWEEP_SCHEMA,
        "kind": kind,
        "command": command,
        "started_at": started_at,
        "elapsed_s": round(elapsed_s, 3),
        "status": status,
        "slos": list(slos),
        "columns": list(ROW_METRICS),
        "curves": [curve.to_json() for curve in curves],
    }
