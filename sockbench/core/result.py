"""The result document (schema ``sockbench.result/1``), built from a measurement (pure).

docs/result.md describes every key and docs/result.schema.json validates them.
Later versions add keys; they never change or remove the ones here.

A run hands over one :class:`Measurement` (what it measured and what surrounds it)
rather than a dozen keyword arguments, so the runner and a compare's failed cell
build the same record and a new field is one line in it. What follows from the
numbers (rates, warnings, ``--check``) is computed here, never passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sockbench import __version__
from sockbench.core.checks import evaluate, parse_check
from sockbench.core.forecast import measured_warnings
from sockbench.core.histogram import decode, summarize
from sockbench.core.intervals import IntervalRow
from sockbench.core.kinds import Arrival, Workload
from sockbench.core.schemas import RESULT_SCHEMA as SCHEMA
from sockbench.core.shortfall import requests_due
from sockbench.core.spec.run import RunSpec
from sockbench.core.status import RunStatus
from sockbench.core.stopping import until_section
from sockbench.core.stream_meter import per_client_spread, read_summary, side_summary
from sockbench.core.tally import Tally
from sockbench.core.units import percentile_key
from sockbench.core.validity import assess
from sockbench.core.warmup import WarmupOutcome, warmup_section
from sockbench.core.warning import RunWarning
from sockbench.core.warning_rules import rate_warnings
from sockbench.core.warning_rules import run_warnings as run_warnings

if TYPE_CHECKING:  # the records type the parts built here; they load pydantic: mypy only
    from sockbench.core.records.counts import Interval, KindTotals, Stream, Totals


@dataclass(frozen=True)
class Measurement:
    """Everything a result is built from: what a run measured (the tally, over
    ``duration_s``, ending in ``status``) and what surrounds it."""

    spec: RunSpec  # the run; the document's ``config`` is its to_json()
    command: str
    environment: dict[str, Any]
    server: dict[str, Any]  # model, target, cpus (and an external server's command)
    started_at: str  # ISO 8601 UTC
    duration_s: float  # the window actually measured
    status: RunStatus
    tally: Tally
    warnings: Sequence[RunWarning] = ()  # said before the numbers: predicted, run_warnings, ...
    server_resources: dict[str, Any] | None = None  # None: not sampled (an external target)
    generator: dict[str, Any] | None = None
    measurement_started_at_s: float | None = None  # time.time() at the window's start
    #: False for a compare cell that failed before any load: it had no window, so the
    #: result has no ``measurement_started_at_s`` at all.
    ran: bool = True
    #: --until: the window its rule needed (None: it was not reached, --duration came first).
    until_needed_s: float | None = None
    #: --warmup auto: what the warm-up did (None: a fixed warm-up, or no window).
    warmup: WarmupOutcome | None = None
    #: UDP: what the kernel dropped at the target's socket over the run, its buffer full
    #: (None: not known, the target is not a UDP socket on this machine).
    target_drops: int | None = None
    #: TCP: the target's accept queue, its backlog and what it dropped over the run
    #: (:func:`sockbench.core.listen_queue.run_section`; None: not on this machine).
    accept_queue: dict[str, int] | None = None


def _datagrams(tally: Tally, target_drops: int | None) -> dict[str, Any] | None:
    if tally.datagrams is None:
        return None
    out = tally.datagrams.to_json()
    if target_drops is not None:
        out["target_drops"] = target_drops
    return out


def build_result(m: Measurement) -> dict[str, Any]:
    """The result document of ``m``: its numbers, rates, warnings and checks."""
    status = RunStatus(m.status)  # ValueError for an unknown one
    tally, spec = m.tally, m.spec
    seconds = max(m.duration_s, 1e-9)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "sockbench_version": __version__,
        "started_at": m.started_at,
        "duration_s": round(m.duration_s, 6),
        "interrupted": status not in (RunStatus.COMPLETED, RunStatus.DEGRADED),
        "status": status.value,
        "command": m.command,
        "config": spec.to_json(),
        "environment": m.environment,
        "server": m.server,
        "totals": _totals(tally, spec, seconds),
        "datagrams": _datagrams(tally, m.target_drops),
        "latency_us": summarize(decode(tally.latency)).to_json(),
        "connect_us": summarize(decode(tally.connect)).to_json(),
        **({"accept_queue": m.accept_queue} if m.accept_queue is not None else {}),
        "warnings": [],
        "warning_details": [],
    }
    for name, encoded in sorted(tally.extra_histograms.items()):
        doc[name] = summarize(decode(encoded)).to_json()
    if tally.latency_by_kind:
        doc["latency_by_kind_us"] = {
            kind: summarize(decode(encoded)).to_json()
            for kind, encoded in tally.latency_by_kind.items()
        }
        doc["totals"]["by_kind"] = _by_kind(tally, seconds)
    if tally.lookups_by_kind:  # keys read (GET): found or not, over every kind that reads
        doc["totals"]["hits"] = sum(hits for hits, _ in tally.lookups_by_kind.values())
        doc["totals"]["misses"] = sum(misses for _, misses in tally.lookups_by_kind.values())
    add_percentiles(doc, spec.output.percentiles)
    doc["totals"].update(_accounting(tally))
    doc["intervals"] = [_row_json(row) for row in tally.intervals]
    if tally.drain_interval is not None:
        doc["drain_interval"] = _row_json(tally.drain_interval)
    service = doc.get("service_time_us") or {}
    doc["totals"].update(_rates(tally, spec, seconds, float(service.get("p99") or 0.0)))
    doc["totals"].update(connect_phase(tally, spec.load.clients))
    if spec.tls is not None:
        doc["tls"] = tls_section(tally.handshakes, spec.tls.verify, tally.negotiated)
    if tally.client_bytes:
        # A stream's receiver read the window's bytes by the time its report came, in the
        # drain (iperf3's receiver line also runs past the sender's); datagrams that
        # arrive after the window are not the window's.
        drained = tally.drain_ns / 1e9 if tally.datagrams is None else 0.0
        doc["stream"] = stream_summary(
            tally.client_bytes,
            tally.client_received,
            (seconds, seconds + drained),
            spec.request.payload,
        )
        doc["stream"]["direction"] = spec.load.direction.value
        if tally.client_reads:
            doc["stream"]["reverse"] = read_summary(
                tally.client_reads, seconds, spec.request.payload
            )
    doc["server_resources"] = m.server_resources
    doc["generator"] = m.generator
    if m.ran:
        doc["measurement_started_at_s"] = m.measurement_started_at_s
    doc["validity"] = assess(doc).to_json()  # docs/validity.md
    if spec.load.until is not None:
        doc["until"] = until_section(
            spec.load.until, m.until_needed_s, doc["validity"]["percentiles"]
        )
    auto = spec.load.auto_warmup
    if auto is not None and m.warmup is not None:
        doc["warmup"] = warmup_section(auto, m.warmup)
    add_warnings(doc, [*m.warnings, *rate_warnings(doc), *measured_warnings(spec, doc["totals"])])
    if spec.output.checks:
        checks = [parse_check(expr) for expr in spec.output.checks]
        doc["checks"] = [c.to_json() for c in evaluate(checks, doc)]
    return doc


def _served(tally: Tally) -> int:
    """Replies counted in the rate. Request/reply workloads: what the target served
    inside the window; ``--mode stream`` (no exchanges): every message the sinks reported."""
    return tally.served if tally.request_reply else tally.requests


def _totals(tally: Tally, spec: RunSpec, seconds: float) -> Totals:
    totals: Totals = {
        "requests": tally.requests,
        "bytes_sent": tally.bytes_sent,
        "bytes_received": tally.bytes_received,
        "throughput_rps": round(_served(tally) / seconds, 3),
        "throughput_bps": round(_payload_bytes(spec, tally) * 8 / seconds, 3),
        "connections": tally.connections,
        "errors": dict(tally.errors),
        "warmup_errors": dict(tally.warmup_errors),
        "clamped_samples": tally.clamped,
        "drain_s": round(tally.drain_ns / 1e9, 6),
    }
    if tally.error_replies:  # the target's reasons for its error replies
        totals["error_replies"] = dict(tally.error_replies)
    if tally.clients_served is not None:
        totals["clients_served"] = tally.clients_served
    if tally.closed_idle:
        totals["closed_idle"] = tally.closed_idle
    return totals


def _by_kind(tally: Tally, seconds: float) -> dict[str, KindTotals]:
    """Each kind's requests, rate and errors (``--protocol redis``: set, get)."""
    in_window = _served_by_kind(tally) if tally.request_reply else tally.requests_by_kind
    found: dict[str, KindTotals] = {}
    for kind in tally.latency_by_kind:
        totals: KindTotals = {
            "requests": tally.requests_by_kind.get(kind, 0),
            "throughput_rps": round(in_window.get(kind, 0) / seconds, 3),
            "errors": dict(tally.errors_by_kind.get(kind, {})),
        }
        if kind in tally.lookups_by_kind:  # a kind that reads keys: each key of a multi-get
            totals["hits"], totals["misses"] = tally.lookups_by_kind[kind]
        found[kind] = totals
    return found


