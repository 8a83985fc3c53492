"""What ``--metrics-port`` exports while a run goes: series and values, decided here (pure).

Once per interval the engine hands the progress view a :class:`~sockbench.core.progress.Tick`
holding the interval's row, merged over the workers, as the result keeps it
(``Tick.row``). :class:`LiveSeries` folds those ticks into the series a Prometheus scrape
reads (:meth:`LiveSeries.families`): counters summed over the rows (requests, errors,
intervals), and gauges of the last row (its requests, errors, rate, latency quantiles from
its histogram, connections). Every value is read through the metric registry
(:mod:`sockbench.core.metrics`) from the row as the result keeps it, so a series and the
result's ``intervals`` agree exactly: no rate or percentile is computed a second way.

Latencies are exported in seconds and rates per second, as OpenMetrics has them; a kind of
request (``--protocol redis``: ``set``, ``get``) is a ``kind`` label on series of its own
(``sockbench_kind_*``), so summing a family never counts a request twice. The HTTP side
lives in :mod:`sockbench.report.metrics_export`; this module opens nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from sockbench.core.metrics import KIND_PREFIX, Metric, metric
from sockbench.core.progress import Tick
from sockbench.errors import ConfigError

if TYPE_CHECKING:
    from sockbench.core.spec.run import RunSpec

PREFIX = "sockbench"
US_PER_S = 1_000_000
DEFAULT_HOST = "127.0.0.1"
#: The longest a run's end waits for a scraper to read its last values.
MAX_FINAL_WAIT_S = 3.0
#: How late a regular scraper's next scrape may come (a loaded machine delays it).
FINAL_SLACK_S = 1.0
#: The registry's metrics an interval row keeps, exported as the last interval's gauges.
RATE, P50, P99, MAX = (metric(n) for n in ("rps", "p50", "p99", "max"))
REQUESTS, ERRORS = metric("requests"), metric("errors")
#: Keys found and missed (--protocol redis/memcache), summed over the rows as counters.
LOOKUPS = HITS, MISSES = metric("hits"), metric("misses")
#: Open loop: the last interval's sends per second and the p99s of how late they went.
OFFERED = metric("offered")
LAGS = {"send_lag": "how late the requests answered in the last interval were sent after "
        "their due time", "scheduler_lag": "the generator's own part of the lateness of the "
        "last interval's sends (late although it could send)"}  # fmt: skip

Kind = Literal["counter", "gauge"]
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    labels: Labels
    value: float


@dataclass(frozen=True)
class Family:
    """One metric family as a scrape reads it: ``name`` without the ``_total`` a counter's
    sample gets (prometheus_client adds it)."""

    name: str
    kind: Kind
    help: str
    unit: str = ""
    samples: tuple[Sample, ...] = ()


@dataclass(frozen=True)
class RunLabels:
    """What tells one run's series from another's: ``run_id`` (a run, or a compare's
    cell), the server ``model`` and the ``protocol`` (``echo``, ``redis``, ...)."""

    run_id: str
    model: str
    protocol: str
    transport: str = ""

    def pairs(self) -> Labels:
        found = (
            ("run_id", self.run_id),
            ("model", self.model),
            ("protocol", self.protocol),
            ("transport", self.transport),
        )
        return tuple((k, v) for k, v in found if v)


def run_labels(spec: RunSpec, run_id: str) -> RunLabels:
    """A run's labels: an external target's model is ``external``."""
    return RunLabels(run_id, spec.server_name or "external", spec.protocol.name, spec.proto.value)


def run_state(spec: RunSpec, run_id: str) -> RunState:
    """A run's series before its first tick: its labels, and the rate it asks."""
    return RunState(run_labels(spec, run_id), requested_rps=spec.load.rate)


@dataclass(frozen=True)
class NodeState:
    """One cluster node's part of a run: its workers' rows, merged."""

    requests: int = 0
    errors: int = 0
    last: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunState:
    """One run's series so far: counters summed over its rows, its last row's gauges."""

    labels: RunLabels
    requested_rps: float | None = None  # open loop: --rate (a sweep's step: its rate)
    intervals: int = 0
    requests: int = 0
    errors: int = 0
    kind_requests: Mapping[str, int] = field(default_factory=dict)
    # Keys read so far (hits, misses: the rows' sums, by_kind's too); empty where no kind
    # of request reads keys.
    lookups: Mapping[str, int] = field(default_factory=dict)
    error_kinds: tuple[tuple[str, int], ...] = ()  # errors so far by kind (timeout, reset)
    # --cluster: per node, its requests and errors so far and its last row.
    nodes: Mapping[str, NodeState] = field(default_factory=dict)
    last: Mapping[str, Any] | None = None  # the last row, as the result keeps it
    quantiles: tuple[tuple[float, float], ...] = ()  # (percentile, µs) of the last row
    connections: int = 0
    measuring: bool = False
    cpu: tuple[tuple[str, float], ...] = ()  # (side, its latest CPU %): server, generator


