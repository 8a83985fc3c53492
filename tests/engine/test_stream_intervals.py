"""``--mode stream`` has per-interval throughput while the run goes (issue 30, item 1):
the rows read 0, 0, 0 and then everything in the last one; now each interval holds what
was written in it and, for TCP, what the peer acknowledged in it, adding up exactly to
the sender's and receiver's totals (``assert_stream_intervals``, run on every run)."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.core.progress import Tick
from tests.support.runs import run_engine

pytestmark = pytest.mark.e2e  # real processes and sockets


def test_every_tcp_interval_moves_bytes_and_they_add_up_to_the_totals() -> None:
    ticks: list[Tick] = []
    outcome = run_engine(
        mode="stream", clients=2, payload=65536, duration_s=1.5, warmup_s=0.0,
        interval_s=0.5, progress=ticks.append,
    )  # fmt: skip
    result: dict[str, Any] = outcome.result
    rows = result["intervals"]
    assert len(rows) == 3
    assert all(row["sent_bytes"] > 0 and row["received_bytes"] > 0 for row in rows)
    assert all(row["sent_bps"] > 0 for row in rows)
    # The live lines carry the same rows (one worker: its rows are the ticks).
    shown = [t for t in ticks if t.phase == "measuring"]
    assert [t.sent_bytes for t in shown] == [row["sent_bytes"] for row in rows]
    assert [t.received_bps for t in shown] == [row["received_bps"] for row in rows]


def test_udp_intervals_hold_the_datagrams_sent_in_each() -> None:
    # --bitrate (iperf3's -b): 8.192 Mbit/s of 512-byte datagrams is 2,000 a second.
    result = run_engine(
        mode="stream", proto="udp", clients=2, bitrate=2000 * 512 * 8.0, payload=512,
        duration_s=1.0, warmup_s=0.0, interval_s=0.5,
    ).result  # fmt: skip
    assert (result["config"]["rate"], result["config"]["bitrate"]) == (2000.0, 8_192_000.0)
    rows = result["intervals"]
    # Every datagram due in the window is sent (late ones too, on a loaded machine), and
    # each interval holds its own: not 0 and then everything.
    assert sum(row["requests"] for row in rows) == 2000
    assert all(row["requests"] > 0 for row in rows)
    assert [row["sent_bytes"] for row in rows] == [row["requests"] * 512 for row in rows]
    # The sink counts once, at the end: no row pretends to know its share.
    assert [row["received_bytes"] for row in rows] == [None, None]
