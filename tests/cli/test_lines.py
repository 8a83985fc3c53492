"""The plain progress line a run writes when its output is not a terminal."""

from __future__ import annotations

import pytest
from rich.console import Console

from sockbench.cli.lines import tick_line
from sockbench.core.progress import Tick
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
