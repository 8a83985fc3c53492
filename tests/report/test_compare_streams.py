"""A compare of streams (--mode stream, --reverse, --bidir): each cell's direction and
iperf3's TX-C/RX-C bit rates in its report, its progress line and its CSV (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.report import csv as csv_report
from sockbench.report.compare_sections import compare_sections
from sockbench.report.document import COMPARE_SCHEMA
from sockbench.report.stream_fields import compare_stream_table, rates_line, stream_rates

pytestmark = pytest.mark.unit


def _side(bps: float) -> dict[str, Any]:
    return {"bytes": int(bps / 8), "seconds": 1.0, "bps": bps, "messages_per_s": 1.0}


def _cell(model: str, direction: str) -> dict[str, Any]:
    stream: dict[str, Any] = {"direction": direction, "sender": _side(0.0), "receiver": None}
    if direction != "reverse":
        stream.update(sender=_side(8e9), receiver=_side(7.5e9))
    if direction != "forward":
        stream["reverse"] = {"receiver": _side(6e9)}
    return {
        "cell": {"model": model, "proto": "tcp", "clients": 2, "payload": 64, "repeat": 1},
        "config": {"mode": "stream", "proto": "tcp", "clients": 2, "payload": 64},
        "stream": stream,
        "totals": {"requests": 1},
    }


def test_each_direction_has_its_sides_rates() -> None:
    assert stream_rates(_cell("a", "forward")) == (8e9, 7.5e9, None)
    assert stream_rates(_cell("a", "reverse")) == (None, None, 6e9)
    assert stream_rates(_cell("a", "bidir")) == (8e9, 7.5e9, 6e9)
    assert rates_line(_cell("a", "reverse")) == "RX-C 6 Gbit/s"
    assert (
        rates_line(_cell("a", "bidir")) == "TX-C 8 Gbit/s (server took 7.5 Gbit/s), RX-C 6 Gbit/s"
    )


def test_a_compare_of_streams_has_a_streams_table_with_each_cells_direction() -> None:
    table = compare_stream_table([_cell("asyncio", "reverse"), _cell("threaded", "bidir")])
    assert table is not None
    assert table.headers[4:] == ("direction", "TX-C bit/s", "server took bit/s", "RX-C bit/s")
    assert table.rows[0][:1] + table.rows[0][4:] == ("asyncio", "reverse", "—", "—", "6 Gbit/s")
    assert table.rows[1][4:] == ("bidir", "8 Gbit/s", "7.5 Gbit/s", "6 Gbit/s")
    assert compare_stream_table([{"cell": {"model": "a"}, "totals": {}}]) is None
    doc = {"schema": COMPARE_SCHEMA, "cells": [_cell("asyncio", "reverse"), _cell("b", "reverse")]}
    assert "Streams" in [s.title for s in compare_sections(doc)]


def test_the_summary_csv_has_each_cells_direction_and_reads() -> None:
    doc = {"schema": COMPARE_SCHEMA, "cells": [_cell("asyncio", "reverse"), _cell("b", "bidir")]}
    rows = csv_report.render(doc).splitlines()
    header = rows[0].split(",")
    values = [dict(zip(header, row.split(","), strict=True)) for row in rows[1:]]
    assert [(v["direction"], v["read_bps"]) for v in values] == [
        ("reverse", "6000000000.0"),
        ("bidir", "6000000000.0"),
    ]
