"""The result document (schema ``sockbench.result/1``), built from merged tallies (pure).

docs/result.md describes every key and docs/result.schema.json validates them.
Later versions add keys; they never change or remove the ones here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sockbench import __version__
from sockbench.core.checks import evaluate, parse_check
from sockbench.core.forecast import measured_warnings
from sockbench.core.histogram import decode, summarize
from sockbench.core.intervals import IntervalRow
from sockbench.core.kinds import Workload
from sockbench.core.schemas import RESULT_SCHEMA as SCHEMA
from sockbench.core.shortfall import SEND_LAG_P99_MAX_US, rate_shortfall
from sockbench.core.status import RunStatus
from sockbench.core.tally import Tally
from sockbench.core.units import DEFAULT_PERCENTILES, percentile_key
from sockbench.core.warning import RunWarning, WarningKind


def build_result(
    *,
    config: dict[str, Any],
    command: str,
    environment: dict[str, Any],
    server: dict[str, Any],
    started_at: str,
    duration_s: float,
    status: str,
    tally: Tally,
    warnings: list[RunWarning],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status = RunStatus(status)  # ValueError for an unknown one
    seconds = max(duration_s, 1e-9)
    # Request/reply workloads: the rate is what the target served inside the window.
    # --mode stream counts messages the sinks reported (issued None): all of them.
    exchanges = tally.issued is not None
    served = tally.served if exchanges else tally.requests
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "sockbench_version": __version__,
        "started_at": started_at,
        "duration_s": round(duration_s, 6),
        "interrupted": status not in (RunStatus.COMPLETED, RunStatus.DEGRADED),
        "status": status.value,
        "command": command,
        "config": config,
        "environment": environment,
        "server": server,
        "totals": {
            "requests": tally.requests,
            "bytes_sent": tally.bytes_sent,
            "bytes_received": tally.bytes_received,
            "throughput_rps": round(served / seconds, 3),
            "throughput_bps": round(_payload_bytes(config, tally) * 8 / seconds, 3),
            "connections": tally.connections,
            "errors": dict(tally.errors),
            "warmup_errors": dict(tally.warmup_errors),
            "clamped_samples": tally.clamped,
            "drain_s": round(tally.drain_ns / 1e9, 6),
        },
        "datagrams": tally.datagrams.to_json() if tally.datagrams is not None else None,
        "latency_us": summarize(decode(tally.latency)).to_json(),
        "connect_us": summarize(decode(tally.connect)).to_json(),
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
        in_window = _served_by_kind(tally) if exchanges else tally.requests_by_kind
        doc["totals"]["by_kind"] = {
            kind: {
                "requests": tally.requests_by_kind.get(kind, 0),
                "throughput_rps": round(in_window.get(kind, 0) / seconds, 3),
                "errors": dict(tally.errors_by_kind.get(kind, {})),
            }
            for kind in tally.latency_by_kind
        }
    add_percentiles(doc, config.get("percentiles") or DEFAULT_PERCENTILES)
    if tally.issued is not None:
        # requests_issued == requests + sum(requests_failed) + in_flight, exactly.
        doc["totals"]["requests_issued"] = tally.issued
        doc["totals"]["requests_failed"] = dict(sorted(tally.failed.items()))
        doc["totals"]["in_flight"] = tally.in_flight
        # served - served_from_warmup + drained == requests, exactly.
        doc["totals"]["served"] = tally.served
        doc["totals"]["served_from_warmup"] = tally.served_from_warmup
        doc["totals"]["drained"] = tally.drained
    doc["intervals"] = [_row_json(row) for row in tally.intervals]
    if tally.drain_interval is not None:
        doc["drain_interval"] = _row_json(tally.drain_interval)
    rate = config.get("rate")
    if rate:
        doc["totals"]["requested_rps"] = rate
        doc["totals"]["achieved_ratio"] = round(served / seconds / rate, 4)
        if exchanges:
            doc["totals"]["offered_rps"] = round(tally.offered / seconds, 3)
    if config.get("mode") == Workload.CHURN:
        doc["totals"]["connections_per_s"] = round(tally.connections / seconds, 3)
    doc["totals"].update(connect_phase(tally, config))
    if tally.client_bytes:
        # A stream's receiver read the window's bytes by the time its report came, in the
        # drain (iperf3's receiver line also runs past the sender's); datagrams that
        # arrive after the window are not the window's.
        drained = tally.drain_ns / 1e9 if tally.datagrams is None else 0.0
        doc["stream"] = stream_summary(
            tally.client_bytes,
            tally.client_received,
            (seconds, seconds + drained),
            config.get("payload", 1),
        )
    if extra:
        doc.update(extra)
    add_warnings(doc, [*warnings, *rate_warnings(doc), *measured_warnings(doc)])
    if config.get("checks"):
        checks = [parse_check(expr) for expr in config["checks"]]
        doc["checks"] = [c.to_json() for c in evaluate(checks, doc)]
    return doc


def _row_json(row: IntervalRow) -> dict[str, Any]:
    return {**row.to_json(), "histogram": row.histogram}


def _served_by_kind(tally: Tally) -> dict[str, int]:
    """Each kind's measured requests answered inside the window (its interval rows)."""
    served: dict[str, int] = {}
    for row in tally.intervals:
        for kind in row.by_kind:
            served[kind.kind] = served.get(kind.kind, 0) + kind.requests
    return served


