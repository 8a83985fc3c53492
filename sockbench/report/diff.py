"""``sockbench diff A B``: is B faster than A, and is the difference more than noise?

pyperf's ``compare_to`` for socket benchmarks. Each side is one or more saved
runs (repeats of one run) or compare folders; their cells are grouped by model
and workload. Two compare folders are matched cell by cell; two sets of runs of
one workload each are matched whatever their model, so ``diff threaded.json
asyncio.json`` compares two servers and ``diff before/*.json after/*.json`` two
versions. Each metric gets a table: A, B, "1.21× faster" or "1.08× slower" (B
against A), and whether the difference is significant by the rule of
:mod:`sockbench.core.significance` (Welch's t on the logarithms of the runs).

Either side holding a run judged not valid (docs/validity.md) is said in a note, and
in the JSON's ``validity``. Numbers from different machines are not comparable, so,
as pyperf does, a diff across hosts, CPU counts or sockbench major versions is
refused unless forced. A stream (``--mode stream``) against a request/reply run is
refused even forced: a stream's req/s counts messages, not requests, and it has no
latencies, so no ratio of the two means anything. Matched runs that differ in
transport, protocol, mode (echo, churn), a stream's direction, client count or open
against closed loop are compared, with a warning that says so: the change is then not
the server's alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sockbench.core import significance
from sockbench.core.kinds import Workload
from sockbench.core.metrics import Better, Metric, View, in_view
from sockbench.core.schemas import DIFF_SCHEMA
from sockbench.core.spec.formats import DiffFormat
from sockbench.core.spec.option import values_of
from sockbench.core.validity import not_valid as is_not_valid
from sockbench.core.validity import verdict_text
from sockbench.errors import SockbenchError
from sockbench.report import markdown, numbers, text
from sockbench.report.content import Section, Table
from sockbench.report.document import SWEEP_SCHEMA, Doc, cell_key, cells, get
from sockbench.report.verdicts import completed, workload_order

GroupKey = tuple[str, str, str, int]  # (model, proto, payload, clients)

#: The registry's ``diff`` view: req/s, offered req/s (open loop), p50, p99, p99.9.
METRICS: tuple[Metric, ...] = in_view(View.DIFF)

#: The formats :func:`render` writes (core.spec.formats: the one list of their names).
FORMATS: tuple[str, ...] = values_of(DiffFormat)
RULE = (
    "mean of each side; significant when the 95 % interval of B / A from Welch's t on "
    "the logarithms of the runs excludes 1 (docs/reports.md)"
)
NO_SIGNIFICANCE = (
    f"fewer than {significance.MIN_SAMPLES} runs on a side: the ratio is shown, but no "
    f"significance can be claimed; give each side {significance.MIN_SAMPLES} or more repeats"
)
NOT_POSITIVE = (
    "a run measured 0: its ratio is shown with n/a, as the test works on logarithms and "
    "needs every run above 0"
)


@dataclass(frozen=True)
class Row:
    """One metric of one matched pair of groups."""

    label: str
    a: list[float]
    b: list[float]
    verdict: significance.Verdict | None


def _group(docs: Sequence[Doc]) -> dict[GroupKey, list[Doc]]:
    groups: dict[GroupKey, list[Doc]] = {}
    for doc in docs:
        for r in cells(doc):
            if completed(r):
                key = cell_key(r)
                groups.setdefault((key.model, key.proto, str(key.payload), key.clients), []).append(
                    r
                )
    return groups


def _label(key: GroupKey) -> str:
    model, proto, payload, clients = key
    size = int(payload) if payload.isdigit() else payload
    return f"{model} {proto} {numbers.fmt_payload(size)} {clients:,} clients"


def pairs(a: Sequence[Doc], b: Sequence[Doc]) -> list[tuple[str, list[Doc], list[Doc]]]:
    """Matched (label, A results, B results): by cell, or the one group of each side.
    SockbenchError when a stream would be matched with a request/reply run."""
    for side, docs in (("A", a), ("B", b)):
        if any(doc.get("schema") == SWEEP_SCHEMA for doc in docs):
            raise SockbenchError(
                f"{side} is a sweep or search (sweep.json), a run per rate: diff the result "
                "folders of its steps"
            )
    ga, gb = _group(a), _group(b)
    if not ga or not gb:
        side = "A" if not ga else "B"
        raise SockbenchError(f"{side} holds no completed run to compare")
    common = sorted(set(ga) & set(gb), key=lambda k: (workload_order(k[1:]), k[0]))
    if common:
        matched = [(_label(k), ga[k], gb[k]) for k in common]
    elif len(ga) == 1 and len(gb) == 1:
        (ka, ra), (kb, rb) = next(iter(ga.items())), next(iter(gb.items()))
        label = _label(ka) if ka == kb else f"{_label(ka)} → {_label(kb)}"
        matched = [(label, ra, rb)]
    else:
        raise SockbenchError("A and B share no cell (model, proto, payload, clients) to compare")
    for _, ra, rb in matched:
        _check_modes(ra, rb)
    return matched


def _mode(result: Doc) -> str:
    """``echo``, ``churn`` or ``stream`` (results from before ``--mode`` ran echo)."""
    return str(get(result, "config", "mode") or Workload.ECHO)


def _check_modes(ra: Sequence[Doc], rb: Sequence[Doc]) -> None:
    """Refuse to match a stream with a request/reply run, --force or not: the stream's
    req/s counts --payload-sized messages and its latencies are zeros, so a ratio of the
    two (``5639.27× slower``) means nothing."""
    modes_a, modes_b = _seen(ra, _mode), _seen(rb, _mode)
    modes = set(modes_a) | set(modes_b)
    if Workload.STREAM in modes and len(modes) > 1:
        raise SockbenchError(
            f"A and B are not comparable: their modes differ ({_sides(modes_a, modes_b)}); "
            "a stream counts messages, not requests, and times no replies; diff runs of one "
            "--mode"
        )


def _loop(result: Doc) -> str:
    rate = get(result, "config", "rate")
    return f"open loop at {numbers.fmt_rate(rate)}/s" if rate else "closed loop"


#: What matched runs may differ in and still be compared, with a warning: (what, read).
DIFFERENCES: tuple[tuple[str, Callable[[Doc], str]], ...] = (
    ("transport", lambda r: str(get(r, "config", "proto") or "?")),
    ("protocol", lambda r: str(get(r, "config", "protocol") or "echo")),
    ("mode", _mode),
    (
        "stream direction",
        lambda r: (
            str(get(r, "config", "direction") or "forward") if _mode(r) == Workload.STREAM else ""
        ),
    ),
    ("client count", lambda r: numbers.fmt_int(get(r, "config", "clients"))),
    ("open or closed loop", _loop),
)


def _seen(results: Sequence[Doc], read: Callable[[Doc], str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(read(r) for r in results))


def _sides(seen_a: Sequence[str], seen_b: Sequence[str]) -> str:
    return f"A {', '.join(seen_a)}, B {', '.join(seen_b)}"


def differences(a: Sequence[Doc], b: Sequence[Doc]) -> tuple[str, ...]:
    """``A and B differ in transport (A tcp, B udp): ...``: one line per way the matched
    runs of A and B differ in what they ran, where the numbers still count the same
    things (a stream against a request/reply run is refused: :func:`pairs`)."""
    lines: list[str] = []
    matched = pairs(a, b)
    for what, read in DIFFERENCES:
        for _, ra, rb in matched:
            seen_a, seen_b = _seen(ra, read), _seen(rb, read)
            if set(seen_a) | set(seen_b) != {seen_a[0]}:
                lines.append(
                    f"A and B differ in {what} ({_sides(seen_a, seen_b)}): the change is not "
                    "the server's alone; diff like with like"
                )
    return tuple(dict.fromkeys(lines))


def check_comparable(a: Sequence[Doc], b: Sequence[Doc]) -> None:
    """Refuse (SockbenchError, exit 2) numbers from different hosts, CPU counts or
    sockbench major versions."""
    for what, read in (
        ("hosts", lambda d: get(d, "environment", "hostname")),
        ("CPU counts", lambda d: get(d, "environment", "cpu_count")),
        ("sockbench major versions", _major),
    ):
        seen_a = {read(d) for d in a} - {None}
        seen_b = {read(d) for d in b} - {None}
        if seen_a and seen_b and seen_a != seen_b:
            shown = f"{', '.join(map(str, sorted(seen_a, key=str)))} vs " + ", ".join(
                map(str, sorted(seen_b, key=str))
            )
            raise SockbenchError(
                f"A and B ran on different {what} ({shown}); their numbers are not "
                "comparable; pass --force to diff them anyway"
            )


def _major(doc: Doc) -> str | None:
    version = get(doc, "environment", "sockbench") or doc.get("sockbench_version")
    return str(version).split(".")[0] if version else None


def rows(a: Sequence[Doc], b: Sequence[Doc]) -> dict[str, list[Row]]:
    """Per metric key, one row per matched pair."""
    matched = pairs(a, b)
    out: dict[str, list[Row]] = {}
    for metric in METRICS:
        for label, ra, rb in matched:
            va = [float(v) for r in ra if (v := metric.value(r)) is not None]
            vb = [float(v) for r in rb if (v := metric.value(r)) is not None]
            if va and vb:
                out.setdefault(metric.key, []).append(
                    Row(label, va, vb, significance.compare(va, vb))
                )
    return out


def change(metric: Metric, verdict: significance.Verdict | None) -> str:
    """``1.21× faster`` / ``1.08× slower`` / ``same``: B against A, pyperf's words."""
    if verdict is None:
        return numbers.DASH
    ratio = verdict.ratio
    if ratio == 0.0:  # B measured 0: no factor says how much less
        return numbers.DASH
    if ratio == 1.0:
        return "same"
    better = ratio > 1.0 if metric.better is Better.HIGHER else ratio < 1.0
    factor = ratio if ratio > 1.0 else 1.0 / ratio
    return f"{factor:.2f}× {'faster' if better else 'slower'}"