def _accounting(tally: Tally) -> dict[str, Any]:
    """Where every request of the window went; empty for ``--mode stream``."""
    if not tally.request_reply:
        return {}
    return {
        # requests_issued == requests + sum(requests_failed) + in_flight, exactly.
        "requests_issued": tally.issued,
        "requests_failed": dict(sorted(tally.failed.items())),
        "in_flight": tally.in_flight,
        # served - served_from_warmup + drained == requests, exactly.
        "served": tally.served,
        "served_from_warmup": tally.served_from_warmup,
        "drained": tally.drained,
    }


def _rates(
    tally: Tally, spec: RunSpec, seconds: float, round_trip_us: float = 0.0
) -> dict[str, Any]:
    """Open loop: requested, achieved and offered (docs/result.md, *Rates*); churn: the
    connection rate. Achieved is served over what the schedule made due in the window
    (:func:`~sockbench.core.shortfall.requests_due`: ``--rate`` × its length, or for a run
    bounded by ``--requests``, the requests it had up to its end; ``round_trip_us``, the
    replies' p99, is the last reply's allowance there)."""
    rates: dict[str, Any] = {}
    rate = spec.load.rate
    if rate:
        rates["requested_rps"] = rate
        due = requests_due(
            rate, seconds, bounded=spec.load.requests is not None, issued=tally.issued,
            clients=spec.load.clients, round_trip_us=round_trip_us,
            poisson=spec.load.arrival == Arrival.POISSON,
        )  # fmt: skip
        rates["achieved_ratio"] = round(_served(tally) / max(due, 1e-9), 4)
        if tally.request_reply:
            rates["offered_rps"] = round(tally.offered / seconds, 3)
    if spec.load.mode == Workload.CHURN:
        rates["connections_per_s"] = round(tally.connections / seconds, 3)
    return rates