def connect_phase(tally: Tally, config: Mapping[str, Any]) -> dict[str, Any]:
    """How the clients came up (tcpkali's numbers): ``connect_ramp_s`` from the first
    client's first attempt to the last client's first connection, and the achieved
    ``connect_rate_per_s`` over it. Empty when no client connected."""
    first, last = tally.connect_span
    clients = min(tally.connections, int(config.get("clients") or tally.connections))
    if not first or last < first or not clients:
        return {}
    span_s = (last - first) / 1e9
    return {
        "connect_ramp_s": round(span_s, 6),
        # Connections per second between the first and the last: n - 1 gaps over the span.
        "connect_rate_per_s": round((clients - 1) / span_s, 3) if span_s > 0 else None,
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


def _payload_bytes(config: dict[str, Any], tally: Tally) -> int:
    """Bytes delivered: what came back, or for one-way TCP streams what was written."""
    if config.get("mode") == Workload.STREAM and not tally.bytes_received:
        return tally.bytes_sent
    return tally.bytes_received


def stream_summary(
    sent: tuple[int, ...],
    received: tuple[int | None, ...],
    seconds: tuple[float, float],
    payload: int,
) -> dict[str, Any]:
    """Bulk transfer, the iperf3 way: a sender and a receiver side, each with bytes,
    bits/s and messages/s, per stream and in total.

    ``received`` holds what each stream's sink reported (None: not reported);
    ``seconds`` is (sender's, receiver's) duration. ``total_bps`` and the per-client
    spread are of what was delivered: received where every stream reported, else sent.
    """
    known = [r for r in received if r is not None]
    everyone = bool(received) and len(known) == len(received)
    delivered = [r or 0 for r in received] if everyone else list(sent)
    rates = sorted(b * 8 / seconds[0] for b in delivered)
    n = len(rates)
    median = rates[n // 2] if n % 2 else (rates[n // 2 - 1] + rates[n // 2]) / 2
    total = sum(delivered)
    return {
        "total_bps": round(total * 8 / seconds[0], 3),
        "total_messages_per_s": round(total / payload / seconds[0], 3),
        "per_client_bps": {
            "min": round(rates[0], 3),
            "median": round(median, 3),
            "max": round(rates[-1], 3),
        },
        "per_client_messages_per_s": {
            "min": round(rates[0] / 8 / payload, 3),
            "median": round(median / 8 / payload, 3),
            "max": round(rates[-1] / 8 / payload, 3),
        },
        "sender": _side(sum(sent), seconds[0], payload),
        "receiver": _side(sum(known), seconds[1], payload) if known else None,
        "streams": len(sent),
        "streams_reported": len(known),
        "per_stream": [
            {"sent_bytes": s, "received_bytes": r} for s, r in zip(sent, received, strict=False)
        ],
    }


def _side(nbytes: int, seconds: float, payload: int) -> dict[str, Any]:
    return {
        "bytes": nbytes,
        "seconds": round(seconds, 6),
        "bps": round(nbytes * 8 / seconds, 3),
        "messages_per_s": round(nbytes / payload / seconds, 3),
    }


def rate_warnings(doc: dict[str, Any]) -> list[RunWarning]:
    """Open-loop warnings: the schedule was not kept (pure, from a built result)."""
    warnings: list[RunWarning] = []
    if doc["status"] in (RunStatus.COMPLETED, RunStatus.DEGRADED):
        shortfall = rate_shortfall(doc)
        if shortfall is not None:
            warnings.append(shortfall)
    lag = doc.get("scheduler_lag_us") or doc.get("send_lag_us")
    if lag and lag["p99"] > SEND_LAG_P99_MAX_US:
        warnings.append(
            RunWarning(
                WarningKind.SENT_LATE,
                f"the generator sent late: p99 {lag['p99'] / 1000:.1f} ms behind schedule while "
                "it could have sent, so latencies include its own delay",
                "add --workers, or lower --rate",
            )
        )
    return warnings


def run_warnings(
    tally: Tally,
    status: str,
    failed_workers: list[int] | None = None,
    nodes: Mapping[int, str] | None = None,
) -> list[RunWarning]:
    """Warnings that follow from the numbers alone, each with advice.

    ``nodes`` names the cluster node each worker ran on, to say where one died.
    """
    warnings: list[RunWarning] = []
    if failed_workers:
        names = ", ".join(
            f"{i} on node {nodes[i]}" if nodes and i in nodes else str(i) for i in failed_workers
        )
        warnings.append(
            RunWarning(
                WarningKind.WORKER_DIED,
                f"worker(s) {names} died during the run",
                "their clients are missing from the numbers",
            )
        )
    if status == RunStatus.INTERRUPTED:
        warnings.append(
            RunWarning(
                WarningKind.INTERRUPTED,
                "the run was interrupted",
                "numbers cover the part that ran",
            )
        )
    elif status == RunStatus.SERVER_DIED:
        warnings.append(
            RunWarning(
                WarningKind.SERVER_DIED,
                "the server process died during the run",
                "numbers cover the time before",
            )
        )
    if tally.requests == 0:
        warnings.append(
            RunWarning(
                WarningKind.NOTHING_MEASURED,
                "no request completed in the measurement window",
                "check the target and --timeout",
            )
        )
    if tally.clamped:
        warnings.append(
            RunWarning(
                WarningKind.CLAMPED,
                f"{tally.clamped} samples fell outside 1 µs..60 s and were clamped into that range",
            )
        )
    ports = tally.errors.get("no_ephemeral_port", 0) + tally.warmup_errors.get(
        "no_ephemeral_port", 0
    )
    if ports:
        warnings.append(
            RunWarning(
                WarningKind.EPHEMERAL_PORTS,
                f"ran out of ephemeral ports {ports} times (EADDRNOTAVAIL): closed connections "
                "hold their port in TIME_WAIT for 60 s",
                "spread clients over more addresses with --source-ips 127.0.0.2-127.0.0.9, "
                "widen net.ipv4.ip_local_port_range, or lower the connection rate",
            )
        )
    if tally.datagrams is not None and not tally.datagrams.balanced:
        warnings.append(
            RunWarning(
                WarningKind.UNBALANCED,
                "datagram accounting does not balance",
                "please report this as a bug",
            )
        )
    if not tally.balanced:
        warnings.append(
            RunWarning(
                WarningKind.UNBALANCED,
                "request accounting does not balance",
                "please report this as a bug",
            )
        )
    if tally.in_flight:
        warnings.append(
            RunWarning(
                WarningKind.IN_FLIGHT,
                f"{tally.in_flight} requests were still in flight when the run stopped "
                "early; their outcome is unknown",
            )
        )
    unfinished = tally.failed.get("unfinished", 0)
    if unfinished:
        warnings.append(
            RunWarning(
                WarningKind.UNFINISHED,
                f"{unfinished} requests were still open when --drain ended, before their "
                "--timeout; they are counted as 'unfinished'",
                "drop --drain (it defaults to --timeout) to follow every request to its end",
            )
        )
    return warnings
