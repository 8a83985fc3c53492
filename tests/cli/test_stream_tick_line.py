"""A stream run's progress line is iperf3's: the interval's transfer and bit rate, not
req/s and a latency it does not have (issue 30)."""

from __future__ import annotations

import dataclasses

import pytest
from rich.console import Console

from sockbench.cli.lines import tick_line
from sockbench.core.progress import Tick
from sockbench.report.live import LiveProgress
from sockbench.report.stream_fields import tick_rates

pytestmark = pytest.mark.unit  # pure


def _tick(sent_bytes: int, sent_bps: float, received_bps: float | None) -> Tick:
    return Tick(
        phase="measuring", elapsed_s=1.5, remaining_s=2.0, requests=25_000, rps=25_000.0,
        p99_us=0, errors=0, connections=2, sent_bytes=sent_bytes, sent_bps=sent_bps,
        received_bps=received_bps,
    )  # fmt: skip


def test_a_tcp_stream_line_has_the_transfer_and_both_sides_bit_rates() -> None:
    line = tick_line(_tick(1_650_000_000, 13.2e9, 13.1e9))
    assert line == (
        "[   1.5 s] measuring  1.54 GiB  13.2 Gbit/s sent  13.1 Gbit/s received"
        "  errors 0  connections 2"
    )


def test_a_receiver_not_known_per_interval_is_left_out() -> None:
    line = tick_line(_tick(20_480_000, 163.84e6, None))
    assert line == "[   1.5 s] measuring  19.5 MiB  164 Mbit/s sent  errors 0  connections 2"


def test_the_live_panel_shows_the_same_rates_and_no_req_s_or_p99() -> None:
    console = Console(record=True, width=120, force_terminal=False)
    panel = LiveProgress(console, "tcp stream")
    panel.tick = _tick(1_650_000_000, 13.2e9, 13.1e9)
    console.print(panel.renderable())
    shown = console.export_text()
    assert "1.54 GiB  13.2 Gbit/s sent  13.1 Gbit/s received" in shown
    assert "req/s" not in shown and "p99" not in shown


def test_a_reverse_tick_shows_what_the_clients_read() -> None:
    tick = dataclasses.replace(_tick(0, 0.0, 0.0), read_bytes=2**30, read_bps=8.59e9)
    assert tick_rates(tick) == "1 GiB  8.59 Gbit/s RX-C"


def test_a_bidir_tick_shows_both_directions() -> None:
    tick = dataclasses.replace(_tick(2**30, 8.59e9, 8.5e9), read_bytes=2**29, read_bps=4.3e9)
    assert tick_rates(tick) == "1 GiB  8.59 Gbit/s sent  8.5 Gbit/s received  4.3 Gbit/s RX-C"
