"""The report of a compare: its summary, significance, saturated cells, checks, warnings.

One section list for every format. A cell whose load generator saturated is named
once, in *Generator saturated*, instead of in a warning per cell, and takes no part
in a verdict; its summary row carries the ``SATURATED`` marker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sockbench.core import significance
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.report import numbers, verdicts
from sockbench.report.content import Section
from sockbench.report.document import Doc, cell_key, cells, get, model_name
from sockbench.report.resource_fields import environment_fields
from sockbench.report.run_sections import checks_section
from sockbench.report.significance_table import significance_section
from sockbench.report.stream_fields import compare_stream_table
from sockbench.report.summary_table import in_display_order, summary_table

#: Words of a saturation warning in results older than ``warning_details``.
SATURATION_WORDS = "load generator"

NOISE_NOTE = (
    "req/s and latency carry no best mark: {why}; run with --repeat 3 or more and the "
    "Significance section names a winner where it is ahead by more than noise"
)
SATURATION_ADVICE = (
    "these cells measured the load generator, not the server: it ran out of CPU. "
    "Give it more --workers (and --client-cpus), use fewer --clients, or a lower rate, "
    "before reading them as the server's numbers; they are never marked best"
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
                *_served_tls(results),
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
    streams = compare_stream_table(in_display_order(results))
    if streams is not None:  # --mode stream: each side's bit rate, as iperf3 tags it
        out.append(
            Section(
                "Streams",
                key="streams",
                table=streams,
                notes=(
                    "TX-C: what the clients sent; server took: what it read of that (— where "
                    "it does not report); RX-C: what the clients read from the server "
                    "(--reverse, --bidir); req/s above counts the messages written (read, "
                    "for --reverse)",
                ),
            )
        )
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


def _served_tls(results: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """A ``tls`` line where the models served TLS (``--server-tls``, every cell's)."""
    if not any(get(r, "config", "server_tls") for r in results):
        return ()
    return (("tls", "the models served TLS (--server-tls): each cell's tcp is tls://"),)
