"""One CSV row per cell, raw numbers, a fixed column order.

The columns are the same for a run and a compare and do not depend on which
fields a document happens to carry (absent values are empty), so spreadsheets and
scripts can rely on positions across runs. Units are in the column names: µs for
latencies, bytes, requests per second.

The registry's metrics of the csv view (:mod:`sockbench.core.metrics`) are read
through their entries: where the layout places one (``requests``,
``throughput_rps``, ``errors``) it is that entry's column; one the layout does not
place (``offered_rps``) is appended after the fixed columns, in registry order, so
adding a metric never moves a column a script reads by position. Each kind of
request's columns (``get_throughput_rps``, ``get_p99_us``) are its metrics of the
registry's per-kind family (``kind.get.rps``, ``kind.get.p99``).

A run's ``intervals.csv`` (:func:`render_intervals`) is its time series: one row per
interval row of the result, each metric an interval row keeps (``interval`` in the
registry) under its column name here (``requests``, ``throughput_rps``, ``errors``,
``latency_p99_us``, ``get_throughput_rps``; a stream's ``sender_bytes`` ...).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from sockbench.core.metrics import REGISTRY, Metric, View, in_view, kind_metric_names, kind_metrics
from sockbench.core.units import DEFAULT_PERCENTILES, percentile_key
from sockbench.report.document import Doc, cell_key, cells, get, target

_STATS_BEFORE = ("count", "min", "mean", "stdev")
_STATS_AFTER = ("max",)
_HISTOGRAMS = ("latency", "connect", "service_time", "send_lag", "handshake")


DEFAULT_KEYS = tuple(percentile_key(p) for p in DEFAULT_PERCENTILES)


#: The registry's CSV metrics, by column name.
METRICS = {m.csv: m for m in in_view(View.CSV)}


def _path(*path: str) -> Callable[[Doc], Any]:
    return lambda r: get(r, *path)


def _metric(column: str) -> tuple[str, Callable[[Doc], Any]]:
    """A registry metric's column, placed by the layout."""
    return column, METRICS[column].value


def _columns(percentiles: tuple[str, ...] = DEFAULT_KEYS) -> list[tuple[str, Callable[[Doc], Any]]]:
    """The fixed columns, the histograms' with ``percentiles`` (keys like ``99.9``)."""
    cols: list[tuple[str, Callable[[Doc], Any]]] = [
        ("model", lambda r: cell_key(r).model),
        ("proto", lambda r: cell_key(r).proto),
        ("mode", _path("config", "mode")),
        ("clients", lambda r: cell_key(r).clients),
        ("payload", lambda r: cell_key(r).payload),
        ("repeat", lambda r: cell_key(r).repeat),
        ("rate", _path("config", "rate")),
        ("status", _path("status")),
        ("target", target),
        ("started_at", _path("started_at")),
        ("duration_s", _path("duration_s")),
        _metric("requests"),
        _metric("throughput_rps"),
        ("throughput_bps", _path("totals", "throughput_bps")),
        ("bytes_sent", _path("totals", "bytes_sent")),
        ("bytes_received", _path("totals", "bytes_received")),
        ("connections", _path("totals", "connections")),
        ("tls_handshakes", _path("tls", "handshakes")),
        ("tls_resumed", _path("tls", "resumed")),
        _metric("errors"),
    ]
    for hist in _HISTOGRAMS:
        cols.append((f"{hist}_count", _path(f"{hist}_us", "count")))
        for stat in _STATS_BEFORE[1:]:
            cols.append((f"{hist}_{stat}_us", _stat(f"{hist}_us", stat)))
        for key in percentiles:
            name = "p" + key.replace(".", "_")
            cols.append((f"{hist}_{name}_us", _percentile(f"{hist}_us", key, name)))
        for stat in _STATS_AFTER:
            cols.append((f"{hist}_{stat}_us", _stat(f"{hist}_us", stat)))
    for name in ("sent", "received", "lost", "duplicates", "reordered", "late", "in_flight"):
        cols.append((f"datagrams_{name}", _path("datagrams", name)))
    for name in ("cpu_percent_mean", "cpu_percent_max", "rss_bytes_max", "threads_max", "fds_max"):
        cols.append((f"server_{name}", _path("server_resources", name)))
    for name in ("cpu_percent_mean", "cpu_percent_max", "saturated", "workers"):
        cols.append((f"generator_{name}", _path("generator", name)))
    cols.append(("warnings", lambda r: len(r.get("warnings") or [])))
    placed = {name for name, _ in cols}
    cols += [(m.csv, m.value) for m in METRICS.values() if m.csv not in placed]
    return cols


def _stat(field: str, stat: str) -> Callable[[Doc], Any]:
    """A histogram's statistic; empty where it holds no sample (its zeros are no value)."""

    def value(r: Doc) -> Any:
        summary = get(r, field) or {}
        return summary.get(stat) if summary.get("count") else None

    return value


