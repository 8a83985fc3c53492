"""The compare document (``sockbench.compare/1``, a compare folder's results.json)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from sockbench.core.records.fields import AtLeastOne, Count, NonNegative, Timestamp, record
from sockbench.core.records.result import Environment


@record
class Plan(TypedDict):
    models: list[str]
    protos: list[str]
    clients: list[AtLeastOne]
    payloads: list[AtLeastOne | str]
    repeat: AtLeastOne
    duration_s: float
    warmup_s: float
    timeout_s: NotRequired[float]
    cells: NotRequired[Count]
    commands: NotRequired[dict[str, str] | None]
    """--model NAME=CMD: each external model's command template"""


@record
class CellKey(TypedDict):
    model: str
    proto: str
    clients: AtLeastOne
    payload: AtLeastOne | str
    """bytes (an earlier version of schema 1 kept it as given: "1k")"""
    repeat: AtLeastOne
    index: NotRequired[AtLeastOne]
    """the cell's place in the run order, from 1"""
    error: NotRequired[str]
    """why a failed cell measured nothing"""


@record
class Cell(TypedDict):
    """A cell's result: a full sockbench.result/1 document (validated as such on its own),
    with `cell` added; a failed cell may hold little more."""

    schema: Literal["sockbench.result/1"]
    cell: CellKey


@record
class Spread(TypedDict):
    """over the completed repeats; ci95_low/ci95_high: the 95 % Student t interval of the
    mean, low end never below 0 for a metric with no negative value (one repeat: the value
    itself)"""

    median: float
    min: float
    max: float
    mean: float
    ci95_low: float
    ci95_high: float


@record
class Repeats(TypedDict):
    model: str
    proto: str
    clients: int
    payload: Any
    repeats: AtLeastOne
    completed: Count
    throughput_rps: Spread | None
    p50_us: Spread | None
    p99_us: Spread | None
    p99_9_us: Spread | None
    errors: Spread | None


@record
class CompareDoc(TypedDict):
    schema: Literal["sockbench.compare/1"]
    created_at: Timestamp
    finished_at: NotRequired[Timestamp]
    elapsed_s: NotRequired[NonNegative]
    command: str
    status: Literal["running", "completed", "interrupted"]
    """running while cells are still being written"""
    plan: Plan
    environment: Environment
    cells: list[Cell]
    repeats: NotRequired[list[Repeats]]
    """per model x proto x payload x clients, written when the compare ends"""
