"""Every format shows a stream's sender and receiver lines and its per-stream table (pure)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sockbench.core.result import stream_summary
from sockbench.report import load, numbers, render
from sockbench.report.stream_fields import PER_STREAM_ROWS, stream_fields, stream_table
from tests.report.conftest import RESULT_TCP


def stream_result(received: tuple[int | None, ...] = (2**30, 2**30 + 65536)) -> dict[str, Any]:
    doc = copy.deepcopy(load(RESULT_TCP))
    doc["config"].update(mode="stream", payload=65536, clients=2)
    doc["stream"] = stream_summary((2**30, 2**30 + 65536), received, (1.0, 1.001), 65536)
    return doc


SENDER = "2 GiB, 17.2 Gbit/s, 32,769 msg/s over 1.00 s"
RECEIVER = "2 GiB, 17.2 Gbit/s, 32,736 msg/s over 1.00 s"


def test_fields_label_each_side() -> None:
    shown = dict(stream_fields(stream_result()))
    assert shown["sender"] == SENDER
    assert shown["receiver"] == RECEIVER


@pytest.mark.parametrize(
    "fmt",
    ["text", "md", pytest.param("html", marks=pytest.mark.slow)],  # html: charts
)
def test_every_format_shows_both_lines_and_the_table(fmt: str) -> None:
    out = render(stream_result(), fmt)
    assert SENDER in out and RECEIVER in out
    assert "receiver bit/s" in out and "total" in out


def test_terminal_shows_fields_and_table() -> None:
    from io import StringIO

    from rich.console import Console

    from sockbench.report.terminal import print_report

    buf = StringIO()
    print_report(stream_result(), Console(file=buf, width=200))
    out = buf.getvalue()
    assert SENDER in out and RECEIVER in out and "receiver bit/s" in out


def test_csv_and_json_carry_both_sides() -> None:
    csv = render(stream_result(), "csv").splitlines()
    header, row = csv[0].split(","), csv[1].split(",")
    values = dict(zip(header, row, strict=True))
    assert values["sender_bytes"] == str(2**31 + 65536)
    assert values["receiver_bytes"] == str(2**31 + 65536)


@pytest.mark.parametrize("fmt", ["text", "md", pytest.param("html", marks=pytest.mark.slow)])
def test_an_unreported_receiver_says_so_in_every_format(fmt: str) -> None:
    doc = stream_result((None, None))
    assert "not reported" in render(doc, fmt)
    assert "0 B received" not in render(doc, "text")
    table = stream_table(doc)
    assert table is not None and table.rows[-1][3] == numbers.DASH


def test_many_streams_show_the_spread_not_a_row_each() -> None:
    n = PER_STREAM_ROWS + 1
    doc = stream_result()
    doc["stream"] = stream_summary((1000,) * n, (1000,) * n, (1.0, 1.0), 100)
    assert stream_table(doc) is None
    assert "per client (received)" in dict(stream_fields(doc))


def test_the_per_client_received_spread_is_the_receivers_not_the_senders() -> None:
    # One stream, its sink's count 0.25 s after the window (the receiver's seconds run to
    # its report): its received figures are the receiver line's, lower than the sender's.
    doc = stream_result()
    doc["config"].update(payload=65536, clients=1)
    doc["stream"] = stream_summary((2**30,), (2**30,), (1.0, 1.25), 65536)
    shown = dict(stream_fields(doc))
    assert shown["sender"] == "1 GiB, 8.59 Gbit/s, 16,384 msg/s over 1.00 s"
    assert shown["receiver"] == "1 GiB, 6.87 Gbit/s, 13,107 msg/s over 1.25 s"
    assert shown["per client (received)"] == (
        "min 6.87 Gbit/s, median 6.87 Gbit/s, max 6.87 Gbit/s"
    )
    assert shown["msg/s per client (received)"] == "min 13,107, median 13,107, max 13,107"


def test_the_per_client_spread_over_several_streams_uses_what_each_received() -> None:
    doc = stream_result()  # two streams, the second's sink read less than it sent
    doc["stream"] = stream_summary((2**30, 2**31), (2**30, 2**31 - 2**26), (1.0, 2.0), 65536)
    shown = dict(stream_fields(doc))
    low, high = 2**30 / 65536 / 2.0, (2**31 - 2**26) / 65536 / 2.0
    assert shown["msg/s per client (received)"] == (
        f"min {numbers.fmt_rate(low)}, median {numbers.fmt_rate((low + high) / 2)}, "
        f"max {numbers.fmt_rate(high)}"
    )


def test_a_spread_with_a_stream_unreported_is_of_what_was_sent_and_says_so() -> None:
    doc = stream_result((2**30, None))
    shown = dict(stream_fields(doc))
    assert "per client (received)" not in shown
    sent = doc["stream"]["per_client_messages_per_s"]  # of what was sent, over 1.0 s
    assert sent["max"] == (2**30 + 65536) / 65536
    assert shown["msg/s per client (sent)"] == "min 16,384, median 16,384, max 16,385"
    assert "1 of 2 streams reported" in shown["receiver"]
