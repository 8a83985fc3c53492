"""A sweep or search document as a report: one section model, four renderers.

The table has a row per step, its numbers formatted by the metric registry's formatter
for each column (:data:`sockbench.core.sweep.ROW_METRICS`), so a p99 here reads as it
does in a run's report. The HTML page adds the latency–load chart; the CSV is raw
numbers, one row per step, for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sockbench.core.rates import format_rate
from sockbench.core.search import KEPT_THE_RATE
from sockbench.core.spec.formats import SweepFormat
from sockbench.core.sweep import row_metrics
from sockbench.report import charts, html, markdown, text
from sockbench.report.content import Align, Section, Table
from sockbench.report.files import write_atomic
from sockbench.report.numbers import FORMATTERS, fmt_rate

REPORTS = {
    "report.md": SweepFormat.MD,
    "summary.csv": SweepFormat.CSV,
    "report.html": SweepFormat.HTML,
}

#: How a search ended, as its answer reads: (the bound's word, why).
_FOUND: dict[str, tuple[str, str]] = {
    "capacity": ("", ""),
    "above_max": ("at least", "every rate up to --rate-max passed"),
    "below_min": ("below", "even --rate-min failed"),
    "generator_limited": ("at least", "the generator could not offer more: add --workers"),
    "stopped": ("at least", "stopped early"),
}


def _title(doc: Mapping[str, Any]) -> str:
    return f"sockbench {doc.get('kind', 'sweep')} report"


def answer(doc: Mapping[str, Any]) -> Section | None:
    """A search's answer: the capacity with its bracket, and whether the repeat agreed."""
    search = doc.get("search")
    if not search:
        return None
    fields = [("capacity", _capacity(search))]
    fields.append(("highest pass", fmt_rate(search.get("highest_pass_rps"))))
    if search.get("lowest_fail_rps") is not None:
        fields.append(("lowest fail", fmt_rate(search["lowest_fail_rps"])))
    if search.get("lowest_invalid_rps") is not None:
        fields.append(("generator could not offer", fmt_rate(search["lowest_invalid_rps"])))
    confirmed = search.get("confirmed")
    if confirmed is not None:
        fields.append(
            ("repeat", "agreed" if confirmed else "DISAGREED: the answer is on the knee's noise")
        )
    fields.append(("precision", f"{search.get('precision', 0):.0%}"))
    fields.append(("steps", f"{len(doc.get('steps') or [])} in {doc.get('elapsed_s', 0):.0f} s"))
    return Section("Answer", fields=tuple(fields), key="answer")


def _capacity(search: Mapping[str, Any]) -> str:
    bound, why = _FOUND.get(str(search.get("found")), ("", "unknown"))
    rate = search.get("capacity_rps")
    if search.get("found") == "below_min":
        rate = search.get("rate_min")
    if rate is None:
        return f"unknown: {why}"
    said = f"{bound} {fmt_rate(rate)} req/s".strip()
    return f"{said}: {why}" if why else said


def steps_section(doc: Mapping[str, Any]) -> Section:
    columns = row_metrics()
    search = "search" in doc
    headers = (
        "step",
        *(("phase",) if search else ()),
        "rate",
        *(m.title for m in columns),
        "verdict",
    )
    rows = []
    for i, step in enumerate(doc.get("steps") or [], 1):
        row = step.get("row") or {}
        cells = [str(i), *((step.get("phase", ""),) if search else ()), format_rate(step["rate"])]
        cells += [FORMATTERS[m.fmt](row.get(m.name)) for m in columns]
        cells.append(step["verdict"])
        rows.append(tuple(cells))
    number: Align = "r"
    first: tuple[Align, ...] = ("r", "l", "r") if search else ("r", "r")
    align = (*first, *(number for _ in columns), "l")
    notes = tuple(
        f"step {i}: {'; '.join(step['reasons'])}"
        for i, step in enumerate(doc.get("steps") or [], 1)
        if step.get("reasons")
    )
    slos = ", ".join([*(doc.get("slos") or []), f"the rate served ({KEPT_THE_RATE})"])
    return Section(
        "Steps", fields=(("judged by", slos), ("status", str(doc.get("status", "")))),
        table=Table(tuple(headers), tuple(rows), align),
        notes=notes, key="steps",
    )  # fmt: skip


def sections(doc: Mapping[str, Any]) -> list[Section]:
    found = answer(doc)
    return [*([found] if found else []), steps_section(doc)]


def chart_svg(doc: Mapping[str, Any]) -> str:
    config = doc.get("config") or {}
    label = str(config.get("server_model") or config.get("target") or "target")
    rows = [step.get("row") or {} for step in doc.get("steps") or []]
    return charts.latency_load("latency against load", {label: rows})


def render_csv(doc: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = row_metrics()
    writer.writerow(["step", "phase", "rate", *(m.name for m in columns), "verdict", "result"])
    for i, step in enumerate(doc.get("steps") or [], 1):
        row = step.get("row") or {}
        values = ["" if row.get(m.name) is None else row[m.name] for m in columns]
        writer.writerow(
            [i, step.get("phase", ""), step["rate"], *values, step["verdict"], step["result"]]
        )
    return buf.getvalue()


def render(doc: Mapping[str, Any], fmt: SweepFormat) -> str:
    """The document in ``fmt`` (``table`` is the text report; ``json`` is not rendered here)."""
    parts: Sequence[Section] = sections(doc)
    if fmt is SweepFormat.MD:
        return markdown.page(_title(doc), parts)
    if fmt is SweepFormat.CSV:
        return render_csv(doc)
    if fmt is SweepFormat.HTML:
        body = [f"<h1>{_title(doc)}</h1>", *(html.section_html(s) for s in parts)]
        chart = html.Chart("latency-load", "latency against the rate served", chart_svg(doc))
        body.append(html.charts_section("Latency against load", [chart]))
        return html.page(_title(doc), body)
    return text.page(_title(doc), parts)


def write_sweep_reports(folder: Path, doc: Mapping[str, Any]) -> None:
    """report.md, summary.csv and report.html beside sweep.json."""
    for name, fmt in REPORTS.items():
        write_atomic(folder / name, render(doc, fmt))
