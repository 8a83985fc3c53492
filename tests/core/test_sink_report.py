"""The sink report and the stream summary built from it (pure)."""

from __future__ import annotations

import pytest

from sockbench.core.result import stream_summary
from sockbench.core.sink_report import REPORT_MAX, encode_report, window_received


def test_the_longest_report_fits_what_a_stream_client_reads() -> None:
    assert len(encode_report(2**64 - 1, 2**64 - 1)) <= REPORT_MAX


@pytest.mark.parametrize(
    ("reported", "before", "in_window", "expected"),
    [
        (1000, 300, 700, 700),  # everything arrived
        (900, 300, 700, 600),  # the connection broke: the end is missing
        (200, 300, 700, 0),  # broke inside the warm-up
        (5000, 300, 700, 700),  # a sink counting more (another client's bytes?) is capped
        (0, 0, 0, 0),
    ],
)
def test_window_received_counts_stream_positions(
    reported: int, before: int, in_window: int, expected: int
) -> None:
    assert window_received(reported, before, in_window) == expected


def test_stream_summary_has_iperf3s_two_sides_per_stream_and_total() -> None:
    s = stream_summary((1000, 3000), (1000, 2000), (2.0, 2.5), payload=100)
    assert s["sender"] == {"bytes": 4000, "seconds": 2.0, "bps": 16000.0, "messages_per_s": 20.0}
    assert s["receiver"] == {"bytes": 3000, "seconds": 2.5, "bps": 9600.0, "messages_per_s": 12.0}
    assert s["per_stream"] == [
        {"sent_bytes": 1000, "received_bytes": 1000},
        {"sent_bytes": 3000, "received_bytes": 2000},
    ]
    assert s["streams"] == s["streams_reported"] == 2
    # Delivered: the receiver's bytes, over the window.
    assert s["total_bps"] == 3000 * 8 / 2.0
    assert s["per_client_bps"] == {"min": 4000.0, "median": 6000.0, "max": 8000.0}


def test_a_stream_without_report_leaves_the_receiver_unknown() -> None:
    s = stream_summary((1000, 3000), (None, None), (2.0, 2.0), payload=100)
    assert s["receiver"] is None and s["streams_reported"] == 0
    assert s["total_bps"] == 4000 * 8 / 2.0  # delivered is then what was sent


def test_a_partial_report_sums_what_was_reported() -> None:
    s = stream_summary((1000, 3000), (1000, None), (1.0, 1.0), payload=100)
    assert s["receiver"]["bytes"] == 1000 and s["streams_reported"] == 1
    assert s["total_bps"] == 4000 * 8  # not every stream reported: delivered is what was sent
