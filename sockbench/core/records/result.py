"""The result document (``sockbench.result/1``) that ``core/result.py`` builds, key by key."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from annotated_types import Ge, Gt, Le, Lt
from typing_extensions import TypedDict

from sockbench.core.records.config import Config, Server
from sockbench.core.records.counts import Datagrams, Histogram, Interval, Stream, Totals
from sockbench.core.records.fields import Count, NonNegative, Positive, Timestamp, record
from sockbench.core.records.resources import Generator, Resources
from sockbench.core.records.validity import Validity
from sockbench.core.status import RunStatus


@record
class Environment(TypedDict):
    """The machine that measured (sockbench/environment.py); more keys than these
    (docs/result.md)."""

    hostname: str
    os: Any
    kernel: Any
    python: Any
    cpu_model: str | None
    cpu_count: Count | None
    loadavg: NotRequired[list[NonNegative]]
    """the 1, 5 and 15 minute load averages as the run started (empty where unknown)"""
    sockbench: NotRequired[str]
    """the version that measured"""
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
class WarmupRow(TypedDict):
    t: NonNegative
    rps: NonNegative
    p50: Count
    p99: Count


@record
class Warmup(TypedDict):
    auto: Literal[True]
    max_s: Positive
    settled: bool
    chosen_s: NonNegative
    transient_s: NonNegative | None
    rule: str
    intervals: list[WarmupRow]


@record
class Tls(TypedDict):
    handshakes: Count
    full: Count
    """new sessions: certificate and key exchange"""
    resumed: Count
    """sessions resumed (--tls-resume)"""
    resumed_ratio: Annotated[float, Ge(0), Le(1)] | None
    verified: bool
    """false: --tls-insecure"""
    negotiated: NotRequired[dict[str, Count]]
    """handshakes by what they agreed on: 'VERSION CIPHER', with ' alpn PROTOCOL' when one
    was selected"""


@record
class AcceptQueue(TypedDict):
    """A TCP target's listening socket(s) on this machine, read from the kernel before the
    run and after it (docs/result.md, *Where connections were dropped*)"""

    backlog: Count
    """the most connections that may wait for accept() (each socket's, the smallest)"""
    sockets: Count
    """listening sockets that take the target's connections (several with SO_REUSEPORT)"""
    drops: NotRequired[Count]
    """handshake packets the kernel dropped at the listening socket over the run (its own
    count, warm-up included): SYNs and handshake ACKs that found its queue full, and their
    retries; each is sent again after a timeout, a SYN 1 s later, then 2 s after that, so
    one connection may be dropped several times (absent: not known, the socket was
    replaced)"""


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
    accept_queue: NotRequired[AcceptQueue]
    """a TCP target on this machine: its accept queue (absent: another protocol, or a
    target the kernel does not list here)"""
    handshake_us: NotRequired[Histogram]
    """TLS: each successful handshake's time after its connect, counted as connect_us is:
    a kept-alive run's connections, warm-up included; churn, the window's (docs/tls.md)"""
    tls: NotRequired[Tls]
    """TLS: the handshakes that succeeded, counted as handshake_us is (churn: the window's,
    so a client's first, full one may be in the warm-up), full or resumed, and whether
    certificates were verified (docs/tls.md)"""
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
    warmup: NotRequired[Warmup]
    """--warmup auto only: the maximum (max_s), whether the window started because
    throughput and p99 settled (settled; false: at the maximum, or the run stopped first),
    the warm-up it started after (chosen_s, from the warm-up's start, after any --ramp),
    where the rule put the end of the transient (transient_s; null: too few intervals yet),
    the rule, and the warm-up's own interval rows (t from the warm-up's start), never
    counted in the window (docs/validity.md)"""
    validity: NotRequired[Validity]
    """Whether the result supports its own numbers (docs/validity.md): a 95 % interval per
    recorded percentile, a trend test of the per-interval throughput, p50 and p99, their
    lag-1 autocorrelation, and for open loop whether the generator followed its schedule;
    computed from the intervals, histograms and totals alone"""
