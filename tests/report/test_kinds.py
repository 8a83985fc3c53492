"""Each kind of request (redis/memcache set, get): the Commands table and the CSV's
per-kind columns, read through the registry's kind.KIND.NAME family (pure)."""

from __future__ import annotations

import copy
import csv
import functools
import io
from typing import Any

from sockbench.core.histogram import Recorder, summarize
from sockbench.report import csv as csv_report
from sockbench.report.document import Doc
from sockbench.report.latency_tables import kind_table


def _summary(values: range | list[int]) -> dict[str, Any]:
    rec = Recorder()
    for v in values:
        rec.record(v)
    return summarize(rec.histogram).to_json()


@functools.cache  # summarize walks every bucket in Python: once per session
def _latency_by_kind() -> dict[str, Any]:
    return {
        "set": _summary(range(100, 3000, 3)),
        "get": _summary(range(50, 900)),
        "del": _summary([]),
    }


def _kinded(tcp_doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(tcp_doc)
    doc["totals"]["by_kind"] = {
        "set": {"requests": 1000, "throughput_rps": 333.333,
                "errors": {"protocol_error": 3, "timeout": 1}},
        "get": {"requests": 10000, "throughput_rps": 3333.5, "errors": {}},
        "del": {"requests": 0, "throughput_rps": 0.0, "errors": {}},
    }  # fmt: skip
    doc["latency_by_kind_us"] = copy.deepcopy(_latency_by_kind())
    return doc


def test_the_commands_table(tcp_doc: dict[str, Any]) -> None:
    table = kind_table(_kinded(tcp_doc))
    assert table.headers == (
        "kind", "requests", "req/s", "errors", "p50", "p90", "p99", "p99.9", "max", "mean",
    )  # fmt: skip
    assert table.rows == (
        ("set", "1,000", "333", "4", "1.55 ms", "2.71 ms", "2.97 ms", "3 ms", "3 ms", "1.55 ms"),
        ("get", "10,000", "3,334", "0", "474 µs", "814 µs", "891 µs", "898 µs", "899 µs",
         "474 µs"),
        ("del", "0", "0.0", "0", "0 µs", "0 µs", "0 µs", "0 µs", "0 µs", "0 µs"),
    )  # fmt: skip


def test_the_csv_kind_columns(tcp_doc: dict[str, Any]) -> None:
    doc = _kinded(tcp_doc)
    header, row = csv.reader(io.StringIO(csv_report.render(doc)))
    cells = dict(zip(header, row, strict=True))
    tail = header[header.index("accept_queue_drops") + 1 :]
    assert tail[:9] == [
        "set_requests", "set_throughput_rps", "set_errors", "set_p50_us", "set_p90_us",
        "set_p99_us", "set_p99_9_us", "set_max_us", "set_mean_us",
    ]  # fmt: skip
    assert len(tail) == 27 and tail[9] == "get_requests" and tail[18] == "del_requests"
    summary = doc["latency_by_kind_us"]["set"]
    assert (cells["set_requests"], cells["set_throughput_rps"], cells["set_errors"]) == (
        "1000", "333.333", "4",
    )  # fmt: skip
    assert [cells[f"set_{p}_us"] for p in ("p50", "p90", "p99", "p99_9", "max", "mean")] == [
        str(summary[p]) if p != "mean" else repr(summary[p])
        for p in ("p50", "p90", "p99", "p99_9", "max", "mean")
    ]
    assert (cells["del_p90_us"], cells["del_mean_us"]) == ("0", "0.0")  # as stored


def test_a_cell_without_a_kind_leaves_its_columns_empty(tcp_doc: dict[str, Any]) -> None:
    cells: list[Doc] = [_kinded(tcp_doc), tcp_doc]
    columns = csv_report.kind_columns(cells)
    values = [[getter(r) for _, getter in columns[:9]] for r in cells]
    assert values[1] == [None, None, 0, None, None, None, None, None, None]


def _read_keys(tcp_doc: dict[str, Any]) -> dict[str, Any]:
    """The kinded result of a run whose GETs read keys: hits and misses counted."""
    doc = _kinded(tcp_doc)
    doc["totals"]["by_kind"]["get"] |= {"hits": 7000, "misses": 3000}
    doc["totals"] |= {"hits": 7000, "misses": 3000}
    return doc


def test_hits_and_misses_join_the_table_and_the_csv_where_counted(
    tcp_doc: dict[str, Any],
) -> None:
    doc = _read_keys(tcp_doc)
    table = kind_table(doc)
    assert table.headers[-2:] == ("hits", "misses")
    assert [row[-2:] for row in table.rows] == [("—", "—"), ("7,000", "3,000"), ("—", "—")]
    header, row = csv.reader(io.StringIO(csv_report.render(doc)))
    cells = dict(zip(header, row, strict=True))
    assert (cells["get_hits"], cells["get_misses"], cells["set_hits"]) == ("7000", "3000", "")
    assert "get_hits" not in csv_report.render(_kinded(tcp_doc))


def test_every_report_format_shows_hits_and_misses(tcp_doc: dict[str, Any]) -> None:
    """The text and markdown reports whole; the HTML one's Commands section (a whole
    HTML report draws its charts: seconds)."""
    from sockbench.report import render
    from sockbench.report.content import Section
    from sockbench.report.html import section_html

    doc = _read_keys(tcp_doc)
    html = section_html(Section("Commands", key="commands", table=kind_table(doc)))
    for out in (render(doc, "text"), render(doc, "md"), html):
        assert "misses" in out and "7,000" in out and "3,000" in out