def significance_text(verdict: significance.Verdict | None) -> str:
    if verdict is None or verdict.significant is None:
        return "n/a"
    return "significant" if verdict.significant else "not significant"


def _mean(values: Sequence[float], fmt: Callable[[Any], str]) -> str:
    text = fmt(sum(values) / len(values))
    return text if len(values) == 1 else f"{text} (n={len(values)})"


def not_valid(docs: Sequence[Doc]) -> tuple[int, list[str]]:
    """A side's completed runs (those a diff compares), and the verdicts of those judged
    not valid (docs/validity.md)."""
    runs = [r for doc in docs for r in cells(doc) if completed(r)]
    return len(runs), [verdict_text(r.get("validity")) or "" for r in runs if is_not_valid(r)]


def validity_notes(a: Sequence[Doc], b: Sequence[Doc]) -> tuple[str, ...]:
    """``A is not valid: 1 of 3 runs (not valid: p99 rose 25 % ...)``, for either side."""
    notes = []
    for side, docs in (("A", a), ("B", b)):
        runs, verdicts = not_valid(docs)
        if verdicts:
            more = f", and {len(verdicts) - 1} more" if len(verdicts) > 1 else ""
            notes.append(
                f"{side} is not valid: {len(verdicts)} of {runs} runs ({verdicts[0]}{more}); "
                "its numbers may be the run's accident rather than the server's "
                "(docs/validity.md)"
            )
    return tuple(notes)


