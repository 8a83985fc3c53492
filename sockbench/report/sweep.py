"""A sweep or search document as a report: one section model, four renderers.

A search adds a capacity table, a row per curve (a workload, or a model in a compare):
the rate at the SLO, its bracket, the server CPU each request cost at that rate, and a
winner only when its bracket lies wholly above every other's, so noise never names one.
Each curve's steps are a table whose numbers go through the metric registry's formatter
for each column (:data:`sockbench.core.sweep.ROW_METRICS`), so a p99 here reads as it
does in a run's report. The HTML page draws every curve on one latency–load chart; the
CSV is raw numbers, one row per step, for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import math
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
from sockbench.report.numbers import FORMATTERS, fmt_decimal1, fmt_rate

REPORTS = {
    "report.md": SweepFormat.MD,
    "summary.csv": SweepFormat.CSV,
    "report.html": SweepFormat.HTML,
}
Curve = Mapping[str, Any]

#: How a search ended: (the capacity's sign, what limited the answer).
_FOUND: dict[str, tuple[str, str]] = {
    "capacity": ("", "the server"),
    "above_max": ("≥ ", "--rate-max"),
    "below_min": ("< ", "the server, below --rate-min"),
    "generator_limited": ("≥ ", "the generator (its steps' notes say why)"),
    "stopped": ("≥ ", "stopped early"),
    "unusable": ("", "the target, unusable at the lowest rate tried (its step's note says why)"),
}


def _title(doc: Mapping[str, Any]) -> str:
    return f"sockbench {doc.get('kind', 'sweep')} report"


def curves(doc: Mapping[str, Any]) -> list[Curve]:
    found: list[Curve] = doc.get("curves") or []
    return found


def _judged_by(doc: Mapping[str, Any]) -> str:
    """What every step was judged by: the SLOs, and the rate served."""
    return ", ".join([*(doc.get("slos") or []), KEPT_THE_RATE])


def capacity_text(search: Mapping[str, Any]) -> str:
    """``12,345 req/s``; ``≥ 3,000 req/s`` when only a lower bound is known (what limited
    it: :func:`limited_by`); ``< 1,000 req/s`` when even ``--rate-min`` failed; ``none
    claimed`` when the target answered nothing usable."""
    sign, _ = _FOUND.get(str(search.get("found")), ("", ""))
    rate = search.get("capacity_rps")
    if search.get("found") == "unusable":
        return "none claimed"
    if search.get("found") == "below_min":
        rate = search.get("rate_min")
    return "unknown" if rate is None else f"{sign}{fmt_rate(rate)} req/s"


def limited_by(search: Mapping[str, Any]) -> str:
    return _FOUND.get(str(search.get("found")), ("", "unknown"))[1]


def _bracket(search: Mapping[str, Any]) -> str:
    """``highest pass – lowest fail``; the top the generator could not offer, marked."""
    low, fail, invalid = (
        search.get("highest_pass_rps"), search.get("lowest_fail_rps"),
        search.get("lowest_invalid_rps"),
    )  # fmt: skip
    if fail is None and invalid is not None:
        return f"{fmt_rate(low)} – {fmt_rate(invalid)} (invalid)"
    return f"{fmt_rate(low)} – {fmt_rate(fail)}"


def _top(search: Mapping[str, Any]) -> float:
    """The lowest rate known not to pass; infinite when none is (no upper bound)."""
    tops = [r for r in (search.get("lowest_fail_rps"), search.get("lowest_invalid_rps")) if r]
    return min(tops) if tops and search.get("found") == "capacity" else math.inf


def _low(curve: Curve) -> float:
    """The bracket's lower end: the highest pass, or when its repeat failed, the highest
    rate that passed below it (the answer sat on the knee's noise)."""
    search = curve.get("search") or {}
    low = float(search.get("highest_pass_rps") or 0)
    if search.get("confirmed") is False:
        below = [
            s["rate"]
            for s in curve.get("steps") or []
            if s["verdict"] == "pass" and s["rate"] < low
        ]
        return float(max(below, default=0))
    return low


def winner(found: Sequence[Curve]) -> int | None:
    """The curve whose bracket lies clear above every other's: its repeat agreed, and its
    highest pass is above every other's lowest fail by the search's precision (a step of
    the search is that coarse). None when the brackets come that close, or some curve has
    no upper bound: the data does not name one."""
    searched = [(i, c) for i, c in enumerate(found) if c.get("search")]
    if len(searched) < 2:
        return None
    for i, curve in searched:
        search = curve["search"]
        if search.get("confirmed") is False:
            continue
        margin = 1 + float(search.get("precision") or 0)
        if all(_low(curve) > _top(other["search"]) * margin for j, other in searched if j != i):
            return i
    return None


def _cpu_per_request_us(curve: Curve) -> float | None:
    """Server CPU per request at the capacity, in µs: its CPU share over its rate."""
    search = curve.get("search") or {}
    rate = search.get("highest_pass_rps")
    for step in reversed(curve.get("steps") or []):
        row = step.get("row") or {}
        if step["rate"] == rate and step["verdict"] == "pass" and row.get("rps"):
            cpu = row.get("server.cpu")
            return None if cpu is None else float(cpu) * 1e4 / float(row["rps"])
    return None


def capacity_section(doc: Mapping[str, Any]) -> Section | None:
    found = curves(doc)
    if not any(c.get("search") for c in found):
        return None
    rows = []
    for curve in found:
        search = curve.get("search") or {}
        confirmed = search.get("confirmed")
        repeat = "—" if confirmed is None else "agreed" if confirmed else "DISAGREED"
        rows.append((
            curve["label"], capacity_text(search), _bracket(search), limited_by(search),
            fmt_decimal1(_cpu_per_request_us(curve)), repeat, str(len(curve.get("steps") or [])),
        ))  # fmt: skip
    best = winner(found)
    first = found[0].get("search") or {}
    align: tuple[Align, ...] = ("l", "r", "r", "l", "r", "l", "r")
    return Section(
        "Capacity",
        fields=(
            ("at", _judged_by(doc)),
            ("precision", f"{first.get('precision', 0):.0%}"),
            ("took", f"{doc.get('elapsed_s', 0):.0f} s"),
        ),
        table=Table(
            ("workload", "capacity", "pass – fail", "limited by", "server µs CPU/req", "repeat",
             "steps"),
            tuple(rows), align, best=frozenset() if best is None else frozenset({(best, 1)}),
        ),
        note="the winner: its bracket lies clear above every other's",
        notes=() if best is not None or len(found) < 2 else (
            "no winner: the brackets come within the precision of each other, a repeat "
            "disagreed, or one has no upper bound",
        ),
        key="capacity",
    )  # fmt: skip


def steps_section(doc: Mapping[str, Any], curve: Curve, titled: bool) -> Section:
    columns = row_metrics()
    search = curve.get("search") is not None
    headers = (
        "step",
        *(("phase",) if search else ()),
        "rate",
        *(m.title for m in columns),
        "verdict",
    )
    rows = []
    for i, step in enumerate(curve.get("steps") or [], 1):
        row = step.get("row") or {}
        phase = (step.get("phase", ""),) if search else ()
        cells = [str(i), *phase, format_rate(step["rate"], grouped=True)]
        cells += [FORMATTERS[m.fmt](row.get(m.name)) for m in columns]
        cells.append(step["verdict"])
        rows.append(tuple(cells))
    number: Align = "r"
    first: tuple[Align, ...] = ("r", "l", "r") if search else ("r", "r")
    align = (*first, *(number for _ in columns), "l")
    notes = tuple(
        f"step {i}: {'; '.join(step['reasons'])}"
        for i, step in enumerate(curve.get("steps") or [], 1)
        if step.get("reasons")
    )
    fields = () if titled else (
        ("judged by", _judged_by(doc)),
        ("status", str(doc.get("status", ""))),
    )  # fmt: skip
    return Section(
        f"Steps: {curve['label']}" if titled else "Steps", fields=fields,
        table=Table(tuple(headers), tuple(rows), align), notes=notes, key="steps",
    )  # fmt: skip


def sections(doc: Mapping[str, Any]) -> list[Section]:
    found = curves(doc)
    capacity = capacity_section(doc)
    titled = len(found) > 1
    parts = [*([capacity] if capacity else []), *(steps_section(doc, c, titled) for c in found)]
    if titled:
        parts.insert(int(capacity is not None), Section(
            "Runs", fields=(
                ("judged by", _judged_by(doc)),
                ("status", str(doc.get("status", ""))),
            ), key="runs",
        ))  # fmt: skip
    return parts


def chart_svg(doc: Mapping[str, Any]) -> str:
    """Every curve on one latency–load chart: a point per rate asked, its last valid step
    (an invalid one measured the generator, not the server; an unusable one, nothing), in
    the order of the rates."""
    lines: dict[str, list[Mapping[str, Any]]] = {}
    for curve in curves(doc):
        by_rate = {
            s["rate"]: s.get("row") or {}
            for s in curve.get("steps") or []
            if s["verdict"] not in ("invalid", "unusable")  # measured no server
        }
        lines[curve["label"]] = [by_rate[rate] for rate in sorted(by_rate)]
    return charts.latency_load("latency against load", lines)


def render_csv(doc: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = row_metrics()
    writer.writerow(
        ["workload", "step", "phase", "rate", *(m.name for m in columns), "verdict", "result"]
    )
    for curve in curves(doc):
        for i, step in enumerate(curve.get("steps") or [], 1):
            row = step.get("row") or {}
            values = ["" if row.get(m.name) is None else row[m.name] for m in columns]
            writer.writerow([
                curve["label"], i, step.get("phase", ""), step["rate"], *values, step["verdict"],
                step["result"],
            ])  # fmt: skip
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