def _row_json(row: IntervalRow) -> Interval:
    return {**row.to_json(), "histogram": row.histogram}


def _served_by_kind(tally: Tally) -> dict[str, int]:
    """Each kind's replies inside the window (its interval rows): its part of the served
    rate, a warm-up request's reply there included, so the kinds add up to the whole."""
    served: dict[str, int] = {}
    for row in tally.intervals:
        for kind in row.by_kind:
            served[kind.kind] = served.get(kind.kind, 0) + kind.requests
    return served


def connect_phase(tally: Tally, clients: int) -> dict[str, Any]:
    """How the clients came up (tcpkali's numbers): ``connect_ramp_s`` from the first
    client's first attempt to the last client's first connection, and the achieved
    ``connect_rate_per_s`` over it. Empty when no client connected."""
    first, last = tally.connect_span
    clients = min(tally.connections, clients)
    if not first or last < first or not clients:
        return {}
    span_s = (last - first) / 1e9
    return {
        "connect_ramp_s": round(span_s, 6),
        # Connections per second between the first and the last: n - 1 gaps over the span.
        "connect_rate_per_s": round((clients - 1) / span_s, 3) if span_s > 0 else None,
    }


def tls_section(
    handshakes: Mapping[str, int], verified: bool, negotiated: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """A TLS run's handshakes (every one that succeeded, counted as ``connect_us`` counts
    connects), what they agreed on, and whether certificates were checked
    (``--tls-insecure``: not)."""
    full, resumed = handshakes.get("full", 0), handshakes.get("resumed", 0)
    return {
        "handshakes": full + resumed,
        "full": full,
        "resumed": resumed,
        "resumed_ratio": round(resumed / (full + resumed), 6) if full + resumed else None,
        "verified": verified,
        "negotiated": dict(sorted((negotiated or {}).items())),
    }


def add_percentiles(doc: dict[str, Any], percentiles: Sequence[float]) -> None:
    """Each histogram summary's ``percentiles``: the ``--percentiles`` asked for, in µs."""
    for summary in doc.values():
        if isinstance(summary, dict) and "histogram" in summary and "count" in summary:
            hist = decode(summary["histogram"])
            summary["percentiles"] = {
                percentile_key(p): int(hist.get_value_at_percentile(p)) if summary["count"] else 0
                for p in percentiles
            }


def add_warnings(doc: dict[str, Any], warnings: list[RunWarning]) -> None:
    """Append to both views of the warnings: sentences for people, records for filters."""
    doc["warnings"].extend(w.text() for w in warnings)
    doc.setdefault("warning_details", []).extend(w.to_json() for w in warnings)


def _payload_bytes(spec: RunSpec, tally: Tally) -> int:
    """Bytes delivered: what came back, or for one-way TCP streams what was written; a
    stream's reads from the server (--reverse, --bidir) add theirs."""
    read = sum(r.window for r in tally.client_reads)
    if spec.load.mode == Workload.STREAM and not tally.bytes_received:
        return tally.bytes_sent + read
    return tally.bytes_received + read


def stream_summary(
    sent: tuple[int, ...],
    received: tuple[int | None, ...],
    seconds: tuple[float, float],
    payload: int,
) -> Stream:
    """Bulk transfer, the iperf3 way: a sender and a receiver side, each with bytes,
    bits/s and messages/s, per stream and in total.

    ``received`` holds what each stream's sink reported (None: not reported);
    ``seconds`` is (sender's, receiver's) duration. ``total_bps`` and the per-client
    spread are of what was delivered: received where every stream reported, else sent.
    """
    known = [r for r in received if r is not None]
    everyone = bool(received) and len(known) == len(received)
    delivered = [r or 0 for r in received] if everyone else list(sent)
    per_client_bps, per_client_mps = per_client_spread(delivered, seconds[0], payload)
    total = sum(delivered)
    return {
        "total_bps": round(total * 8 / seconds[0], 3),
        "total_messages_per_s": round(total / payload / seconds[0], 3),
        "per_client_bps": per_client_bps,
        "per_client_messages_per_s": per_client_mps,
        "sender": side_summary(sum(sent), seconds[0], payload),
        "receiver": side_summary(sum(known), seconds[1], payload) if known else None,
        "streams": len(sent),
        "streams_reported": len(known),
        "per_stream": [
            {"sent_bytes": s, "received_bytes": r} for s, r in zip(sent, received, strict=False)
        ],
    }
