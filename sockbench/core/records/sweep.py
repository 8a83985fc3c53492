"""The sweep document (``sockbench.sweep/1``, sweep.json): a sweep's or a search's curves."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from annotated_types import Gt, Lt
from typing_extensions import TypedDict

from sockbench.core.records.fields import NonNegative, Positive, Timestamp, record
from sockbench.core.search import Found, Phase, Verdict
from sockbench.core.status import RunStatus


@record
class Step(TypedDict):
    rate: Positive
    result: str
    """the run's folder, relative to the sweep's; empty when nothing was saved"""
    status: str
    verdict: Verdict
    reasons: list[str]
    phase: NotRequired[Phase]
    row: dict[str, float | None]


@record
class Search(TypedDict):
    found: Found
    capacity_rps: NonNegative | None
    highest_pass_rps: NonNegative | None
    lowest_fail_rps: NonNegative | None
    lowest_invalid_rps: NonNegative | None
    confirmed: bool | None
    rate_min: NonNegative
    rate_max: NonNegative | None
    precision: Annotated[float, Gt(0), Lt(1)]


@record
class Curve(TypedDict):
    label: str
    config: dict[str, Any]
    """its runs' config (result.config), but the rate"""
    cell: NotRequired[dict[str, Any]]
    """compare: the cell's model, proto, clients, payload, repeat and index"""
    steps: list[Step]
    search: NotRequired[Search]


@record
class SweepDoc(TypedDict):
    schema: Literal["sockbench.sweep/1"]
    kind: Literal["sweep", "search"]
    command: str
    started_at: Timestamp
    elapsed_s: NonNegative
    status: RunStatus
    slos: list[str]
    """the --slo (or compare --capacity) expressions every step is judged by, besides the
    rate served (achieved >= 99%)"""
    columns: list[str]
    """the metric registry's names of each row's numbers, in order"""
    curves: list[Curve]