def sections(a: Sequence[Doc], b: Sequence[Doc], names: tuple[str, str]) -> list[Section]:
    """The diff report: what A and B are, then one table per metric."""
    found = rows(a, b)
    every_row = [r for metric_rows in found.values() for r in metric_rows]
    reasons = {r.verdict.reason for r in every_row if r.verdict is not None}
    notes = (
        tuple(
            note
            for reason, note in (
                (significance.TOO_FEW, NO_SIGNIFICANCE),
                (significance.NOT_POSITIVE, NOT_POSITIVE),
            )
            if reason in reasons
        )
        + validity_notes(a, b)
        + differences(a, b)
    )
    out = [
        Section(
            "Diff",
            key="diff",
            fields=(("A", names[0]), ("B", names[1]), ("rule", RULE)),
            notes=notes,
        )
    ]
    for metric in METRICS:
        metric_rows = found.get(metric.key) or []
        if not metric_rows:
            continue
        table = Table(
            headers=("cell", "A", "B", "change", "significance"),
            rows=tuple(
                (
                    r.label,
                    _mean(r.a, numbers.FORMATTERS[metric.fmt]),
                    _mean(r.b, numbers.FORMATTERS[metric.fmt]),
                    change(metric, r.verdict),
                    significance_text(r.verdict),
                )
                for r in metric_rows
            ),
            align=("l", "r", "r", "r", "l"),
        )
        better = metric.better or Better.HIGHER
        out.append(
            Section(metric.title, key=metric.key, table=table, notes=(f"{better} is better",))
        )
    return out


def to_json(a: Sequence[Doc], b: Sequence[Doc], names: tuple[str, str]) -> dict[str, Any]:
    """The diff as a ``sockbench.diff/1`` document (raw numbers)."""
    metrics: dict[str, list[dict[str, Any]]] = {}
    for key, metric_rows in rows(a, b).items():
        metric = next(m for m in METRICS if m.key == key)
        metrics[key] = [
            {
                "cell": r.label,
                "a": r.a,
                "b": r.b,
                "ratio": None if r.verdict is None else round(r.verdict.ratio, 6),
                "ci95": None
                if r.verdict is None or r.verdict.significant is None
                else [round(r.verdict.low, 6), round(r.verdict.high, 6)],
                "change": change(metric, r.verdict),
                "significant": None if r.verdict is None else r.verdict.significant,
            }
            for r in metric_rows
        ]
    validity = {}
    for side, docs in (("a", a), ("b", b)):
        runs, verdicts = not_valid(docs)
        validity[side] = {"runs": runs, "not_valid": len(verdicts), "verdicts": verdicts}
    return {
        "schema": DIFF_SCHEMA,
        "a": names[0],
        "b": names[1],
        "metrics": metrics,
        "validity": validity,
        "differences": list(differences(a, b)),
    }


def render(a: Sequence[Doc], b: Sequence[Doc], names: tuple[str, str], fmt: str) -> str:
    """The diff in ``text``, ``md``, ``html`` or ``json``."""
    if fmt == DiffFormat.JSON:
        return json.dumps(to_json(a, b, names), indent=2, ensure_ascii=False) + "\n"
    found = sections(a, b, names)
    title = "sockbench diff"
    if fmt == DiffFormat.TEXT:
        return text.page(title, found)
    if fmt == DiffFormat.MD:
        return markdown.page(title, found)
    if fmt == DiffFormat.HTML:
        from sockbench.report import html  # matplotlib: only when asked for

        header = f"<header><h1>{title}</h1></header>"
        return html.page(title, [header, *(html.section_html(s) for s in found)])
    raise SockbenchError(f"unknown diff format {fmt!r} (choose from {', '.join(FORMATS)})")


def describe_side(paths: Sequence[str]) -> str:
    return paths[0] if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more"