def fold(state: RunState, tick: Tick, percentiles: Sequence[float]) -> RunState:
    """``state`` after ``tick``: a warm-up tick only moves the gauges it has (connections);
    a measured one adds its row to the counters and becomes the last row."""
    state = replace(state, connections=tick.connections, cpu=_cpu(tick))
    row = tick.row
    if row is None:
        return replace(state, measuring=False)
    # Here, not at the top: the options' declarations import this module at every start.
    from sockbench.core.intervals import count_kinds

    doc = row.to_json()
    kinds = dict(state.kind_requests)
    for kind in doc.get("by_kind", {}):
        requests = metric(f"{KIND_PREFIX}{kind}.{REQUESTS.name}").per_interval(doc) or 0
        kinds[kind] = kinds.get(kind, 0) + int(requests)
    lookups = dict(state.lookups)
    for m in LOOKUPS:
        if (n := m.per_interval(doc)) is not None:
            lookups[m.name] = lookups.get(m.name, 0) + int(n)
    return replace(
        state,
        intervals=state.intervals + 1,
        requests=state.requests + int(REQUESTS.per_interval(doc) or 0),
        errors=state.errors + int(ERRORS.per_interval(doc) or 0),
        kind_requests=kinds,
        lookups=lookups,
        error_kinds=count_kinds((*state.error_kinds, *row.error_kinds)),
        nodes=_nodes(state.nodes, tick),
        last=doc,
        quantiles=tuple((p, float(_percentile_us(row.histogram, p))) for p in percentiles),
        measuring=True,
    )


def _nodes(nodes: Mapping[str, NodeState], tick: Tick) -> dict[str, NodeState]:
    """Each node's state after the tick's rows of it (a node that sent none is kept)."""
    found = dict(nodes)
    for node, row in tick.by_node:
        doc, was = row.to_json(), found.get(node, NodeState())
        found[node] = NodeState(
            requests=was.requests + int(REQUESTS.per_interval(doc) or 0),
            errors=was.errors + int(ERRORS.per_interval(doc) or 0),
            last=doc,
        )
    return found


def _cpu(tick: Tick) -> tuple[tuple[str, float], ...]:
    sides = (("server", tick.server_cpu_percent), ("generator", tick.generator_cpu_percent))
    return tuple((side, cpu) for side, cpu in sides if cpu is not None)


def _percentile_us(histogram: str, percentile: float) -> int | float:
    """A percentile of one interval's histogram, read as the registry reads any latency
    percentile from a histogram (``Metric.recorded_us``); 0 for an interval that recorded
    nothing, as the rows keep it."""
    doc = {"latency_us": {"count": 1, "histogram": histogram}}
    return metric(f"p{percentile:g}").recorded_us(doc) or 0


