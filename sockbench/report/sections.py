"""What a report says, independent of how it is drawn.

The text, markdown, terminal and HTML renderers differ only in layout, so the
content lives here once, as :class:`Section` values holding already-formatted
strings, for a run and for a compare alike (its repeats, significance and
saturated cells included). Formatting early means every format shows the same
digits; the price is that a renderer cannot re-format a number (the CSV writer,
which wants raw numbers, therefore reads the document itself).

Best values are chosen within each workload (proto, payload, clients): a UDP
cell's p99 is not comparable with a TCP cell's, nor 10 clients with 1000. Only
columns that do not move from run to run (server threads) are marked from a single
run; req/s and latency are marked only from repeats, where the winner is
significantly ahead (:mod:`sockbench.report.verdicts`). A cell whose load
generator saturated is never marked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sockbench.core import significance
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.report import numbers, verdicts
from sockbench.report.document import (
    Doc,
    cell_key,
    cells,
    error_total,
    get,
    is_compare,
    model_name,
    target,
)

Align = Literal["l", "r"]


@dataclass(frozen=True)
class Table:
    """Formatted cells; ``best`` holds the (row, column) positions to highlight and
    ``row_keys`` an optional identifier per row (the HTML report's ``data-cell``)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[Align, ...]
    best: frozenset[tuple[int, int]] = frozenset()
    row_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A titled part of a report: key/value fields, a table and/or a list of items.

    ``note`` explains what a highlighted value means (shown when there is one);
    ``notes`` are always shown, under the table.
    """

    title: str
    fields: tuple[tuple[str, str], ...] = ()
    table: Table | None = None
    items: tuple[str, ...] = ()
    note: str = ""
    #: A stable identifier ("run", "latency", "summary", ...) for renderers that place
    #: sections themselves.
    key: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    """A summary column: how to read its value from a result, format it, and which
    direction is better (None: never highlighted). ``noisy`` columns move between
    runs of the same thing; one run cannot name a best for them."""

    title: str
    value: Callable[[Doc], Any]
    fmt: Callable[[Any], str] = str
    better: Literal["high", "low"] | None = None
    align: Align = "r"
    noisy: bool = True


def _lat(name: str) -> Callable[[Doc], Any]:
    return lambda r: get(r, "latency_us", name)


def _mib(n: float | None) -> str:
    return numbers.DASH if n is None else f"{n / 2**20:.1f}"


def _num1(v: float | None) -> str:
    return numbers.DASH if v is None else f"{v:.1f}"


SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("model", lambda r: cell_key(r).model, align="l"),
    Column("proto", lambda r: cell_key(r).proto, align="l"),
    Column("clients", lambda r: cell_key(r).clients, numbers.fmt_int),
    Column("payload", lambda r: cell_key(r).payload, numbers.fmt_payload),
    Column("req/s", verdicts.REQ_S.value, numbers.fmt_rate, "high"),
    Column("p50", _lat("p50"), numbers.fmt_us, "low"),
    Column("p99", verdicts.P99.value, numbers.fmt_us, "low"),
    Column("p99.9", _lat("p99_9"), numbers.fmt_us, "low"),
    Column("max", _lat("max"), numbers.fmt_us, "low"),
    Column("errors", error_total, numbers.fmt_int, "low"),
    Column("lost", lambda r: get(r, "datagrams", "lost"), numbers.fmt_int, "low"),
    Column("server CPU %", lambda r: get(r, "server_resources", "cpu_percent_mean"), _num1, "low"),
    Column("RSS MiB", lambda r: get(r, "server_resources", "rss_bytes_max"), _mib, "low"),
    Column(
        "threads",
        lambda r: get(r, "server_resources", "threads_max"),
        numbers.fmt_int,
        "low",
        noisy=False,
    ),
)
REPEAT_COLUMN = Column("repeat", lambda r: cell_key(r).repeat, str)
STATUS_COLUMN = Column("status", lambda r: r.get("status") or "?", align="l")
#: The visible marker of a cell that measured the load generator, in every format.
SATURATED = "SATURATED"
GENERATOR_COLUMN = Column(
    "generator", lambda r: SATURATED if verdicts.saturated(r) else "", align="l"
)
#: Words of a saturation warning in results older than ``warning_details``.
SATURATION_WORDS = "load generator"

LATENCY_KINDS: tuple[tuple[str, str], ...] = (
    ("latency", "latency_us"),
    ("connect", "connect_us"),
    ("service time", "service_time_us"),
    ("send lag", "send_lag_us"),
    ("generator lag", "scheduler_lag_us"),
)
LATENCY_FIELDS: tuple[tuple[str, str], ...] = (
    ("min", "min"),
    ("p50", "p50"),
    ("p90", "p90"),
    ("p99", "p99"),
    ("p99.9", "p99_9"),
    ("p99.99", "p99_99"),
    ("max", "max"),
    ("mean", "mean"),
    ("stdev", "stdev"),
)


def summary_columns(results: Sequence[Doc]) -> tuple[Column, ...]:
    """The summary columns, plus repeat/status/generator only when they tell something."""
    columns = list(SUMMARY_COLUMNS)
    if any(cell_key(r).repeat > 1 for r in results):
        columns.insert(4, REPEAT_COLUMN)
    if any((r.get("status") or "completed") != "completed" for r in results):
        columns.append(STATUS_COLUMN)
    if any(verdicts.saturated(r) for r in results):
        columns.append(GENERATOR_COLUMN)
    return tuple(columns)


def in_display_order(results: Sequence[Doc]) -> list[Doc]:
    """Grouped by workload (proto, payload, clients), then model, then repeat."""
    return sorted(
        results,
        key=lambda r: (
            verdicts.workload_order(verdicts.workload_key(r)),
            cell_key(r).model,
            cell_key(r).repeat,
        ),
    )


def summary_table(results: Sequence[Doc]) -> Table:
    """One row per cell, grouped by workload; steady columns' best marked per workload."""
    results = in_display_order(results)
    columns = summary_columns(results)
    raw = [[c.value(r) for c in columns] for r in results]
    groups: dict[verdicts.WorkloadKey, list[int]] = {}
    for i, r in enumerate(results):
        if not verdicts.saturated(r):
            groups.setdefault(verdicts.workload_key(r), []).append(i)
    best: set[tuple[int, int]] = set()
    for members in groups.values():
        for col, column in enumerate(columns):
            if column.better is None or column.noisy:
                continue
            values = [_number(raw[i][col]) for i in members]
            for pos in best_indices(values, column.better == "high"):
                best.add((members[pos], col))
    rows = tuple(tuple(c.fmt(v) for c, v in zip(columns, row, strict=True)) for row in raw)
    return Table(
        headers=tuple(c.title for c in columns),
        rows=rows,
        align=tuple(c.align for c in columns),
        best=frozenset(best),
        row_keys=tuple(cell_key(r).label for r in results),
    )


def best_indices(values: Sequence[float | None], higher_is_better: bool) -> set[int]:
    """Positions holding the best value, or none when there is nothing to choose between
    (fewer than two known values, or all of them equal)."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return set()
    values_known = [v for _, v in known]
    best = max(values_known) if higher_is_better else min(values_known)
    if all(v == best for v in values_known):
        return set()
    return {i for i, v in known if v == best}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _latency_fields(result: Doc) -> list[tuple[str, str]]:
    """The latency columns as (title, field); ``p:KEY`` reads ``percentiles[KEY]``. The
    result's ``--percentiles`` replace the default ones when it recorded them."""
    chosen = list(((result.get("latency_us") or {}).get("percentiles") or {}).keys())
    if not chosen:
        return list(LATENCY_FIELDS)
    return [
        ("min", "min"),
        *((f"p{k}", f"p:{k}") for k in chosen),
        *((t, f) for t, f in LATENCY_FIELDS if t in ("max", "mean", "stdev")),
    ]


def _field(summary: Mapping[str, Any], field: str) -> Any:
    if field.startswith("p:"):
        return (summary.get("percentiles") or {}).get(field[2:])
    return summary.get(field)


def latency_table(result: Doc) -> Table:
    rows: list[tuple[str, ...]] = []
    fields = _latency_fields(result)
    for label, key in LATENCY_KINDS:
        summary = result.get(key)
        if not summary or (not summary.get("count") and key != "latency_us"):
            continue
        values = (numbers.fmt_us(_field(summary, f)) for _, f in fields)
        rows.append((label, numbers.fmt_int(summary.get("count")), *values))
    headers = ("", "count", *(t for t, _ in fields))
    left: Align = "l"
    right: Align = "r"
    align = (left, *([right] * (len(headers) - 1)))
    return Table(headers, tuple(rows), align)


def kind_table(result: Doc) -> Table:
    """One row per kind of request (SET, GET): counts, errors and latency."""
    by_kind: Mapping[str, Any] = get(result, "totals", "by_kind") or {}
    latency: Mapping[str, Any] = result.get("latency_by_kind_us") or {}
    fields = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99.9", "p99_9"), ("max", "max"))
    rows: list[tuple[str, ...]] = []
    for kind, counts in by_kind.items():
        summary = latency.get(kind) or {}
        errors = sum((counts.get("errors") or {}).values())
        rows.append(
            (
                kind,
                numbers.fmt_int(counts.get("requests")),
                numbers.fmt_rate(counts.get("throughput_rps")),
                numbers.fmt_int(errors),
                *(numbers.fmt_us(summary.get(f)) for _, f in fields),
                numbers.fmt_us(summary.get("mean")),
            )
        )
    headers = ("kind", "requests", "req/s", "errors", *(t for t, _ in fields), "mean")
    left: Align = "l"
    right: Align = "r"
    return Table(headers, tuple(rows), (left, *([right] * (len(headers) - 1))))


def _protocol(config: Mapping[str, Any]) -> str:
    name = str(config.get("protocol") or "echo")
    if config.get("ratio") is None:
        return f"protocol {name}"
    sets, gets = config["ratio"]
    return (
        f"protocol {name} SET:GET {sets}:{gets}, {numbers.fmt_int(config.get('key_space'))} "
        f"keys ({config.get('key_pattern')}), {numbers.fmt_payload(config.get('value_size'))} "
        "values"
    )


def _workload(result: Doc) -> str:
    config: Mapping[str, Any] = result.get("config") or {}
    key = cell_key(result)
    mode = config.get("mode") or "echo"
    protocol = config.get("protocol") or "echo"
    # Echo mode with a protocol talks that protocol: the request does not come back.
    parts = [
        key.proto if mode == "echo" and protocol != "echo" else f"{key.proto} {mode}",
        f"{numbers.fmt_int(key.clients)} client{'' if key.clients == 1 else 's'}",
    ]
    if protocol != "echo":
        parts.append(_protocol(config))
    elif config.get("request") is not None:
        parts.append(f"request {_shown(config['request'])}")
        expect, value = config.get("expect") or "echo", config.get("expect_value")
        if expect == "exact":
            parts.append(f"expecting {_shown(value)}")
        elif expect == "size":
            parts.append(f"expecting {value} bytes")
        elif expect == "until":
            parts.append(f"expecting a reply ending {_shown(value)}")
        else:
            parts.append("expecting the request back")
    else:
        parts.append(f"payload {numbers.fmt_payload(key.payload)}")
    if config.get("rate"):
        parts.append(f"open loop at {numbers.fmt_rate(config['rate'])} req/s")
    if (config.get("pipeline") or 1) > 1:
        parts.append(f"pipeline {config['pipeline']}")
    return ", ".join(parts)


def _shown(value: Any) -> str:
    """Request or reply bytes (stored as latin-1 text) as a quoted, escaped literal."""
    text = repr(str(value).encode("latin-1"))[1:]
    return text if len(text) <= 40 else text[:37] + "..."


def _errors(result: Doc) -> str:
    errors: Mapping[str, int] = get(result, "totals", "errors") or {}
    total = error_total(result)
    if not total:
        return "none"
    kinds = ", ".join(f"{k} {numbers.fmt_int(v)}" for k, v in sorted(errors.items()) if v)
    return f"{numbers.fmt_int(total)} ({kinds})"


def _duration(result: Doc) -> str:
    text = f"{result.get('duration_s') or 0:.2f} s measured"
    ramp, warmup = get(result, "config", "ramp_s"), get(result, "config", "warmup_s")
    kept_out = [
        f"{name} {value:g} s" for name, value in (("ramp", ramp), ("warm-up", warmup)) if value
    ]
    return f"{text} ({', '.join(kept_out)})" if kept_out else text


def _connections(totals: Mapping[str, Any]) -> str:
    """``200,000 (up in 3.21 s: 62,305/s)``: the count, and how fast the clients came up."""
    text = numbers.fmt_int(totals.get("connections"))
    ramp, rate = totals.get("connect_ramp_s"), totals.get("connect_rate_per_s")
    if ramp is None:
        return text
    return text + f" (up in {ramp:.2f} s" + (f": {rate:,.0f}/s)" if rate else ")")


def run_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    totals: Mapping[str, Any] = result.get("totals") or {}
    fields = [
        ("status", str(result.get("status") or "?")),
        ("command", str(result.get("command") or "")),
        ("started", str(result.get("started_at") or "?")),
        ("target", target(result)),
        ("server model", model_name(result)),
        ("workload", _workload(result)),
        ("duration", _duration(result)),
    ]
    # A stream's sent and delivered numbers differ; its own section labels each.
    if not result.get("stream"):
        throughput = numbers.fmt_rate(totals.get("throughput_rps")) + " req/s"
        if totals.get("throughput_bps") is not None:
            throughput += f", {numbers.fmt_bps(totals['throughput_bps'])}"
        fields += [
            ("requests", numbers.fmt_int(totals.get("requests"))),
            ("throughput", throughput),
            *_open_loop_rate(totals),
            (
                "bytes",
                f"{numbers.fmt_bytes(totals.get('bytes_sent'))} sent, "
                f"{numbers.fmt_bytes(totals.get('bytes_received'))} received",
            ),
        ]
    fields += [
        ("connections", _connections(totals)),
        ("errors", _errors(result)),
        *_request_accounting(totals),
    ]
    return tuple(fields)


def _open_loop_rate(totals: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``requested 2,000 req/s, sent 770, served 770 (achieved 38.5%)``: who kept up.

    Only where the result says what was sent (results since served rates, issue 25)."""
    offered = totals.get("offered_rps")
    if offered is None:
        return ()
    text = (
        f"requested {numbers.fmt_rate(totals.get('requested_rps'))} req/s, sent "
        f"{numbers.fmt_rate(offered)}, served {numbers.fmt_rate(totals.get('throughput_rps'))}"
        f" (achieved {totals.get('achieved_ratio', 0):.1%})"
    )
    return (("rate", text),)


def _request_accounting(totals: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Every request issued in the window, as the identity it must satisfy."""
    issued = totals.get("requests_issued")
    if issued is None:
        return ()
    failed: Mapping[str, int] = totals.get("requests_failed") or {}
    completed, in_flight = totals.get("requests", 0), totals.get("in_flight", 0)
    text = (
        f"issued {numbers.fmt_int(issued)} = completed {numbers.fmt_int(completed)}"
        f" + failed {numbers.fmt_int(sum(failed.values()))}"
    )
    if in_flight:
        text += f" + in flight {numbers.fmt_int(in_flight)}"
    off = issued - completed - sum(failed.values()) - in_flight
    if off:
        text += f" (does not add up: off by {off:+,})"
    drain = totals.get("drain_s")
    if drain is not None:
        text += f"; drained {drain:.2f} s"
        drained = totals.get("drained")
        if drained:
            text += f" ({numbers.fmt_int(drained)} answered then, not in the rate)"
    return (("accounting", text),)


def datagram_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """UDP accounting, written as the identity it must satisfy."""
    d: Mapping[str, int] | None = result.get("datagrams")
    if not d:
        return ()
    sent, received = d.get("sent", 0), d.get("received", 0)
    lost, in_flight = d.get("lost", 0), d.get("in_flight", 0)
    unfinished = d.get("unfinished", 0)
    identity = (
        f"sent {numbers.fmt_int(sent)} = received {numbers.fmt_int(received)}"
        f" + lost {numbers.fmt_int(lost)}"
    )
    if unfinished:
        identity += f" + unfinished {numbers.fmt_int(unfinished)}"
    identity += f" + in flight {numbers.fmt_int(in_flight)}"
    off = sent - (received + lost + unfinished + in_flight)
    if off:
        identity += f" (does not add up: off by {off:+,})"
    loss = f"{100.0 * lost / sent:.3f} %" if sent else numbers.DASH
    return (
        ("accounting", identity),
        ("loss", loss),
        (
            "anomalies",
            f"duplicates {numbers.fmt_int(d.get('duplicates', 0))}, "
            f"reordered {numbers.fmt_int(d.get('reordered', 0))}, "
            f"late {numbers.fmt_int(d.get('late', 0))}",
        ),
    )


def resource_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    server: Mapping[str, Any] | None = result.get("server_resources")
    if server:
        fields.append(
            (
                "server",
                f"CPU {numbers.fmt_percent(server.get('cpu_percent_mean'))} mean, "
                f"{numbers.fmt_percent(server.get('cpu_percent_max'))} max; "
                f"RSS {numbers.fmt_bytes(server.get('rss_bytes_max'))}; "
                f"{_plural(server.get('threads_max'), 'thread')}; "
                f"{_plural(server.get('fds_max'), 'fd')}",
            )
        )
    gen: Mapping[str, Any] | None = result.get("generator")
    if gen:
        text = (
            f"CPU {numbers.fmt_percent(gen.get('cpu_percent_mean'))} mean, "
            f"{numbers.fmt_percent(gen.get('cpu_percent_max'))} max over "
            f"{_plural(gen.get('workers'), 'worker')}"
        )
        if gen.get("saturated"):
            text += f"; {SATURATED} (see the warning)"
        fields.append(("generator", text))
    return tuple(fields)


def node_table(result: Doc) -> Table | None:
    """One row per cluster node the generator ran on (``generator.nodes``), if any."""
    nodes: Sequence[Mapping[str, Any]] = get(result, "generator", "nodes") or ()
    if not nodes:
        return None
    rows = tuple(
        (
            str(n["node_id"])[:8],
            str(n["host"]),
            numbers.fmt_int(n["workers"])
            + (f" ({n['failed_workers']} died)" if n.get("failed_workers") else ""),
            numbers.fmt_int(n["clients"]),
            numbers.fmt_int(n["requests"]),
            numbers.fmt_int(n["errors"]),
            numbers.fmt_percent(n.get("cpu_percent_mean"))
            + (f" {SATURATED}" if n.get("saturated") else ""),
            numbers.fmt_bytes(n.get("rss_bytes_max")),
            f"{n['clock_offset_us']:+.0f}±{n['clock_uncertainty_us']:.0f}",
        )
        for n in nodes
    )
    headers = ("node", "host", "workers", "clients", "requests", "errors", "CPU", "RSS",
               "clock µs")  # fmt: skip
    align: tuple[Align, ...] = ("l", "l", *(("r",) * 7))
    return Table(headers, rows, align)


def _plural(n: int | None, noun: str) -> str:
    return f"{numbers.fmt_int(n)} {noun}{'' if n == 1 else 's'}"


def environment_fields(doc: Doc) -> tuple[tuple[str, str], ...]:
    env: Mapping[str, Any] = doc.get("environment") or {}
    load = env.get("loadavg")
    versions = ", ".join(
        f"{name} {env[name]}" for name in ("sockbench", "trio", "hdrhistogram") if env.get(name)
    )
    cpu = str(env.get("cpu_model") or "?")
    if env.get("cpu_count"):
        cpu += f" ({env['cpu_count']} CPUs)"
    return (
        ("host", str(env.get("hostname") or "?")),
        ("os", " ".join(str(env[k]) for k in ("os", "kernel") if env.get(k)) or "?"),
        ("python", str(env.get("python") or "?")),
        ("cpu", cpu),
        ("load average", " ".join(f"{x:.2f}" for x in load) if load else numbers.DASH),
        ("versions", versions or numbers.DASH),
    )


def stream_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """Bulk transfer, the iperf3 way: a sender line and a receiver line, each with its
    own bytes, bit rate and message rate, then the spread of the rate over streams.

    The receiver line is the sink's own count: the server tells each stream what it
    read (TCP and Unix streams when they half-close, datagrams on request; see
    :mod:`sockbench.core.sink_report`). A server that does not report (an external
    one) leaves it "not reported" rather than "0 B".
    """
    s: Mapping[str, Any] = result["stream"]
    if "sender" not in s:
        return _old_stream_fields(result)
    sender, receiver = s["sender"], s.get("receiver")
    fields = [("sender", _side(sender))]
    if receiver is None:
        fields.append(("receiver", "not reported: the server does not count what it read"))
    else:
        text = _side(receiver)
        if s.get("streams_reported", 0) < s.get("streams", 0):
            text += f" ({s['streams_reported']} of {s['streams']} streams reported)"
        fields.append(("receiver", text))
    return tuple(fields + _spread(s, "received" if receiver is not None else "sent"))


def _side(side: Mapping[str, Any]) -> str:
    """``8 GiB, 9.1 Gbit/s, 139,000 msg/s over 1.00 s`` for one side of a stream."""
    return (
        f"{numbers.fmt_bytes(side['bytes'])}, {numbers.fmt_bps(side['bps'])}, "
        f"{numbers.fmt_rate(side['messages_per_s'])} msg/s over {side['seconds']:.2f} s"
    )


def _spread(s: Mapping[str, Any], side: str) -> list[tuple[str, str]]:
    bps, mps = s["per_client_bps"], s["per_client_messages_per_s"]
    return [
        (
            f"per client ({side})",
            f"min {numbers.fmt_bps(bps['min'])}, median {numbers.fmt_bps(bps['median'])}, "
            f"max {numbers.fmt_bps(bps['max'])}",
        ),
        (
            f"msg/s per client ({side})",
            f"min {numbers.fmt_rate(mps['min'])}, median {numbers.fmt_rate(mps['median'])}, "
            f"max {numbers.fmt_rate(mps['max'])}",
        ),
    ]


PER_STREAM_ROWS = 16  # iperf3 lists every stream; beyond this the spread says enough


def stream_table(result: Doc) -> Table | None:
    """One row per stream and a total, sender and receiver side by side (iperf3's
    ``[ 5]`` ... ``[SUM]`` lines); None for results without them or too many streams."""
    s: Mapping[str, Any] = result["stream"]
    per_stream = s.get("per_stream")
    if not per_stream or len(per_stream) > PER_STREAM_ROWS:
        return None
    sender, receiver = s["sender"], s.get("receiver") or {}

    def row(name: str, sent: int, got: int | None) -> tuple[str, ...]:
        return (
            name,
            numbers.fmt_bytes(sent),
            numbers.fmt_bps(sent * 8 / sender["seconds"]) if sender["seconds"] else numbers.DASH,
            numbers.fmt_bytes(got) if got is not None else numbers.DASH,
            numbers.fmt_bps(got * 8 / receiver["seconds"])
            if got is not None and receiver.get("seconds")
            else numbers.DASH,
        )

    rows = [row(str(i), p["sent_bytes"], p["received_bytes"]) for i, p in enumerate(per_stream)]
    rows.append(row("total", sender["bytes"], receiver.get("bytes")))
    return Table(
        headers=("stream", "sent", "sender bit/s", "received", "receiver bit/s"),
        rows=tuple(rows),
        align=("l", "r", "r", "r", "r"),
    )


def _old_stream_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """Results saved before the sink reported streams: the sender line from the totals."""
    s: Mapping[str, Any] = result["stream"]
    totals: Mapping[str, Any] = result.get("totals") or {}
    seconds = float(result.get("duration_s") or 0.0)
    payload = get(result, "config", "payload")
    datagrams: Mapping[str, Any] = result.get("datagrams") or {}
    sent_bytes = totals.get("bytes_sent")
    sent_messages = datagrams.get("sent") if datagrams else _messages(sent_bytes, payload)
    fields = [("sender", _transfer(sent_bytes, sent_messages, seconds))]
    if datagrams:
        received = _transfer(totals.get("bytes_received"), datagrams.get("received"), seconds)
        fields.append(("receiver", received))
    else:
        fields.append(("receiver", "not reported: a TCP sink does not count what it read"))
    return tuple(fields + _spread(s, "received" if datagrams else "sent"))


def _messages(n_bytes: Any, payload: Any) -> int | None:
    if not isinstance(n_bytes, int) or not isinstance(payload, int) or payload <= 0:
        return None
    return n_bytes // payload


def _transfer(n_bytes: Any, messages: Any, seconds: float) -> str:
    """``8 GiB, 9.1 Gbit/s, 139,000 msg/s`` for one side of a stream."""
    if seconds <= 0 or n_bytes is None:
        return f"{numbers.fmt_bytes(n_bytes)}"
    rate = numbers.fmt_rate(messages / seconds) if messages is not None else numbers.DASH
    return f"{numbers.fmt_bytes(n_bytes)}, {numbers.fmt_bps(n_bytes * 8 / seconds)}, {rate} msg/s"


def run_sections(result: Doc) -> list[Section]:
    out = [Section("Run", key="run", fields=run_fields(result))]
    if result.get("stream"):
        out.append(
            Section(
                "Stream", key="stream", fields=stream_fields(result), table=stream_table(result)
            )
        )
    if result.get("datagrams"):
        out.append(Section("Datagrams", key="datagrams", fields=datagram_fields(result)))
    if (result.get("latency_us") or {}).get("count") or not result.get("stream"):
        out.append(Section("Latency", key="latency", table=latency_table(result)))
    if get(result, "totals", "by_kind"):
        out.append(Section("Commands", key="commands", table=kind_table(result)))
    resources = resource_fields(result)
    if resources:
        out.append(Section("Resources", key="resources", fields=resources))
    if result.get("checks"):
        out.append(checks_section([("", result)]))
    nodes = node_table(result)
    if nodes is not None:
        out.append(Section("Nodes", key="nodes", table=nodes))
    if result.get("warnings"):
        out.append(
            Section("Warnings", key="warnings", items=tuple(str(w) for w in result["warnings"]))
        )
    out.append(Section("Environment", key="environment", fields=environment_fields(result)))
    return out


NOISE_NOTE = (
    "req/s and latency carry no best mark: {why}; run with --repeat 3 or more and the "
    "Significance section names a winner where it is ahead by more than noise"
)
SATURATION_ADVICE = (
    "these cells measured the load generator, not the server: it ran out of CPU. "
    "Give it more --workers (and --client-cpus), use fewer --clients, or a lower rate, "
    "before reading them as the server's numbers; they are never marked best"
)


def checks_section(results: Sequence[tuple[str, Doc]]) -> Section:
    """``--check`` outcomes, each with its measured value; ``results`` are (label, result)."""
    labelled = any(label for label, _ in results)
    rows = tuple(
        ((label,) if labelled else ())
        + (str(c["expr"]), str(c.get("measured", c["value"])), "pass" if c["passed"] else "FAIL")
        for label, result in results
        for c in result.get("checks") or ()
    )
    failed = sum(row[-1] == "FAIL" for row in rows)
    headers = (("cell",) if labelled else ()) + ("check", "measured", "result")
    left: tuple[Align, ...] = ("l",)
    align = left * (len(headers) - 2) + ("r", "l")
    return Section(
        "Checks",
        key="checks",
        table=Table(headers, rows, align),
        note=f"{failed} of {len(rows)} failed" if failed else f"all {len(rows)} passed",
    )


def compare_sections(doc: Doc) -> list[Section]:
    results = cells(doc)
    models = sorted({model_name(r) for r in results})
    protos = sorted({cell_key(r).proto for r in results})
    repeats = max((cell_key(r).repeat for r in results), default=0)
    notes = []
    if repeats < significance.MIN_SAMPLES:
        why = (
            "one run per cell cannot tell a difference from noise"
            if repeats <= 1
            else f"{repeats} repeats are too few to tell a difference from noise"
        )
        notes.append(NOISE_NOTE.format(why=why))
    else:
        notes.append("req/s and latency: see Significance for which differences are real")
    out = [
        Section(
            "Compare",
            key="compare",
            fields=(
                ("command", str(doc.get("command") or "")),
                ("created", str(doc.get("created_at") or "?")),
                ("cells", str(len(results))),
                ("models", ", ".join(models) or numbers.DASH),
                ("protos", ", ".join(protos) or numbers.DASH),
            ),
        ),
        Section(
            "Summary",
            key="summary",
            table=summary_table(results),
            note="fewest server threads within each proto/payload/clients group",
            notes=tuple(notes),
        ),
    ]
    commands: Mapping[str, str] = get(doc, "plan", "commands") or {}
    if commands:  # --model NAME=CMD: what each external model ran
        out.append(Section("Server commands", key="commands", fields=tuple(commands.items())))
    if repeats >= 2:
        out.append(significance_section(results))
    saturation = saturation_section(results)
    if saturation is not None:
        out.append(saturation)
    warnings = tuple(
        f"[{cell_key(r).label}] {w}"
        for r in in_display_order(results)
        for w in (r.get("warnings") or [])
        if str(w) not in _saturation_warnings(r)
    )
    if any(r.get("checks") for r in results):
        out.append(checks_section([(cell_key(r).label, r) for r in results]))
    if warnings:
        out.append(Section("Warnings", key="warnings", items=warnings))
    out.append(Section("Environment", key="environment", fields=environment_fields(doc)))
    return out


def _saturation_warnings(result: Doc) -> set[str]:
    """The text of a cell's saturation warning(s): a compare shows one notice instead.

    Read from ``warning_details`` (kind ``generator_saturated``) when the result has
    them; older results are matched on their words.
    """
    if not verdicts.saturated(result):
        return set()
    details: list[Mapping[str, Any]] | None = result.get("warning_details")
    if details is None:
        return {str(w) for w in result.get("warnings") or [] if SATURATION_WORDS in str(w)}
    return {
        RunWarning(WarningKind(d["kind"]), d["message"], d.get("advice") or "").text()
        for d in details
        if d.get("kind") == WarningKind.GENERATOR_SATURATED
    }


def _interval(values: Sequence[float], fmt: Callable[[Any], str]) -> tuple[str, str]:
    found = significance.mean_interval(values)
    if found is None:
        return numbers.DASH, numbers.DASH
    low, high = fmt(found.low), fmt(found.high)
    return fmt(found.mean), low if low == high else f"{low} – {high}"


def significance_section(results: Sequence[Doc]) -> Section:
    """Per workload and model: mean and 95 % interval of req/s and p99 over the
    repeats, and which model, if any, is significantly best."""
    headers = (
        "model", "proto", "clients", "payload", "runs",
        "req/s", "req/s 95% CI", "p99", "p99 95% CI", "significance",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = []
    best: set[tuple[int, int]] = set()
    for (proto, _, clients), models in verdicts.by_workload(results).items():
        outcomes = [verdicts.decide(models, m) for m in verdicts.METRICS]
        for model, members in models.items():
            done = [r for r in members if verdicts.completed(r)]
            runs = str(len(done)) + ("" if len(done) == len(members) else f" of {len(members)}")
            rps = _interval(verdicts.samples(members, verdicts.REQ_S), numbers.fmt_rate)
            p99 = _interval(verdicts.samples(members, verdicts.P99), numbers.fmt_us)
            if any(verdicts.saturated(r) for r in members):
                verdict = f"{SATURATED}: not ranked"
            else:
                verdict = "; ".join(
                    text for o in outcomes if o.leader == model and (text := verdicts.describe(o))
                )
            for o, col in zip(outcomes, (5, 7), strict=True):
                if o.leader == model and o.significant:
                    best.add((len(rows), col))
            payload = numbers.fmt_payload(cell_key(members[0]).payload)
            rows.append(
                (model, proto, numbers.fmt_int(clients), payload, runs, *rps, *p99, verdict)
            )
    table = Table(
        headers=headers,
        rows=tuple(rows),
        align=("l", "l", "r", "r", "r", "r", "r", "r", "r", "l"),
        best=frozenset(best),
    )
    return Section(
        "Significance",
        key="significance",
        table=table,
        note="significantly best req/s or p99 of its workload (95 %)",
        notes=(
            "mean over completed repeats with its 95 % Student t interval; a leader is best "
            "only when its ratio to the runner-up stays above 1 at 95 % (docs/reports.md)",
        ),
    )


def saturation_section(results: Sequence[Doc]) -> Section | None:
    """The one notice naming every cell that measured the load generator."""
    found = [r for r in in_display_order(results) if verdicts.saturated(r)]
    if not found:
        return None
    repeats = max(cell_key(r).repeat for r in results) > 1
    items = []
    for r in found:
        key = cell_key(r)
        label = (
            f"{key.model} {key.proto} {numbers.fmt_payload(key.payload)} {key.clients:,} clients"
        )
        if repeats:
            label += f" (repeat {key.repeat})"
        cpu = numbers.fmt_percent(get(r, "generator", "cpu_percent_mean"))
        workers = get(r, "generator", "workers")
        items.append(f"{label}: generator CPU {cpu} mean with {workers} worker(s)")
    return Section(
        "Generator saturated",
        key="saturation",
        fields=(("cells", f"{len(found)} of {len(results)}"), ("meaning", SATURATION_ADVICE)),
        items=tuple(items),
    )


def sections(doc: Doc) -> list[Section]:
    """The report of a run result or a compare document, section by section."""
    return compare_sections(doc) if is_compare(doc) else run_sections(doc)
