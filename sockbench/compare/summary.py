"""What a compare adds to the shared report sections: repeats and a saturated generator.

The renderers show one summary row per cell and repeat, merge repeats into one
histogram for the percentile charts and take the median for the scaling charts.
What they do not show is how much a number moved between repeats, and they bury a
saturated load generator among the per-cell warnings. This module computes both:

- :func:`repeat_stats`: per model × workload, the median and the spread (min–max)
  across the completed repeats of req/s, p50, p99, p99.9 and errors (stored in
  ``results.json`` under ``repeats``; raw numbers);
- :func:`extra_sections`: that as a :class:`~sockbench.report.sections.Section`
  (only when there are repeats), and a "Generator saturated" section naming the
  cells that measured the client rather than the server, with what to change.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from sockbench.report import stats
from sockbench.report.document import Doc, cell_key, cells, error_total, get
from sockbench.report.sections import Section, Table

#: (key in repeat_stats, how to read it from a result)
METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("throughput_rps", ("totals", "throughput_rps")),
    ("p50_us", ("latency_us", "p50")),
    ("p99_us", ("latency_us", "p99")),
    ("p99_9_us", ("latency_us", "p99_9")),
)

SATURATION_ADVICE = (
    "these cells measured the load generator, not the server: it ran out of CPU. "
    "Give it more --workers (and --client-cpus), use fewer --clients, or a lower rate, "
    "before reading them as the server's numbers"
)


def _spread(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": float(statistics.median(values)),
        "min": float(min(values)),
        "max": float(max(values)),
    }


def repeat_stats(doc: Doc) -> list[dict[str, Any]]:
    """Per model × proto × payload × clients: median and min–max over completed repeats."""
    grouped: dict[tuple[str, str, str, int], list[Doc]] = {}
    payloads: dict[tuple[str, str, str, int], Any] = {}
    for result in cells(doc):
        key = cell_key(result)
        ident = (key.proto, str(key.payload), key.model, key.clients)
        grouped.setdefault(ident, []).append(result)
        payloads[ident] = key.payload
    out: list[dict[str, Any]] = []
    for ident in sorted(grouped, key=lambda k: (k[0], _payload_order(k[1]), k[3], k[2])):
        members = grouped[ident]
        done = [r for r in members if (r.get("status") or "completed") == "completed"]
        proto, _, model, clients = ident
        entry: dict[str, Any] = {
            "model": model,
            "proto": proto,
            "clients": clients,
            "payload": payloads[ident],
            "repeats": len(members),
            "completed": len(done),
        }
        for name, path in METRICS:
            entry[name] = _spread([float(v) for r in done if (v := get(r, *path)) is not None])
        entry["errors"] = _spread([float(error_total(r)) for r in done])
        out.append(entry)
    return out


def _payload_order(payload: str) -> tuple[int, str]:
    return (int(payload), "") if payload.isdigit() else (1 << 62, payload)


def _median_range(spread: Mapping[str, float] | None, fmt: Any) -> tuple[str, str]:
    if not spread:
        return stats.DASH, stats.DASH
    low, high = fmt(spread["min"]), fmt(spread["max"])
    return fmt(spread["median"]), low if low == high else f"{low} – {high}"


def repeats_section(entries: Sequence[Mapping[str, Any]]) -> Section | None:
    """Median and spread across repeats, best medians highlighted per workload."""
    if not entries or max(int(e["repeats"]) for e in entries) < 2:
        return None
    headers = (
        "model", "proto", "clients", "payload", "runs",
        "req/s", "req/s range", "p50", "p99", "p99 range", "p99.9", "errors",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = []
    groups: dict[tuple[str, str, int], list[int]] = {}
    for i, e in enumerate(entries):
        rps, rps_range = _median_range(e["throughput_rps"], stats.fmt_rate)
        p99, p99_range = _median_range(e["p99_us"], stats.fmt_us)
        runs = str(e["completed"])
        if e["completed"] != e["repeats"]:
            runs += f" of {e['repeats']}"
        rows.append(
            (
                str(e["model"]),
                str(e["proto"]),
                stats.fmt_int(e["clients"]),
                stats.fmt_payload(e["payload"]),
                runs,
                rps,
                rps_range,
                _median_range(e["p50_us"], stats.fmt_us)[0],
                p99,
                p99_range,
                _median_range(e["p99_9_us"], stats.fmt_us)[0],
                _median_range(e["errors"], stats.fmt_int)[0],
            )
        )
        groups.setdefault((str(e["proto"]), str(e["payload"]), int(e["clients"])), []).append(i)
    best: set[tuple[int, int]] = set()
    for members in groups.values():
        for col, metric, high in ((5, "throughput_rps", True), (8, "p99_us", False)):
            values = [(entries[i][metric] or {}).get("median") for i in members]
            for pos in stats.best_indices(values, high):
                best.add((members[pos], col))
    table = Table(
        headers=headers,
        rows=tuple(rows),
        align=("l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"),
        best=frozenset(best),
    )
    return Section(
        "Across repeats",
        key="repeats",
        table=table,
        note="median over completed repeats; best median req/s and p99 per workload",
    )


def saturated_cells(doc: Doc) -> list[Doc]:
    """The cells whose load generator ran out of CPU."""
    return [r for r in cells(doc) if get(r, "generator", "saturated")]


def saturation_section(doc: Doc) -> Section | None:
    found = saturated_cells(doc)
    if not found:
        return None
    items = []
    repeats = max(cell_key(r).repeat for r in cells(doc)) > 1
    for r in found:
        key = cell_key(r)
        label = f"{key.model} {key.proto} {stats.fmt_payload(key.payload)} {key.clients:,} clients"
        if repeats:
            label += f" (repeat {key.repeat})"
        cpu = stats.fmt_percent(get(r, "generator", "cpu_percent_mean"))
        workers = get(r, "generator", "workers")
        items.append(f"{label}: generator CPU {cpu} mean with {workers} worker(s)")
    total = len(cells(doc))
    return Section(
        "Generator saturated",
        key="saturation",
        fields=(("cells", f"{len(found)} of {total}"), ("meaning", SATURATION_ADVICE)),
        items=tuple(items),
    )


def extra_sections(doc: Doc) -> list[Section]:
    """The compare's own sections, in the order they follow the summary."""
    out = []
    repeats = repeats_section(doc.get("repeats") or repeat_stats(doc))
    if repeats is not None:
        out.append(repeats)
    saturation = saturation_section(doc)
    if saturation is not None:
        out.append(saturation)
    return out