def families(states: Sequence[RunState]) -> list[Family]:
    """Every family a scrape shows for ``states`` (a run, or a compare's cells so far)."""
    out: dict[str, Family] = {}

    def add(name: str, kind: Kind, help: str, labels: Labels, value: float, unit: str = "") -> None:
        full = f"{PREFIX}_{name}"
        family = out.get(full) or Family(full, kind, help, unit)
        out[full] = replace(family, samples=(*family.samples, Sample(labels, float(value))))

    for state in states:
        base = state.labels.pairs()
        add("run_info", "gauge", "1 for each run or compare cell the series are of", base, 1)
        add("measuring", "gauge", "1 while the run measures, 0 in warm-up or ramp", base,
            state.measuring)  # fmt: skip
        add("connections", "gauge", "connections up", base, state.connections)
        if state.requested_rps is not None:
            add("requested_rate", "gauge", "open loop: the rate asked, req/s (--rate; a sweep "
                "or search step's rate)", base, state.requested_rps)  # fmt: skip
        for side, cpu in state.cpu:
            add(f"{side}_cpu_percent", "gauge", f"the {side}'s CPU in its latest 0.5 s sample "
                "(100: one core), as the result's mean is made of", base, cpu)  # fmt: skip
        add("intervals", "counter", "measured intervals so far", base, state.intervals)
        add("requests", "counter", "requests answered in the intervals so far (the sum of "
            "the result's intervals[].requests)", base, state.requests)  # fmt: skip
        add("errors", "counter", "failed requests and other errors in the intervals so far",
            base, state.errors)  # fmt: skip
        for node, part in sorted(state.nodes.items()):
            at = (*base, ("node", node))
            add("node_requests", "counter", "a cluster node's requests answered so far", at,
                part.requests)  # fmt: skip
            add("node_errors", "counter", "a cluster node's errors so far", at, part.errors)
            add("node_rate", "gauge", "a cluster node's requests answered per second in the "
                "last interval", at, _value(RATE, part.last))  # fmt: skip
            add("node_latency", "gauge", "a cluster node's p99 in the last interval",
                (*at, ("quantile", "0.99")), _value(P99, part.last) / US_PER_S,
                "seconds")  # fmt: skip
        for error, n in state.error_kinds:
            add("errors_by_kind", "counter", "errors so far by kind (timeout, reset, ...): the "
                "errors counter, split", (*base, ("error", error)), n)  # fmt: skip
        for name, n in state.lookups.items():
            add(name, "counter", f"keys {'found' if name == HITS.name else 'not found'} by the "
                f"requests that read keys, in the intervals so far (the sum of the result's "
                f"intervals[].{name})", base, n)  # fmt: skip
        for kind, n in sorted(state.kind_requests.items()):
            add("kind_requests", "counter", "requests of one kind answered so far",
                (*base, ("kind", kind)), n)  # fmt: skip
        row = state.last
        if row is None:
            continue
        add("interval_end", "gauge", "the last interval's end, seconds since measurement "
            "started (the result's intervals[].t)", base, row["t"], "seconds")  # fmt: skip
        add("interval_requests", "gauge", "requests answered in the last interval", base,
            _value(REQUESTS, row))  # fmt: skip
        add("interval_errors", "gauge", "errors in the last interval", base, _value(ERRORS, row))
        add("rate", "gauge", "requests answered per second in the last interval (the "
            "result's intervals[].rps)", base, _value(RATE, row))  # fmt: skip
        for p, us in state.quantiles:
            add("latency", "gauge", "a latency percentile of the last interval, from its "
                "histogram", (*base, ("quantile", _quantile(p))), us / US_PER_S,
                "seconds")  # fmt: skip
        add("latency", "gauge", "", (*base, ("quantile", "1")), _value(MAX, row) / US_PER_S,
            "seconds")  # fmt: skip
        if (offered := OFFERED.per_interval(row)) is not None:
            add("offered_rate", "gauge", "open loop: requests sent per second in the last "
                "interval (the result's intervals[].offered_rps)", base, offered)  # fmt: skip
        for lag, help in LAGS.items():
            if (lag_us := metric(f"{lag}.p99").per_interval(row)) is not None:
                add(lag, "gauge", f"open loop: {help}, p99 (intervals[].{lag}_p99)",
                    (*base, ("quantile", "0.99")), lag_us / US_PER_S, "seconds")  # fmt: skip
        for side in ("sent", "received"):  # --mode stream: the row's bit rates, as iperf3's
            bps = row.get(f"{side}_bps")
            if bps is not None:
                add(f"{side}_bits_per_second", "gauge", f"--mode stream: bits/s {side} in the "
                    f"last interval (the result's intervals[].{side}_bps)", base, bps)  # fmt: skip
        for kind in row.get("by_kind", {}):
            labels = (*base, ("kind", kind))
            rate, p99 = (metric(f"{KIND_PREFIX}{kind}.{m.name}") for m in (RATE, P99))
            add("kind_rate", "gauge", "requests of one kind answered per second in the last "
                "interval", labels, _value(rate, row))  # fmt: skip
            add("kind_latency", "gauge", "p99 of one kind of request in the last interval",
                (*labels, ("quantile", "0.99")), _value(p99, row) / US_PER_S,
                "seconds")  # fmt: skip
    return list(out.values())


def _value(m: Metric, row: Mapping[str, Any]) -> float:
    return float(m.per_interval(row) or 0)


def _quantile(percentile: float) -> str:
    """``99.9`` -> ``"0.999"``: a percentile as OpenMetrics' quantile label writes it."""
    return f"{percentile / 100:.10g}"


def final_wait_s(scraped_at: Sequence[float], now: float) -> float:
    """How long the endpoint stays up after the run for its last values to be scraped:
    until the next scrape of a scraper that came regularly is due (its interval: the last
    two scrapes' gap), with another interval and :data:`FINAL_SLACK_S` to spare, for a
    late one; 0 where nothing scraped twice; at most :data:`MAX_FINAL_WAIT_S`."""
    if len(scraped_at) < 2:
        return 0.0
    due = scraped_at[-1] + 2 * (scraped_at[-1] - scraped_at[-2]) + FINAL_SLACK_S
    return max(0.0, min(MAX_FINAL_WAIT_S, due - now))


def parse_address(value: object, flag: str = "--metrics-port") -> tuple[str, int]:
    """``PORT`` or ``HOST:PORT`` (``[::1]:PORT``) -> (numeric host, port); 0 asks for a
    free port. The host defaults to 127.0.0.1."""
    text = str(value).strip()
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]") if sep else DEFAULT_HOST
    if host == "localhost":
        host = DEFAULT_HOST
    try:
        port = int(port_text)
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r}: expected PORT or HOST:PORT with a numeric HOST, e.g. 9464 "
            "or 127.0.0.1:9464"
        ) from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{flag} {text!r}: port {port} is outside 0-65535")
    return host, port


def check_remote(address: tuple[str, int], allow_remote: bool) -> None:
    """The endpoint serves loopback unless ``--allow-remote`` (compare has no such opt-in,
    so it always does)."""
    if allow_remote or ipaddress.ip_address(address[0]).is_loopback:
        return
    raise ConfigError(
        f"--metrics-port {address[0]}:{address[1]} listens where other hosts reach it; use "
        "127.0.0.1 (the default), or pass --allow-remote to run if you mean to serve them"
    )
