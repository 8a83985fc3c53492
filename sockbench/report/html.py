"""A self-contained HTML report: inline CSS, matplotlib SVG charts, no script, no fetch.

Charts are embedded as ``<img src="data:image/svg+xml;base64,...">`` rather than
inline ``<svg>``: each chart stays its own document, so matplotlib's element ids
and its global ``*{stroke-linejoin}`` style cannot collide across charts or leak
into the page, at the price of a third more bytes than inline markup.

Chart layout: the percentile spectrum gets one chart per proto × payload × clients
(one line per model; repeats merged into one histogram), so every line on a chart
ran the same workload. Scaling and resource charts exist per proto × payload when
there are at least two client counts to draw a line through (repeats: median).
Timelines are per proto × payload × clients, for cells that recorded intervals; their
lines are registry metrics read from each interval row (``charts.TIMELINE_RATE``,
``charts.TIMELINE_LATENCIES``).
"""

from __future__ import annotations

import base64
import math
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from sockbench.core.metrics import Metric, metric
from sockbench.report import charts, numbers, percentiles
from sockbench.report.content import Section, Table
from sockbench.report.document import Doc, cell_key, cells, is_compare, model_name
from sockbench.report.sections import sections
from sockbench.report.stream_fields import measured_sides, stream_rows
from sockbench.report.summary_table import summary_table
from sockbench.report.verdicts import payload_order

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --best: #d9f5df; --bg: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1440px; padding: 24px 32px 48px; color: var(--fg);
  background: var(--bg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
  "DejaVu Sans", sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0 0 8px; }
