"""The result document (``sockbench.result/1``) that ``core/result.py`` builds, key by key."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from annotated_types import Gt, Lt
from typing_extensions import TypedDict

from sockbench.core.records.config import Config, Server
from sockbench.core.records.counts import Datagrams, Histogram, Interval, Stream, Totals
from sockbench.core.records.fields import NonNegative, Positive, Timestamp, record
from sockbench.core.records.resources import Generator, Resources
from sockbench.core.records.validity import Validity
from sockbench.core.status import RunStatus


@record
class Environment(TypedDict):
    """The machine that measured; more keys than these (docs/result.md)."""

    hostname: Any
    os: Any
    kernel: Any
    python: Any
    cpu_model: Any
    cpu_count: Any
    trio: Any
    hdrhistogram: Any


@record
class WarningDetail(TypedDict):
    kind: str
    message: str
    advice: str


@record
class Check(TypedDict):
    expr: str
    metric: str
    value: float | None
    unit: Literal["s", "", "ratio"]
    measured: str
    passed: bool


@record
class Until(TypedDict):
    target: str
    percentile: Annotated[float, Gt(0), Lt(100)]
    relative_asked: Positive
    reached: bool
    needed_s: NonNegative | None
    relative: NonNegative | None


@record
class ResultDoc(TypedDict):
    schema: Literal["sockbench.result/1"]
    sockbench_version: str
    started_at: Timestamp
    duration_s: NonNegative
    """length of the measurement window actually measured"""
    interrupted: bool
    """true when the run ended early (Ctrl-C, server death, worker failure)"""
    status: RunStatus
    command: NotRequired[str]
    config: Config
    environment: Environment
    server: Server
    totals: Totals
    datagrams: Datagrams | None
    latency_us: Histogram
    connect_us: Histogram
    service_time_us: NotRequired[Histogram | None]
    send_lag_us: NotRequired[Histogram | None]
    warnings: list[str]
    warning_details: NotRequired[list[WarningDetail]]
    server_resources: NotRequired[Resources | None]
    generator: NotRequired[Generator | None]
    intervals: NotRequired[list[Interval]]
    drain_interval: NotRequired[Interval]
    measurement_started_at_s: NotRequired[float | None]
    stream: NotRequired[Stream]
    scheduler_lag_us: NotRequired[Histogram | None]
    latency_by_kind_us: NotRequired[dict[str, Histogram]]
    checks: NotRequired[list[Check]]
    until: NotRequired[Until]
    """--until: the percentile and width asked, whether the run measured it that closely
    before --duration (reached; needed_s: the window it needed) and its final 95 % interval's
    relative width (validity.percentiles); absent without --until (docs/validity.md)"""
    validity: NotRequired[Validity]
    """Whether the result supports its own numbers (docs/validity.md): a 95 % interval per
    recorded percentile, a trend test of the per-interval throughput, p50 and p99, their
    lag-1 autocorrelation, and for open loop whether the generator followed its schedule;
    computed from the intervals, histograms and totals alone"""
