"""The registry, and every format rendering every stored document."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from rich.console import Console

from sockbench.errors import SockbenchError
from sockbench.report import EXTENSIONS, FORMATS, load, render
from sockbench.report import csv as csv_format
from sockbench.report.content import Table
from sockbench.report.document import cell_key, cells
from sockbench.report.terminal import label_columns, pick_columns, print_report, wrap
from sockbench.report.validity_fields import CI_NOTE
from tests.report.conftest import RESULT_TCP, html_of


def test_registry() -> None:
    assert set(FORMATS) == {"html", "md", "csv", "hgrm", "text"}
    assert set(EXTENSIONS) == set(FORMATS)
    with pytest.raises(SockbenchError, match="unknown report format 'pdf'"):
        render({}, "pdf")


# html draws every chart: seconds per document, so make unit leaves it to make e2e.
@pytest.mark.parametrize(
    "fmt", [pytest.param(f, marks=pytest.mark.slow) if f == "html" else f for f in sorted(FORMATS)]
)
def test_every_format_renders_every_document(any_doc: tuple[str, dict[str, Any]], fmt: str) -> None:
    name, doc = any_doc
    before = json.dumps(doc, sort_keys=True)
    output = html_of(name) if fmt == "html" else render(doc, fmt)
    assert isinstance(output, str) and output.endswith("\n")
    assert "\x1b[" not in output
    # Pure: the same bytes every time (HTML: see test_html), the document untouched.
    if fmt != "html":
        assert render(doc, fmt) == output
    assert json.dumps(doc, sort_keys=True) == before


def test_csv_one_row_per_cell_with_raw_numbers(any_doc: tuple[str, dict[str, Any]]) -> None:
    _, doc = any_doc
    rows = list(csv.DictReader(io.StringIO(render(doc, "csv"))))
    assert len(rows) == len(cells(doc))
    assert tuple(rows[0]) == csv_format.HEADER
    for row, result in zip(rows, cells(doc), strict=True):
        assert float(row["throughput_rps"]) == result["totals"]["throughput_rps"]
        assert int(row["latency_p99_us"]) == result["latency_us"]["p99"]
        assert int(row["latency_count"]) == result["latency_us"]["count"]
        assert row["service_time_p50_us"] == (
            str(result["service_time_us"]["p50"]) if result["service_time_us"] else ""
        )
        if result["datagrams"]:
            assert int(row["datagrams_lost"]) == result["datagrams"]["lost"]


def test_csv_header_is_stable() -> None:
    # Scripts read columns by position; extending the list is fine, reordering is not.
    assert csv_format.HEADER[:12] == (
        "model",
        "proto",
        "mode",
        "clients",
        "payload",
        "repeat",
        "rate",
        "status",
        "target",
        "started_at",
        "duration_s",
        "requests",
    )


def test_csv_appends_registry_metrics_after_the_fixed_columns(tcp_doc: dict[str, Any]) -> None:
    # offered_rps (core/metrics.py) is not in the layout: it comes after the last fixed
    # column, so no column a script reads by position moves.
    header = csv_format.HEADER
    assert header[header.index("warnings") + 1 :] == (
        "offered_rps", "datagrams_unsolicited", "datagrams_generator_drops",
        "datagrams_target_drops", "accept_queue_drops",
    )  # fmt: skip
    [closed] = list(csv.DictReader(io.StringIO(render(tcp_doc, "csv"))))
    assert closed["offered_rps"] == ""
    doc = {**tcp_doc, "totals": {**tcp_doc["totals"], "offered_rps": 1990.5}}
    [row] = list(csv.DictReader(io.StringIO(render(doc, "csv"))))
    assert row["offered_rps"] == "1990.5"
    # Datagrams that answer no request: the result's count, a column of its own.
    doc = {**tcp_doc, "datagrams": {"sent": 5, "received": 5, "unsolicited": 7}}
    [row] = list(csv.DictReader(io.StringIO(render(doc, "csv"))))
    assert row["datagrams_unsolicited"] == "7" and closed["datagrams_unsolicited"] == ""
    drops = {"sent": 5, "received": 5, "generator_drops": 3, "target_drops": 11}
    [row] = list(csv.DictReader(io.StringIO(render({**tcp_doc, "datagrams": drops}, "csv"))))
    assert (row["datagrams_generator_drops"], row["datagrams_target_drops"]) == ("3", "11")
    queue = {"backlog": 8, "sockets": 1, "drops": 13}
    [row] = list(csv.DictReader(io.StringIO(render({**tcp_doc, "accept_queue": queue}, "csv"))))
    assert row["accept_queue_drops"] == "13" and closed["accept_queue_drops"] == ""


def test_csv_columns_follow_percentiles(tcp_doc: dict[str, Any]) -> None:
    """--percentiles 50,99.999: those columns, with the recorded values; no p90."""
    from copy import deepcopy

    from sockbench.core.result import add_percentiles

    doc = deepcopy(tcp_doc)
    add_percentiles(doc, (50.0, 99.999))
    [row] = list(csv.DictReader(io.StringIO(render(doc, "csv"))))
    assert int(row["latency_p99_999_us"]) == doc["latency_us"]["percentiles"]["99.999"]
    assert int(row["latency_p50_us"]) == doc["latency_us"]["percentiles"]["50"]
    assert "latency_p90_us" not in row and "connect_p99_999_us" in row
    names = list(row)
    assert names.index("latency_stdev_us") < names.index("latency_p50_us")
    assert names.index("latency_p99_999_us") < names.index("latency_max_us")


def test_text_udp_identity(udp_doc: dict[str, Any]) -> None:
    d = udp_doc["datagrams"]
    assert d["sent"] == d["received"] + d["lost"] + d["in_flight"]
    text = render(udp_doc, "text")
    assert f"sent {d['sent']:,} = received {d['received']:,} + lost {d['lost']:,}" in text
    assert "does not add up" not in text
    broken = {**udp_doc, "datagrams": {**d, "received": d["received"] - 5}}
    assert "does not add up: off by +5" in render(broken, "text")


def test_text_sections(tcp_doc: dict[str, Any], compare_doc: dict[str, Any]) -> None:
    text = render(tcp_doc, "text")
    for needle in ("latency", "connect", "errors", "reset 1, timeout 3", "Warnings", "threaded"):
        assert needle in text
    table = render(compare_doc, "text").split("Summary\n-------\n")[1].split("\n\n")[0]
    # Header, one line per cell, the note on best values, the note on noise.
    assert len(table.splitlines()) == 1 + len(cells(compare_doc)) + 2


def test_markdown_compare_table(compare_doc: dict[str, Any]) -> None:
    md = render(compare_doc, "md")
    table = [line for line in md.splitlines() if line.startswith("| ")]
    header = table[0]
    for title in ("model", "req/s", "p99.9", "lost", "server CPU %", "RSS MiB", "threads"):
        assert f" {title} " in header
    assert len(table) == 2 + len(cells(compare_doc))
    assert "## Environment" in md and "**bold**" not in md


def test_single_runs_claim_no_noisy_best(compare_doc: dict[str, Any]) -> None:
    md = render(compare_doc, "md")
    summary = md.split("## Summary\n\n")[1].split("\n\n")[0]
    rows = [line for line in summary.splitlines() if " 64 B " in line]
    keys = []
    for row in rows:
        cols = [c.strip() for c in row.strip("|").split("|")]
        # req/s .. server CPU % are noise-sensitive: never bold from one run each.
        assert not any(c.startswith("**") for c in cols[4:12]), row
        keys.append((cols[1], int(cols[2])))
    assert keys == sorted(keys), "rows grouped by workload"
    assert "one run per cell cannot tell a difference from noise" in md


@pytest.mark.slow  # renders every format, charts included
def test_saturated_cell_is_marked_and_never_best(compare_doc: dict[str, Any]) -> None:
    md = render(compare_doc, "md")
    summary = md.split("## Summary\n\n")[1].split("\n\n")[0]
    saturated = [r for r in summary.splitlines() if "SATURATED" in r]
    assert len(saturated) == 2 and all("**" not in r for r in saturated)
    for fmt in ("text", "md", "html"):
        page = render(compare_doc, fmt)
        assert "SATURATED" in page
        # One notice: the section, not a per-cell warning as well.
        assert page.count("Generator saturated") == 1
        assert "load generator CPU reached" not in page


def test_repeat_and_status_columns(compare_doc: dict[str, Any]) -> None:
    first = {**cells(compare_doc)[0], "status": "server_died"}
    second = {**cells(compare_doc)[1], "cell": {**cells(compare_doc)[1]["cell"], "repeat": 2}}
    doc = {**compare_doc, "cells": [first, second]}
    header = render(doc, "md").split("## Summary\n\n")[1].splitlines()[0]
    assert "| repeat |" in header and header.endswith("| status |")
    assert "server_died" in render(doc, "text")


def test_terminal_report(tcp_doc: dict[str, Any], compare_doc: dict[str, Any]) -> None:
    for doc in (tcp_doc, compare_doc):
        console = Console(record=True, width=200, force_terminal=False)
        print_report(doc, console)
        out = console.export_text()
        assert "Environment" in out and "bench-01" in out
    assert all(c["cell"]["model"] in out for c in cells(compare_doc))


def test_terminal_fits_narrow_consoles(compare_doc: dict[str, Any]) -> None:
    first = {**cells(compare_doc)[0], "warnings": ["12 datagrams arrived late"]}
    compare_doc = {**compare_doc, "cells": [first, *cells(compare_doc)[1:]]}
    wide = Console(record=True, width=250)
    print_report(compare_doc, wide)
    narrow = Console(record=True, width=80)
    print_report(compare_doc, narrow)
    wide_text, narrow_text = wide.export_text(), narrow.export_text()
    for column in ("RSS MiB", "p90", "p99.99", "stdev"):
        assert (column in wide_text) == (column in narrow_text), column
    assert "…" not in narrow_text.split("Summary")[1].split("Warnings")[0]
    assert all(len(line) <= 80 for line in narrow_text.splitlines())
    # Bracketed cell labels in warnings are text, not rich markup.
    assert f"[{cell_key(first).label}]" in narrow_text


def test_a_wrapped_table_s_notes_span_the_console_not_its_last_part(
    tcp_doc: dict[str, Any],
) -> None:
    narrow = Console(record=True, width=60)
    print_report(tcp_doc, narrow)
    lines = [line.rstrip() for line in narrow.export_text().splitlines()]
    last_part = next(line for line in lines if line.split()[:1] == ["max"])
    assert len(last_part) < len(CI_NOTE)  # wrapped: its last part is narrower than the note
    assert CI_NOTE in lines


def test_picked_columns_keep_best_positions() -> None:
    table = Table(("a", "b", "c"), (("1", "2", "3"),), ("l", "r", "r"), frozenset({(0, 0), (0, 2)}))
    cut = pick_columns(table, [0, 2])
    assert cut.headers == ("a", "c") and cut.rows == (("1", "3"),)
    assert cut.best == frozenset({(0, 0), (0, 1)})


def test_external_target_has_a_model_label(tcp_doc: dict[str, Any]) -> None:
    external = {**tcp_doc, "server": {"model": None, "target": "tcp://10.0.0.5:7000"}}
    external["config"] = {**tcp_doc["config"], "server_model": None}
    text = render(external, "text")
    assert "server model  external" in text and "tcp://10.0.0.5:7000" in text


def test_minimal_documents_render() -> None:
    # A result as an interrupted run might leave it: most optional parts missing.
    bare = {"schema": "sockbench.result/1", "status": "interrupted", "config": {}, "totals": {}}
    compare = {"schema": "sockbench.compare/1", "cells": []}
    for fmt in FORMATS:
        assert render(bare, fmt)
        assert render(compare, fmt)


def test_one_saturation_notice_read_from_warning_details(compare_doc: dict[str, Any]) -> None:
    from sockbench.core.warning import RunWarning, WarningKind

    saturated = RunWarning(
        WarningKind.GENERATOR_SATURATED, "the generator used 99% CPU", "add --workers"
    )
    other = RunWarning(WarningKind.RATE_NOT_KEPT, "the load generator could not keep the rate")
    first = {
        **cells(compare_doc)[0],
        "generator": {"cpu_percent_mean": 99.0, "workers": 1, "saturated": True},
        "warnings": [saturated.text(), other.text()],
        "warning_details": [saturated.to_json(), other.to_json()],
    }
    doc = {**compare_doc, "cells": [first, *cells(compare_doc)[1:]]}
    text = render(doc, "text")
    assert saturated.text() not in text  # the Generator saturated section says it once
    assert other.text() in text  # other warnings stay, whatever their words


@pytest.mark.parametrize(
    ("config", "clients", "line"),
    [
        ({}, 100, "tcp echo, 100 clients, payload 64 B"),
        ({"protocol": "redis", "ratio": [1, 10], "key_space": 1000}, 1, "tcp, 1 client, "),
        ({"mode": "stream"}, 2, "tcp stream, 2 clients"),
    ],
    ids=["echo", "protocol", "stream"],
)
def test_the_workload_line_names_what_was_sent(
    config: dict[str, Any], clients: int, line: str
) -> None:
    """A protocol run is not an echo: its line names the protocol, not echo mode."""
    doc = load(RESULT_TCP)
    doc["config"].update(config)
    doc["config"]["clients"] = clients
    doc.get("cell", {}).pop("clients", None)
    text = render(doc, "text")
    workload = next(row for row in text.splitlines() if row.startswith("workload"))
    assert workload.split(None, 1)[1].startswith(line)
    assert ("echo" in workload) == (line.startswith("tcp echo"))


def test_a_run_with_no_reply_shows_no_latency_and_says_whose_bytes_it_counts(
    udp_doc: dict[str, Any],
) -> None:
    """A silent target: every request lost. Its empty histogram's zeros are no latency,
    and the bytes are the answered requests' (none), not what went out."""
    totals = {**udp_doc["totals"], "requests": 0, "bytes_sent": 0, "bytes_received": 0}
    totals.update(requests_issued=1000, requests_failed={"lost": 1000}, in_flight=0)
    empty = {**udp_doc["latency_us"], "count": 0}
    doc = {**udp_doc, "totals": totals, "latency_us": empty}
    row = next(line for line in render(doc, "md").splitlines() if line.startswith("| latency |"))
    assert row.count("—") == row.count("|") - 3  # all but the label and the count
    assert "0 B sent, 0 B received by the answered requests" in render(doc, "text")
    assert "by the answered requests" not in render(udp_doc, "text")
    [csv_row] = csv.DictReader(io.StringIO(render(doc, "csv")))
    assert csv_row["latency_count"] == "0"
    assert csv_row["latency_p50_us"] == csv_row["latency_min_us"] == csv_row["latency_max_us"] == ""