pre.command { background: #f4f6f9; border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 12px; white-space: pre-wrap; word-break: break-all; margin: 8px 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { text-align: left; background: #f4f6f9; position: sticky; top: 0; }
td.r, th.r { text-align: right; }
tbody tr:hover { background: #f7f9fc; }
td.best { background: var(--best); font-weight: 600; }
.scroll { overflow-x: auto; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; overflow-wrap: anywhere; }
.note { color: var(--muted); font-size: 12px; }
ul.warnings li { color: #8a4b00; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 16px; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
figure.chart img { display: block; width: 100%; height: auto; }
"""


@dataclass(frozen=True)
class Chart:
    """One rendered chart: its ``data-chart`` id, caption and SVG document."""

    name: str
    caption: str
    svg: str


def render(doc: Doc) -> str:
    """The report of a run result or compare document as one offline HTML page.

    Sections come in the order :func:`~sockbench.report.sections.sections` gives
    them; the charts go before the environment. A run opens with its one-row
    summary, so a run page and a compare page start alike.
    """
    results = cells(doc)
    compare = is_compare(doc)
    title = "sockbench compare report" if compare else "sockbench run report"
    body: list[str] = [f"<header><h1>{escape(title)}</h1>{_meta(doc, compare)}</header>"]
    if not compare and not doc.get("stream"):  # a stream's own sections say it all
        body.append(_summary(Section("Summary", key="summary", table=summary_table(results))))
    for section in sections(doc):
        if section.key == "compare":
            continue  # the header shows it
        if section.key == "environment":
            body.extend(
                charts_section(h, items) for h, items in chart_groups(results, not compare) if items
            )
            body.append(_environment(section, doc))
        elif section.key == "summary":
            body.append(_summary(section))
        else:
            body.append(section_html(section))
    return page(title, body)


def page(title: str, body: Sequence[str]) -> str:
    """A complete HTML document around ``body`` (markup fragments), with the report CSS."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _meta(doc: Doc, compare: bool) -> str:
    if compare:
        n = len(cells(doc))
        when = doc.get("created_at") or "?"
        text = f"created {when} · {n} cell{'s' if n != 1 else ''}"
    else:
        text = f"started {doc.get('started_at') or '?'} · status {doc.get('status') or '?'}"
    command = doc.get("command") or ""
    return f'<p class="meta">{escape(text)}</p><pre class="command">{escape(command)}</pre>'


def _table(table: Table, table_id: str = "") -> str:
    ident = f' id="{table_id}"' if table_id else ""
    head = "".join(
        f'<th class="{a}">{escape(h)}</th>' for h, a in zip(table.headers, table.align, strict=True)
    )
    rows = []
    for r, row in enumerate(table.rows):
        tds = "".join(
            f'<td class="{a}{" best" if (r, c) in table.best else ""}">{escape(v)}</td>'
            for c, (v, a) in enumerate(zip(row, table.align, strict=True))
        )
        attrs = f' data-cell="{escape(table.row_keys[r])}"' if r < len(table.row_keys) else ""
        rows.append(f"<tr{attrs}>{tds}</tr>")
    return (
        f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _summary(section: Section) -> str:
    return section_html(section, table_id="summary")


def _fields(fields: Iterable[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in fields)
    return f'<dl class="fields">{items}</dl>'


def section_html(section: Section, table_id: str = "") -> str:
    parts = [f'<section data-section="{escape(section.key)}"><h2>{escape(section.title)}</h2>']
    if section.fields:
        parts.append(_fields(section.fields))
    if section.table is not None:
        parts.append(_table(section.table, table_id or section.key))
        if section.table.best and section.note:
            parts.append(f'<p class="note">Highlighted: {escape(section.note)}.</p>')
    parts.extend(f'<p class="note">{escape(note)}.</p>' for note in section.notes)
    if section.items:
        items = "".join(f"<li>{escape(i)}</li>" for i in section.items)
        parts.append(f'<ul class="warnings">{items}</ul>')
    parts.append("</section>")
    return "".join(parts)


def _environment(section: Section, doc: Doc) -> str:
    return (
        f'<section data-section="environment"><h2>Environment</h2>{_fields(section.fields)}'
        f'<h3>Command line</h3><pre class="command">{escape(doc.get("command") or "")}</pre>'
        "</section>"
    )


def charts_section(heading: str, items: Sequence[Chart]) -> str:
    figures = "".join(
        f'<figure class="chart" data-chart="{escape(c.name)}">'
        f'<img alt="{escape(c.caption)}" src="data:image/svg+xml;base64,'
        f'{base64.b64encode(c.svg.encode()).decode()}"></figure>'
        for c in items
    )
    return f'<section><h2>{escape(heading)}</h2><div class="grid">{figures}</div></section>'


# --- choosing and feeding the charts ------------------------------------------------

#: The registry's metrics the scaling and resource charts draw.
REQ_S, P99 = metric("rps"), metric("p99")
SERVER_CPU, SERVER_RSS = metric("server.cpu"), metric("server.rss")

Group = tuple[str, str]  # (proto, payload)


def _slug(*parts: object) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", str(p)) for p in parts)


def _workload(proto: str, payload: object, clients: int | None = None) -> str:
    text = f"{proto} · payload {numbers.fmt_payload(payload)}"
    return text if clients is None else f"{text} · {clients:,} clients"


def chart_groups(results: Sequence[Doc], single: bool) -> list[tuple[str, list[Chart]]]:
    """Every chart of the report, under its section heading, in a stable order.

    ``single`` (a run result rather than a compare) plots the run's own latency
    distributions on its spectrum instead of one line per model.
    """
    colors = charts.palette([model_name(r) for r in results])
    by_cell: dict[tuple[str, str, int], list[Doc]] = {}
    for r in results:
        key = cell_key(r)
        by_cell.setdefault((key.proto, str(key.payload), key.clients), []).append(r)
    by_workload: dict[Group, list[Doc]] = {}
    for (proto, payload, _), members in by_cell.items():
        by_workload.setdefault((proto, payload), []).extend(members)
    cell_order = sorted(by_cell, key=lambda k: (k[0], payload_order(k[1]), k[2]))
    return [
        (
            "Latency by percentile",
            [c for k in cell_order if (c := _spectrum(k, by_cell[k], colors, single))],
        ),
        ("Scaling with clients", _per_workload(by_workload, colors, _scaling)),
        ("Server resources", _per_workload(by_workload, colors, _resources)),
        (
            "Over time",
            [c for k in cell_order if (c := _timeline(k, by_cell[k], colors))],
        ),
    ]


def _per_workload(
    by_workload: Mapping[Group, list[Doc]],
    colors: Mapping[str, str],
    make: Callable[[Group, list[Doc], Mapping[str, str]], Chart | None],
) -> list[Chart]:
    out = []
    for key in sorted(by_workload, key=lambda k: (k[0], payload_order(k[1]))):
        members = by_workload[key]
        if len({cell_key(r).clients for r in members}) < 2:
            continue
        chart = make(key, members, colors)
        if chart is not None:
            out.append(chart)
    return out


SINGLE_RUN_LINES = (
    ("latency", "latency_us"),
    ("service time", "service_time_us"),
    ("send lag", "send_lag_us"),
)


def _spectrum(
    key: tuple[str, str, int], members: list[Doc], colors: Mapping[str, str], single: bool
) -> Chart | None:
    """The percentile spectrum of a cell's runs; None for streams that timed no reply
    (a stream has no request latencies: an empty chart would show "0 µs" axes)."""
    proto, payload, clients = key
    series: list[charts.Series] = []
    if single:
        # One run: compare its own distributions (round trip, service time, send lag).
        palette = charts.palette([label for label, _ in SINGLE_RUN_LINES])
        for label, field in SINGLE_RUN_LINES:
            hist = percentiles.decode(members[0].get(field))
            if hist is not None and hist.get_total_count():
                xs, ys = percentiles.spectrum(hist)
                series.append(charts.Series(label, palette[label], xs, ys))
    else:
        by_model: dict[str, list[Any]] = {}
        for r in members:
            hist = percentiles.decode(r.get("latency_us"))
            if hist is not None and hist.get_total_count():
                by_model.setdefault(model_name(r), []).append(hist)
        for model in sorted(by_model):
            merged = percentiles.merge(by_model[model])
            if merged is not None:
                xs, ys = percentiles.spectrum(merged)
                series.append(charts.Series(model, colors[model], xs, ys))
    if not series and all(r.get("stream") for r in members):
        return None
    caption = _workload(proto, cell_key(members[0]).payload, clients)
    return Chart(
        f"spectrum-{_slug(proto, payload)}-c{clients}",
        f"Latency by percentile · {caption}",
        charts.spectrum(caption, series),
    )


def _by_model_clients(
    members: Sequence[Doc], value: Callable[[Doc], float | None], colors: Mapping[str, str]
) -> list[charts.Series]:
    """One series per model: the median over repeats of ``value`` at each client count."""
    samples: dict[str, dict[int, list[float]]] = {}
    for r in members:
        v = value(r)
        if v is not None:
            samples.setdefault(model_name(r), {}).setdefault(cell_key(r).clients, []).append(v)
    points = {
        model: [(float(c), statistics.median(vs)) for c, vs in per.items()]
        for model, per in samples.items()
    }
    return charts.series_from(points, colors)


def _scaling(key: Group, members: list[Doc], colors: Mapping[str, str]) -> Chart | None:
    rps = _by_model_clients(members, REQ_S.value, colors)
    p99 = _by_model_clients(members, P99.value, colors)
    if not rps and not p99:
        return None
    caption = _workload(key[0], cell_key(members[0]).payload)
    return Chart(
        f"scaling-{_slug(*key)}",
        f"Throughput and p99 vs clients · {caption}",
        charts.scaling(caption, rps, p99),
    )


def _resources(key: Group, members: list[Doc], colors: Mapping[str, str]) -> Chart | None:
    cpu = _by_model_clients(members, SERVER_CPU.value, colors)
    rss = _by_model_clients(
        members, lambda r: None if (b := SERVER_RSS.value(r)) is None else b / 2**20, colors
    )
    if not cpu and not rss:
        return None
    caption = _workload(key[0], cell_key(members[0]).payload)
    return Chart(
        f"resources-{_slug(*key)}",
        f"Server CPU and RSS vs clients · {caption}",
        charts.resources(caption, cpu, rss),
    )


def _timeline(
    key: tuple[str, str, int], members: list[Doc], colors: Mapping[str, str]
) -> Chart | None:
    proto, payload, clients = key
    if all(r.get("stream") for r in members):  # rows of bytes (none in results before them)
        return _stream_timeline(key, members, colors) if all(map(stream_rows, members)) else None
    rps: list[charts.Series] = []
    latency: list[charts.Series] = []
    for r in sorted(members, key=lambda r: (model_name(r), cell_key(r).repeat)):
        rows: list[Mapping[str, Any]] = r.get("intervals") or []
        if not rows:
            continue
        model = model_name(r)
        label = model if not cell_key(r).repeat else f"{model} #{cell_key(r).repeat}"
        t = [_float(row.get("t")) for row in rows]
        color = colors[model]
        rps.append(charts.Series(label, color, t, _series(charts.TIMELINE_RATE, rows)))
        for m, style in charts.TIMELINE_LATENCIES:
            # Only the solid line is in the model legend: a leading underscore keeps the
            # others out (matplotlib convention); the style legend says which is which.
            dashed = style != "-"
            name = f"_{label} {m.title}" if dashed else label
            latency.append(charts.Series(name, color, t, _series(m, rows), dashed=dashed))
    if not rps:
        return None
    caption = _workload(proto, cell_key(members[0]).payload, clients)
    return Chart(
        f"timeline-{_slug(proto, payload)}-c{clients}",
        f"Throughput and latency over time · {caption}",
        charts.timeline(caption, rps, latency),
    )


def _stream_timeline(
    key: tuple[str, str, int], members: list[Doc], colors: Mapping[str, str]
) -> Chart:
    """Streams' bit rate per interval (iperf3's interval lines): each run's receiver,
    where its rows have it, solid, and its sender dashed; no requests, no latencies."""
    proto, payload, clients = key
    lines: list[charts.Series] = []
    for r in sorted(members, key=lambda r: (model_name(r), cell_key(r).repeat)):
        rows = stream_rows(r)
        model = model_name(r)
        label = model if not cell_key(r).repeat else f"{model} #{cell_key(r).repeat}"
        t = [_float(row.get("t")) for row in rows]
        for side, _, _, bps in reversed(measured_sides(rows)):
            dashed = side == "sent"
            name = f"{label} {side}"
            lines.append(
                charts.Series(
                    name, colors[model], t, [_float(row[bps]) for row in rows], dashed=dashed
                )
            )
    caption = _workload(proto, cell_key(members[0]).payload, clients)
    return Chart(
        f"timeline-{_slug(proto, payload)}-c{clients}",
        f"Bit rate over time · {caption}",
        charts.stream_timeline(caption, lines),
    )


def _series(m: Metric, rows: Sequence[Mapping[str, Any]]) -> list[float]:
    """A registry metric's value in each interval row: a line of the timeline."""
    return [_float(m.per_interval(row)) for row in rows]


def _float(value: Any) -> float:
    """A number for plotting; NaN (a gap in the line) for a missing one."""
    return float(value) if isinstance(value, int | float) else math.nan
