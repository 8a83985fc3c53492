"""What a report says, independent of how it is drawn.

The text, markdown, terminal and HTML renderers differ only in layout, so the
content lives here once, as :class:`Section` values holding already-formatted
strings. Formatting early means every format shows the same digits; the price is
that a renderer cannot re-format a number (the CSV writer, which wants raw numbers,
therefore reads the document itself).

Best values in the compare summary are chosen within each (proto, payload,
clients) group: a UDP cell's p99 is not comparable with a TCP cell's, nor 10
clients with 1000, and highlighting across them would point at the workload, not
at the best server model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sockbench.report import stats
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
    """Formatted cells; ``best`` holds the (row, column) positions to highlight."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[Align, ...]
    best: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class Section:
    """A titled part of a report: key/value fields, a table and/or a list of items."""

    title: str
    fields: tuple[tuple[str, str], ...] = ()
    table: Table | None = None
    items: tuple[str, ...] = ()
    note: str = ""
    #: A stable identifier ("run", "latency", "summary", ...) for renderers that place
    #: sections themselves.
    key: str = ""


@dataclass(frozen=True)
class Column:
    """A summary column: how to read its value from a result, format it, and which
    direction is better (None: never highlighted)."""

    title: str
    value: Callable[[Doc], Any]
    fmt: Callable[[Any], str] = str
    better: Literal["high", "low"] | None = None
    align: Align = "r"


def _lat(name: str) -> Callable[[Doc], Any]:
    return lambda r: get(r, "latency_us", name)


def _mib(n: float | None) -> str:
    return stats.DASH if n is None else f"{n / 2**20:.1f}"


def _num1(v: float | None) -> str:
    return stats.DASH if v is None else f"{v:.1f}"


SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("model", lambda r: cell_key(r).model, align="l"),
    Column("proto", lambda r: cell_key(r).proto, align="l"),
    Column("clients", lambda r: cell_key(r).clients, stats.fmt_int),
    Column("payload", lambda r: cell_key(r).payload, stats.fmt_payload),
    Column("req/s", lambda r: get(r, "totals", "throughput_rps"), stats.fmt_rate, "high"),
    Column("p50", _lat("p50"), stats.fmt_us, "low"),
    Column("p99", _lat("p99"), stats.fmt_us, "low"),
    Column("p99.9", _lat("p99_9"), stats.fmt_us, "low"),
    Column("max", _lat("max"), stats.fmt_us, "low"),
    Column("errors", error_total, stats.fmt_int, "low"),
    Column("lost", lambda r: get(r, "datagrams", "lost"), stats.fmt_int, "low"),
    Column("server CPU %", lambda r: get(r, "server_resources", "cpu_percent_mean"), _num1, "low"),
    Column("RSS MiB", lambda r: get(r, "server_resources", "rss_bytes_max"), _mib, "low"),
    Column("threads", lambda r: get(r, "server_resources", "threads_max"), stats.fmt_int, "low"),
)
REPEAT_COLUMN = Column("repeat", lambda r: cell_key(r).repeat, str)
STATUS_COLUMN = Column("status", lambda r: r.get("status") or "?", align="l")

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
    """The summary columns, plus repeat/status only when they tell something."""
    columns = list(SUMMARY_COLUMNS)
    if any(cell_key(r).repeat for r in results):
        columns.insert(4, REPEAT_COLUMN)
    if any((r.get("status") or "completed") != "completed" for r in results):
        columns.append(STATUS_COLUMN)
    return tuple(columns)


def group_key(result: Doc) -> tuple[str, str, int]:
    key = cell_key(result)
    return key.proto, str(key.payload), key.clients