def test_a_wrapped_table_repeats_the_columns_that_name_its_rows() -> None:
    """A compare's model repeats per protocol: the continuation keeps both, or its rows
    read 'asyncio' twice with nothing to tell them apart."""
    rows = (
        ("asyncio", "tcp", "1", "2", "3"),
        ("selectors", "tcp", "1", "2", "3"),
        ("asyncio", "udp", "1", "2", "3"),
    )
    table = Table(("model", "proto", "a", "b", "c"), rows, ("l", "l", "r", "r", "r"))
    assert label_columns(table) == 2
    assert label_columns(Table(("kind", "a", "b"), (("x", "1", "2"),), ("l", "r", "r"))) == 1
    same = Table(("m", "a", "b"), (("x", "1", "2"), ("x", "1", "2")), ("l", "r", "r"))
    assert label_columns(same) == 1  # nothing tells them apart: the first as before
    wide = Table(
        ("model", "proto", *(f"column {i}" for i in range(12))),
        tuple((*row[:2], *(f"{i:,} req/s" for i in range(12))) for row in rows),
        ("l", "l", *("r",) * 12),
    )
    parts = wrap(wide, Console(width=80))
    assert len(parts) > 1
    assert all(part.headers[:2] == ("model", "proto") for part in parts)
    assert [h for part in parts for h in part.headers[2:]] == list(wide.headers[2:])


