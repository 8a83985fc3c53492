"""The plain progress line a run writes when its output is not a terminal."""

from __future__ import annotations

import pytest

from sockbench.cli.lines import tick_line
from sockbench.core.progress import Tick

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


def test_ramp_and_warm_up_lines_count_nothing() -> None:
    assert tick_line(_tick(phase="warmup", connections=0)) == "[   3.0 s] warm-up"