def _percentile(field: str, key: str, name: str) -> Callable[[Doc], Any]:
    """A ``--percentiles`` value; results from before that option carry only ``pNN`` keys.
    Empty where the histogram holds no sample."""

    def value(r: Doc) -> Any:
        summary = get(r, field) or {}
        if not summary.get("count"):
            return None
        chosen = summary.get("percentiles") or {}
        return chosen[key] if key in chosen else summary.get(name)

    return value


def chosen_percentiles(results: list[Doc]) -> tuple[str, ...]:
    """The percentiles the cells recorded (``--percentiles``), in order; the default set when
    none says."""
    keys = dict.fromkeys(
        key for r in results for key in (get(r, "latency_us", "percentiles") or {})
    )
    return tuple(keys) or DEFAULT_KEYS


COLUMNS = _columns()
HEADER = tuple(name for name, _ in COLUMNS)


def kind_columns(results: list[Doc]) -> list[tuple[str, Callable[[Doc], Any]]]:
    """Per kind of request (``set``, ``get``): after the fixed columns, only when present."""
    kinds = dict.fromkeys(k for r in results for k in get(r, "totals", "by_kind") or {})
    names = kind_metric_names(results)
    return [(m.csv, m.value) for kind in kinds for m in kind_metrics(kind, names)]


def stream_columns(results: list[Doc]) -> list[tuple[str, Callable[[Doc], Any]]]:
    """iperf3's sender and receiver lines (``--mode stream``): only when present; the
    clients' reads (``read_bytes``, ``read_bps``: RX-C) and the ``direction`` where a
    cell read from the server."""
    if not any(get(r, "stream", "sender") for r in results):
        return []
    columns = [
        (f"{side}_{name}", _path("stream", side, name))
        for side in ("sender", "receiver")
        for name in ("bytes", "seconds", "bps", "messages_per_s")
    ]
    if any(get(r, "stream", "reverse") for r in results):  # --reverse, --bidir: RX-C
        columns += [("direction", _path("stream", "direction"))]
        columns += [(f"read_{name}", _path("stream", "reverse", "receiver", name))
                    for name in ("bytes", "bps")]  # fmt: skip
    return columns


def render(doc: Doc) -> str:
    """A header row and one row per cell (a run is one row)."""
    results = cells(doc)
    columns = (
        _columns(chosen_percentiles(results)) + kind_columns(results) + stream_columns(results)
    )
    return _table(columns, results)


#: A stream's interval row keys, by the column the summary gives its side's total.
_STREAM_ROWS = {"sender_bytes": "sent_bytes", "sender_bps": "sent_bps",
                "receiver_bytes": "received_bytes", "receiver_bps": "received_bps"}  # fmt: skip


def interval_column(m: Metric) -> str:
    """A metric's column name, as :func:`render` names it (``latency_p99_us``)."""
    if m.csv:
        return m.csv
    return f"{m.histogram[0].removesuffix('_us')}_{m.stat.replace('.', '_')}_us"


def _summary_order(m: Metric) -> int:
    name = interval_column(m)
    return HEADER.index(name) if name in HEADER else len(HEADER)


def render_intervals(result: Doc) -> str:
    """A run's interval rows: when each ran (``start_s``, ``end_s``, ``duration_s``: seconds
    since measurement began), then what each row keeps, named as :func:`render` names it;
    per kind of request and a stream's sides only when the rows hold them; a stream's
    rows have no latencies."""
    rows: list[Doc] = list(result.get("intervals") or [])
    starts = [0.0, *(row["t"] for row in rows[:-1])]
    timed = [{**row, "start_s": start} for row, start in zip(rows, starts, strict=True)]
    kinds = dict.fromkeys(k for row in rows for k in row.get("by_kind") or {})
    metrics = sorted((m for m in REGISTRY if m.interval), key=_summary_order)
    if result.get("stream"):  # no request latencies: its rows' zeros are not measurements
        metrics = [m for m in metrics if not m.histogram]
    names = kind_metric_names([result])
    metrics += [m for kind in kinds for m in kind_metrics(kind, names) if m.interval]
    columns: list[tuple[str, Callable[[Doc], Any]]] = [
        ("start_s", _path("start_s")),
        ("end_s", _path("t")),
        ("duration_s", lambda r: round(r["t"] - r["start_s"], 9)),
    ]
    columns += [
        (interval_column(m), m.per_interval)
        for m in metrics
        if any(m.per_interval(row) is not None for row in rows)
    ]
    if any(row.get("sent_bytes") is not None for row in rows):
        columns += [(name, _path(key)) for name, key in _STREAM_ROWS.items()]
    if any(row.get("read_bytes") is not None for row in rows):  # --reverse, --bidir
        columns += [("read_bytes", _path("read_bytes")), ("read_bps", _path("read_bps"))]
    return _table(columns, timed)


def _table(columns: list[tuple[str, Callable[[Doc], Any]]], rows: Sequence[Doc]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(name for name, _ in columns)
    for row in rows:
        writer.writerow([_cell(getter(row)) for _, getter in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