def test_the_datagrams_section_says_where_the_kernel_dropped_them(udp_doc: dict[str, Any]) -> None:
    d = udp_doc["datagrams"]
    assert "generator_drops" not in d and "dropped" not in render(udp_doc, "text")  # older
    doc = {**udp_doc, "datagrams": {**d, "generator_drops": 1234, "target_drops": 56}}
    [line] = [s for s in render(doc, "text").splitlines() if "dropped" in s]
    assert "at the target's socket 56, at the generator's 1,234" in line
    doc = {**udp_doc, "datagrams": {**d, "generator_drops": 7}}  # a target not on this machine
    [line] = [s for s in render(doc, "text").splitlines() if "dropped" in s]
    assert "at the target's socket — (not known), at the generator's 7" in line
    doc = {**udp_doc, "datagrams": {**d, "generator_drops": 0}}  # nothing known but a zero
    assert "dropped" not in render(doc, "text")


def test_the_run_section_says_when_the_accept_queue_dropped_handshakes(
    tcp_doc: dict[str, Any],
) -> None:
    assert "accept queue" not in render(tcp_doc, "text")  # not known: not said
    kept_up = {**tcp_doc, "accept_queue": {"backlog": 4096, "sockets": 1, "drops": 0}}
    assert "accept queue" not in render(kept_up, "text")  # nothing to say: the JSON has it
    doc = {**tcp_doc, "accept_queue": {"backlog": 8, "sockets": 1, "drops": 2213}}
    text = " ".join(render(doc, "text").split())
    assert (
        "accept queue dropped 2,213 handshake packets, its backlog of 8 full (over the run, "
        "warm-up included)"
    ) in text


def test_the_run_section_says_what_the_error_replies_said(tcp_doc: dict[str, Any]) -> None:
    assert "replied" not in render(tcp_doc, "text")
    said = {"-ERR max number of clients reached": 103, "-OOM command not allowed": 7}
    doc = {**tcp_doc, "totals": {**tcp_doc["totals"], "error_replies": said}}
    [line] = [s for s in render(doc, "text").splitlines() if s.strip().startswith("replied")]
    assert "'-ERR max number of clients reached' 103; '-OOM command not allowed' 7" in line