def summary_table(results: Sequence[Doc]) -> Table:
    """One row per cell, best value per column highlighted within comparable groups."""
    columns = summary_columns(results)
    raw = [[c.value(r) for c in columns] for r in results]
    groups: dict[tuple[str, str, int], list[int]] = {}
    for i, r in enumerate(results):
        groups.setdefault(group_key(r), []).append(i)
    best: set[tuple[int, int]] = set()
    for members in groups.values():
        for col, column in enumerate(columns):
            if column.better is None:
                continue
            values = [_number(raw[i][col]) for i in members]
            for pos in stats.best_indices(values, column.better == "high"):
                best.add((members[pos], col))
    rows = tuple(tuple(c.fmt(v) for c, v in zip(columns, row, strict=True)) for row in raw)
    return Table(
        headers=tuple(c.title for c in columns),
        rows=rows,
        align=tuple(c.align for c in columns),
        best=frozenset(best),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def latency_table(result: Doc) -> Table:
    rows: list[tuple[str, ...]] = []
    for label, key in LATENCY_KINDS:
        summary = result.get(key)
        if not summary or (not summary.get("count") and key != "latency_us"):
            continue
        values = (stats.fmt_us(summary.get(f)) for _, f in LATENCY_FIELDS)
        rows.append((label, stats.fmt_int(summary.get("count")), *values))
    headers = ("", "count", *(t for t, _ in LATENCY_FIELDS))
    left: Align = "l"
    right: Align = "r"
    align = (left, *([right] * (len(headers) - 1)))
    return Table(headers, tuple(rows), align)


def _workload(result: Doc) -> str:
    config: Mapping[str, Any] = result.get("config") or {}
    key = cell_key(result)
    parts = [f"{key.proto} {config.get('mode') or 'echo'}", f"{stats.fmt_int(key.clients)} clients"]
    if config.get("request") is not None:
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
        parts.append(f"payload {stats.fmt_payload(key.payload)}")
    if config.get("rate"):
        parts.append(f"open loop at {stats.fmt_rate(config['rate'])} req/s")
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
    kinds = ", ".join(f"{k} {stats.fmt_int(v)}" for k, v in sorted(errors.items()) if v)
    return f"{stats.fmt_int(total)} ({kinds})"


def _duration(result: Doc) -> str:
    text = f"{result.get('duration_s') or 0:.2f} s measured"
    warmup = get(result, "config", "warmup_s")
    return f"{text} (warm-up {warmup:g} s)" if warmup else text


def run_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    totals: Mapping[str, Any] = result.get("totals") or {}
    throughput = stats.fmt_rate(totals.get("throughput_rps")) + " req/s"
    if totals.get("throughput_bps") is not None:
        throughput += f", {stats.fmt_bps(totals['throughput_bps'])}"
    return (
        ("status", str(result.get("status") or "?")),
        ("command", str(result.get("command") or "")),
        ("started", str(result.get("started_at") or "?")),
        ("target", target(result)),
        ("server model", model_name(result)),
        ("workload", _workload(result)),
        ("duration", _duration(result)),
        ("requests", stats.fmt_int(totals.get("requests"))),
        ("throughput", throughput),
        (
            "bytes",
            f"{stats.fmt_bytes(totals.get('bytes_sent'))} sent, "
            f"{stats.fmt_bytes(totals.get('bytes_received'))} received",
        ),
        ("connections", stats.fmt_int(totals.get("connections"))),
        ("errors", _errors(result)),
    )


def datagram_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """UDP accounting, written as the identity it must satisfy."""
    d: Mapping[str, int] | None = result.get("datagrams")
    if not d:
        return ()
    sent, received = d.get("sent", 0), d.get("received", 0)
    lost, in_flight = d.get("lost", 0), d.get("in_flight", 0)
    identity = (
        f"sent {stats.fmt_int(sent)} = received {stats.fmt_int(received)}"
        f" + lost {stats.fmt_int(lost)} + in flight {stats.fmt_int(in_flight)}"
    )
    off = sent - (received + lost + in_flight)
    if off:
        identity += f" (does not add up: off by {off:+,})"
    loss = f"{100.0 * lost / sent:.3f} %" if sent else stats.DASH
    return (
        ("accounting", identity),
        ("loss", loss),
        (
            "anomalies",
            f"duplicates {stats.fmt_int(d.get('duplicates', 0))}, "
            f"reordered {stats.fmt_int(d.get('reordered', 0))}, "
            f"late {stats.fmt_int(d.get('late', 0))}",
        ),
    )


def resource_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    server: Mapping[str, Any] | None = result.get("server_resources")
    if server:
        fields.append(
            (
                "server",
                f"CPU {stats.fmt_percent(server.get('cpu_percent_mean'))} mean, "
                f"{stats.fmt_percent(server.get('cpu_percent_max'))} max; "
                f"RSS {stats.fmt_bytes(server.get('rss_bytes_max'))}; "
                f"{_plural(server.get('threads_max'), 'thread')}; "
                f"{_plural(server.get('fds_max'), 'fd')}",
            )
        )
    gen: Mapping[str, Any] | None = result.get("generator")
    if gen:
        text = (
            f"CPU {stats.fmt_percent(gen.get('cpu_percent_mean'))} mean, "
            f"{stats.fmt_percent(gen.get('cpu_percent_max'))} max over "
            f"{_plural(gen.get('workers'), 'worker')}"
        )
        if gen.get("saturated"):
            text += "; SATURATED: the load generator may be the bottleneck"
        fields.append(("generator", text))
    return tuple(fields)


def _plural(n: int | None, noun: str) -> str:
    return f"{stats.fmt_int(n)} {noun}{'' if n == 1 else 's'}"


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
        ("load average", " ".join(f"{x:.2f}" for x in load) if load else stats.DASH),
        ("versions", versions or stats.DASH),
    )


