"""The plain progress line a run writes when its output is not a terminal."""

from __future__ import annotations

import pytest
from rich.console import Console

from sockbench.cli.lines import tick_line
from sockbench.core.progress import DrainProgress, Tick
from sockbench.report.live import LiveProgress

pytestmark = pytest.mark.unit  # pure: make unit runs it


def _tick(**kw: object) -> Tick:
    values: dict[str, object] = dict(
        phase="measuring", elapsed_s=3.0, remaining_s=1.0, requests=41_152, rps=41_152.0,
        p99_us=1230, errors=3, connections=100,
    )  # fmt: skip
    values.update(kw)
    return Tick(**values)  # type: ignore[arg-type]


def test_a_measuring_line_has_rate_p99_errors_and_connections() -> None:
    assert tick_line(_tick()) == (
        "[   3.0 s] measuring  41,152 req/s  p99 1.23 ms  errors 3  connections 100"
    )


def test_an_interval_without_latencies_shows_a_dash_not_zero() -> None:
    # A stream run (--mode stream) records no request latency at all.
    line = tick_line(_tick(requests=0, rps=0.0, p99_us=0))
    assert "p99 —" in line
    assert "0 µs" not in line


@pytest.mark.parametrize(("settling", "state"), [(True, "settling"), (False, "settled")])
def test_an_auto_warm_up_line_shows_its_interval_not_counted(settling: bool, state: str) -> None:
    tick = _tick(phase="warmup", rps=40_961.0, p99_us=1310, errors=0, settling=settling)
    assert tick_line(tick) == (
        f"[   3.0 s] warm-up    40,961 req/s  p99 1.31 ms  not counted ({state})  connections 100"
    )
    assert "settling" not in tick.numbers()  # a jsonl line is a measured interval


def test_the_live_panel_shows_an_auto_warm_up_interval_not_counted() -> None:
    console = Console(record=True, width=120, force_terminal=False)
    panel = LiveProgress(console, "tcp")
    panel.tick = _tick(phase="warmup", rps=40_961.0, p99_us=1310, settling=True)
    console.print(panel.renderable())
    shown = console.export_text()
    assert "40,961 req/s  p99 1.31 ms  not counted (settling)  connections 100" in shown
    assert "errors" not in shown


def test_ramp_and_warm_up_lines_count_nothing() -> None:
    assert tick_line(_tick(phase="warmup", connections=0)) == "[   3.0 s] warm-up"


def _drain(**kw: object) -> DrainProgress:
    values: dict[str, object] = dict(
        answered=88_804, failed=3, in_flight=100, unsent=211_096, ends_in_s=5.0
    )
    values.update(kw)
    return DrainProgress(**values)  # type: ignore[arg-type]


def test_a_drain_line_says_what_ended_what_is_open_and_how_long_it_may_last() -> None:
    tick = _tick(phase="draining", elapsed_s=8.0, drain=_drain())
    assert tick_line(tick) == (
        "[   8.0 s] draining   answered 88,804  failed 3  in flight 100  "
        "not yet sent 211,096  at most 5 s more"
    )


def test_a_drain_behind_the_warm_ups_backlog_says_it_goes_first() -> None:
    line = tick_line(_tick(phase="draining", drain=_drain(answered=0, warmup_unsent=12_000)))
    assert "not yet sent 211,096 and 12,000 of the warm-up's, sent first  at most" in line
    assert "warm-up" not in tick_line(_tick(phase="draining", drain=_drain(warmup_unsent=0)))


def test_a_closed_loop_drain_has_no_unsent_count_and_an_end_reached_says_so() -> None:
    line = tick_line(_tick(phase="draining", drain=_drain(unsent=None, ends_in_s=0.0)))
    assert line.endswith("in flight 100  ending")
    assert "not yet sent" not in line


def test_the_live_panel_shows_the_drain() -> None:
    console = Console(record=True, width=120, force_terminal=False)
    panel = LiveProgress(console, "tcp")
    panel.tick = _tick(phase="draining", remaining_s=5.0, drain=_drain())
    console.print(panel.renderable())
    shown = console.export_text()
    assert "draining" in shown and "5.0 s left" in shown
    assert "answered 88,804  failed 3  in flight 100  not yet sent 211,096" in shown
    assert "req/s" not in shown  # the window's rate is not the drain's


def test_workers_drain_progress_adds_up_and_a_done_worker_keeps_only_what_ended() -> None:
    one, two = _drain(), _drain(answered=1, failed=0, in_flight=2, unsent=None, ends_in_s=6.0)
    both = one + two
    assert (both.answered, both.failed, both.in_flight) == (88_805, 3, 102)
    assert both.unsent is None  # one worker's is not counted: the sum is not either
    assert both.ends_in_s == 6.0  # the later end
    ended = one.ended()
    assert (ended.answered, ended.failed, ended.in_flight, ended.unsent) == (88_804, 3, 0, 0)
    warm = _drain(warmup_unsent=5) + _drain(warmup_unsent=7)
    assert warm.warmup_unsent == 12 and warm.ended().warmup_unsent == 0
    assert (warm + _drain()).warmup_unsent is None  # a worker that did not count it
