"""The report of one run, section by section: run, stream, datagrams, latency,
commands, resources, checks, nodes, warnings, environment.

A section appears only when the result has something for it (a closed-loop TCP run
has no *Datagrams*, a stream run's latency table only when it timed replies).
"""

from __future__ import annotations

from collections.abc import Sequence

from sockbench.core import checks
from sockbench.report.content import Align, Section, Table
from sockbench.report.document import Doc, get
from sockbench.report.latency_tables import kind_table, latency_table
from sockbench.report.resource_fields import environment_fields, node_table, resource_fields
from sockbench.report.run_fields import datagram_fields, run_fields
from sockbench.report.stream_fields import interval_table, stream_fields, stream_table
from sockbench.report.validity_fields import latency_notes


def run_sections(result: Doc) -> list[Section]:
    out = [Section("Run", key="run", fields=run_fields(result))]
    if result.get("stream"):
        out.append(
            Section(
                "Stream", key="stream", fields=stream_fields(result), table=stream_table(result)
            )
        )
        intervals = interval_table(result)
        if intervals is not None:  # iperf3's lines: a stream has no latencies to show
            out.append(Section("Intervals", key="stream_intervals", table=intervals))
    if result.get("datagrams"):
        out.append(Section("Datagrams", key="datagrams", fields=datagram_fields(result)))
    if (result.get("latency_us") or {}).get("count") or not result.get("stream"):
        out.append(
            Section(
                "Latency", key="latency", table=latency_table(result), notes=latency_notes(result)
            )
        )
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


def checks_section(results: Sequence[tuple[str, Doc]]) -> Section:
    """``--check`` outcomes, each with its measured value; ``results`` are (label, result)."""
    labelled = any(label for label, _ in results)
    rows = tuple(
        ((label,) if labelled else ())
        + (str(c["expr"]), str(c.get("measured", c["value"])), "pass" if c["passed"] else "FAIL")
        for label, result in results
        for c in result.get("checks") or ()
    )
    headers = (("cell",) if labelled else ()) + ("check", "measured", "result")
    left: tuple[Align, ...] = ("l",)
    align = left * (len(headers) - 2) + ("r", "l")
    return Section(
        "Checks",
        key="checks",
        table=Table(headers, rows, align),
        note=checks.summary(result for _, result in results) or "",
    )
