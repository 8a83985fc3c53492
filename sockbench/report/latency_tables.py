"""The latency tables of a run: one row per histogram, and one per kind of request.

A row shows a histogram summary's stats as stored (count, min, the percentiles the
run recorded, max, mean, stdev; the latency row's percentiles with their ± from the
result's ``validity``): the whole distribution, where the registry's
metrics (:mod:`sockbench.core.metrics`) are the few single numbers compared across
runs. The *Commands* table's row of a kind of request is its metrics of the
registry's per-kind family (``kind.get.rps``, ``kind.get.p99``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sockbench.core.metrics import kind_metric_names, kind_metrics, metric
from sockbench.report import numbers
from sockbench.report.content import Align, Table
from sockbench.report.document import Doc, get
from sockbench.report.validity_fields import plus_minus

LATENCY_KINDS: tuple[tuple[str, str], ...] = (
    ("latency", "latency_us"),
    ("connect", "connect_us"),
    ("handshake", "handshake_us"),
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
        if not summary.get("count"):  # no reply: an empty histogram's zeros are no latency
            values: Iterable[str] = (numbers.DASH for _ in fields)
        else:
            values = (
                numbers.fmt_us(_field(summary, f))
                + (plus_minus(result, f) if key == "latency_us" else "")
                for _, f in fields
            )
        rows.append((label, numbers.fmt_int(summary.get("count")), *values))
    headers = ("", "count", *(t for t, _ in fields))
    left: Align = "l"
    right: Align = "r"
    align = (left, *([right] * (len(headers) - 1)))
    return Table(headers, tuple(rows), align)


def kind_table(result: Doc) -> Table:
    """One row per kind of request (SET, GET): counts, errors and latency, each a metric
    of the registry's per-kind family (``kind.set.p99``)."""
    by_kind: Mapping[str, Any] = get(result, "totals", "by_kind") or {}
    names = kind_metric_names([result])
    rows = tuple(
        (kind, *(numbers.FORMATTERS[m.fmt](m.value(result)) for m in kind_metrics(kind, names)))
        for kind in by_kind
    )
    headers = ("kind", *(metric(name).title for name in names))
    left: Align = "l"
    right: Align = "r"
    return Table(headers, rows, (left, *([right] * (len(headers) - 1))))
