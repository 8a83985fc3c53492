"""A stream report shows throughput per interval, iperf3's lines, and leaves out what a
stream does not have (issue 30, item 2): no latency percentiles, no "0 µs" axes, no
req/s line (pure)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from sockbench.core.result import stream_summary
from sockbench.core.stream_meter import ReadCount, read_summary
from sockbench.report import load, render
from sockbench.report.stream_fields import interval_table, stream_fields
from tests.report.conftest import RESULT_TCP

GIB = 2**30


def _row(t: float, sent: int, received: int | None) -> dict[str, Any]:
    return {
        "t": t, "requests": sent // 65536, "errors": 0, "rps": sent / 65536, "p50": 0,
        "p99": 0, "max": 0, "sent_bytes": sent, "sent_bps": sent * 8.0,
        "received_bytes": received, "received_bps": None if received is None else received * 8.0,
    }  # fmt: skip


def stream_result(received: bool = True) -> dict[str, Any]:
    """Two intervals of a 2 s TCP stream (or, ``received`` False, one whose sink counts
    only at the end), with no latency recorded."""
    doc = copy.deepcopy(load(RESULT_TCP))
    doc["config"].update(mode="stream", payload=65536, clients=1)
    doc["stream"] = stream_summary((2 * GIB,), (2 * GIB,), (2.0, 2.001), 65536)
    doc["intervals"] = [
        _row(1.0, GIB, GIB - 65536 if received else None),
        _row(2.0, GIB, GIB + 65536 if received else None),
    ]
    doc["latency_us"] = {"count": 0}
    return doc


def test_the_interval_table_has_iperf3s_columns_for_each_side() -> None:
    table = interval_table(stream_result())
    assert table is not None
    assert table.headers == ("interval", "sent", "sender bit/s", "received", "receiver bit/s")
    assert table.rows == (
        ("0.00-1.00 s", "1 GiB", "8.59 Gbit/s", "1,024 MiB", "8.59 Gbit/s"),
        ("1.00-2.00 s", "1 GiB", "8.59 Gbit/s", "1 GiB", "8.59 Gbit/s"),
    )


def test_a_receiver_not_known_per_interval_has_no_columns() -> None:
    table = interval_table(stream_result(received=False))
    assert table is not None
    assert table.headers == ("interval", "sent", "sender bit/s")


def test_a_run_that_is_no_stream_or_saved_before_has_no_interval_table() -> None:
    assert interval_table(load(RESULT_TCP)) is None
    old = stream_result()
    for row in old["intervals"]:
        del row["sent_bytes"]
    assert interval_table(old) is None


@pytest.mark.parametrize("fmt", ["text", "md"])
def test_text_and_markdown_show_the_intervals_and_no_latency(fmt: str) -> None:
    out = render(stream_result(), fmt)
    assert "Intervals" in out and "0.00-1.00 s" in out
    assert "Latency" not in out and "µs" not in out


@pytest.mark.slow  # charts
def test_html_draws_the_bit_rate_and_no_latency_chart_or_zero_percentiles() -> None:
    page = render(stream_result(), "html")
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert "Summary" not in headings  # its req/s and p50...max columns: a stream has none
    assert "Latency by percentile" not in headings
    assert "Intervals" in headings and "Over time" in headings
    assert 'data-chart="timeline-' in page and "spectrum-" not in page
    assert "µs" not in re.sub(r"<img[^>]*>", "", page)


def test_the_workload_line_says_how_a_datagram_stream_was_paced() -> None:
    doc = stream_result()
    doc["config"].update(proto="udp", rate=100e6 / 8 / 1024, bitrate=100e6, payload=1024)
    assert "paced at 100 Mbit/s (12,207 msg/s)" in render(doc, "text")
    del doc["config"]["bitrate"]
    assert "paced at 12,207 msg/s" in render(doc, "text")


def reverse_result(direction: str, server_sent: int | None = 2 * GIB) -> dict[str, Any]:
    """``stream_result`` turned around (--reverse) or both ways (--bidir)."""
    doc = stream_result()
    doc["config"]["direction"] = doc["stream"]["direction"] = direction
    for row in doc["intervals"]:
        row.update(read_bytes=GIB // 2, read_bps=GIB * 4.0)
    reads = (ReadCount(GIB // 2, GIB, GIB // 2 if server_sent else 0, server_sent),)
    doc["stream"]["reverse"] = read_summary(reads, 2.0, 65536)
    return doc


def test_a_reverse_run_shows_the_servers_send_and_the_clients_reads() -> None:
    fields = dict(stream_fields(reverse_result("reverse")))
    assert fields == {
        "sender (server)": "2 GiB = 512 MiB before the window + 1 GiB in it + 512 MiB in "
        "flight at its end + 0 B lost",
        "receiver": "1 GiB, 4.29 Gbit/s, 8,192 msg/s over 2.00 s",
    }
    table = interval_table(reverse_result("reverse"))
    assert table is not None and table.headers == ("interval", "RX-C received", "RX-C bit/s")


def test_the_generators_own_drops_are_named_in_the_loss() -> None:
    doc = reverse_result("reverse")
    doc["stream"]["reverse"].update(generator_drops=1_024, lost_bytes=1_024 * 65536)
    fields = dict(stream_fields(doc))
    assert fields["sender (server)"].endswith(
        "64 MiB lost (1,024 datagrams of it dropped at the clients' own sockets, their "
        "buffers full: the generator's loss)"
    )


def test_a_target_that_does_not_report_is_said_so() -> None:
    fields = dict(stream_fields(reverse_result("reverse", server_sent=None)))
    assert fields["sender (server)"].startswith("not reported: the server does not say")


def test_bidir_tags_each_direction_as_iperf3_does() -> None:
    doc = reverse_result("bidir")
    labels = [label for label, _ in stream_fields(doc)]
    assert labels[:2] == ["TX-C sender", "TX-C receiver"]
    assert labels[-2:] == ["RX-C sender (server)", "RX-C receiver"]
    table = interval_table(doc)
    assert table is not None
    assert [row[:2] for row in table.rows] == [
        ("0.00-1.00 s", "TX-C"), ("0.00-1.00 s", "RX-C"),
        ("1.00-2.00 s", "TX-C"), ("1.00-2.00 s", "RX-C"),
    ]  # fmt: skip
    assert table.rows[1][2:4] == ("512 MiB", "4.29 Gbit/s")