def stream_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """Bulk transfer: the total and its spread over clients (``--mode stream``)."""
    s: Mapping[str, Any] = result["stream"]
    bps, mps = s["per_client_bps"], s["per_client_messages_per_s"]
    return (
        (
            "total",
            f"{stats.fmt_bps(s['total_bps'])}, {stats.fmt_rate(s['total_messages_per_s'])} msg/s",
        ),
        (
            "per client",
            f"min {stats.fmt_bps(bps['min'])}, median {stats.fmt_bps(bps['median'])}, "
            f"max {stats.fmt_bps(bps['max'])}",
        ),
        (
            "msg/s per client",
            f"min {stats.fmt_rate(mps['min'])}, median {stats.fmt_rate(mps['median'])}, "
            f"max {stats.fmt_rate(mps['max'])}",
        ),
    )


def run_sections(result: Doc) -> list[Section]:
    out = [Section("Run", key="run", fields=run_fields(result))]
    if result.get("stream"):
        out.append(Section("Stream", key="stream", fields=stream_fields(result)))
    if result.get("datagrams"):
        out.append(Section("Datagrams", key="datagrams", fields=datagram_fields(result)))
    if (result.get("latency_us") or {}).get("count") or not result.get("stream"):
        out.append(Section("Latency", key="latency", table=latency_table(result)))
    resources = resource_fields(result)
    if resources:
        out.append(Section("Resources", key="resources", fields=resources))
    if result.get("warnings"):
        out.append(
            Section("Warnings", key="warnings", items=tuple(str(w) for w in result["warnings"]))
        )
    out.append(Section("Environment", key="environment", fields=environment_fields(result)))
    return out


def compare_sections(doc: Doc) -> list[Section]:
    results = cells(doc)
    models = sorted({model_name(r) for r in results})
    protos = sorted({cell_key(r).proto for r in results})
    out = [
        Section(
            "Compare",
            key="compare",
            fields=(
                ("command", str(doc.get("command") or "")),
                ("created", str(doc.get("created_at") or "?")),
                ("cells", str(len(results))),
                ("models", ", ".join(models) or stats.DASH),
                ("protos", ", ".join(protos) or stats.DASH),
            ),
        ),
        Section(
            "Summary",
            key="summary",
            table=summary_table(results),
            note="best value per column within each proto/payload/clients group",
        ),
    ]
    warnings = tuple(
        f"[{cell_key(r).label}] {w}" for r in results for w in (r.get("warnings") or [])
    )
    if warnings:
        out.append(Section("Warnings", key="warnings", items=warnings))
    out.append(Section("Environment", key="environment", fields=environment_fields(doc)))
    return out


def sections(doc: Doc) -> list[Section]:
    """The report of a run result or a compare document, section by section."""
    return compare_sections(doc) if is_compare(doc) else run_sections(doc)
