"""A stream run's progress line is iperf3's: the interval's transfer and bit rate, not
req/s and a latency it does not have (issue 30); its last interval, which comes once the
server's counts are in, after the window, is shown at its end, and the drain says what
it waits for."""

from __future__ import annotations

import dataclasses
import io

import pytest
from rich.console import Console

from sockbench.cli.lines import PlainLines, tick_line
from sockbench.core.intervals import IntervalRow
from sockbench.core.progress import DrainProgress, Tick
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


def _last_row(elapsed_s: float, remaining_s: float) -> Tick:
    """A 2 s window's last interval (1-2 s), after a 1 s warm-up, come at ``elapsed_s``."""
    row = IntervalRow(start_s=1.0, t=2.0, requests=25_000, errors=0, rps=25_000.0, p50=0,
                      p99=0, max=0, histogram="", sent_bytes=1_650_000_000)  # fmt: skip
    return dataclasses.replace(
        _tick(1_650_000_000, 13.2e9, 13.1e9), elapsed_s=elapsed_s, remaining_s=remaining_s,
        row=row,
    )  # fmt: skip


def test_a_row_that_comes_after_the_window_is_shown_at_its_end_not_past_the_window() -> None:
    # A stream's last row waits for the sink's count, in the drain: it came at 4.0 s.
    late = _last_row(elapsed_s=4.0, remaining_s=0.0)
    assert tick_line(late, window_after_s=1.0).startswith("[   3.0 s] measuring  1.54 GiB")
    assert late.shown_s(None) == 4.0  # where the window's start is not known: when it came
    out = io.StringIO()
    PlainLines(out, window_after_s=1.0)(late)
    assert out.getvalue().startswith("[   3.0 s] measuring")


def test_a_row_inside_the_window_is_shown_when_it_came() -> None:
    # A busy generator's row comes late inside the window: the line says when.
    assert tick_line(_last_row(elapsed_s=3.2, remaining_s=0.8), 1.0).startswith("[   3.2 s]")


def test_the_live_panel_clock_stops_at_the_windows_end_and_counts_messages() -> None:
    console = Console(record=True, width=120, force_terminal=False)
    panel = LiveProgress(console, "tcp stream", window_after_s=1.0)
    panel.tick = _last_row(elapsed_s=4.0, remaining_s=0.0)
    console.print(panel.renderable())
    shown = console.export_text()
    assert "3.0 s elapsed,   0.0 s left" in shown
    assert "messages 25,000" in shown and "requests" not in shown


def test_a_stream_drain_line_says_whose_counts_it_waits_for() -> None:
    drain = DrainProgress(answered=1, failed=0, in_flight=3, unsent=None, ends_in_s=8.0,
                          streams=True)  # fmt: skip
    tick = Tick(phase="draining", elapsed_s=5.0, remaining_s=8.0, requests=25_000, rps=0.0,
                p99_us=0, errors=0, connections=4, drain=drain)  # fmt: skip
    assert tick_line(tick, 1.0) == (
        "[   5.0 s] draining   server's counts in for 1 of 4 clients  at most 8 s more"
    )
    both = drain + DrainProgress(2, 0, 0, None, 9.0, streams=True)
    assert both.text() == "server's counts in for 3 of 6 clients  at most 9 s more"
    # A worker that is done has every count in (or gave up on it): none is waited for.
    ended = drain.ended()
    assert (ended.answered, ended.in_flight) == (4, 0)
