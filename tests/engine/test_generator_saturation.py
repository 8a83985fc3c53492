"""The generator is saturated when its busiest worker's loop is never idle (waiting for
I/O, or spinning towards a due time: timing.LoopClock), whatever its process's CPU reads."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.engine.io.sampling import ResourceSummary
from sockbench.engine.orchestration.measurement import _generator_summary, _saturation_warning

pytestmark = pytest.mark.unit


class _Sampler:
    def __init__(self, cpu: float) -> None:
        self.cpu = cpu

    def summary(self, start_ns: int = 0, end_ns: int = 2**63) -> ResourceSummary:
        return ResourceSummary(self.cpu, self.cpu, self.cpu, 0.0, 1, 1, 1, 3)


def _summary(cpu: float, loop_busy: float, workers: int = 1) -> dict[str, Any]:
    found = _generator_summary(_Sampler(cpu), None, workers, 2, loop_busy)  # type: ignore[arg-type]
    assert found is not None
    return found


def test_a_generator_spinning_towards_due_times_is_not_saturated() -> None:
    """Open loop at 8,000 req/s: a full core of CPU, its loop busy a fifth of the time
    (measured: 100.1 % CPU, loop 19.7 % busy)."""
    found = _summary(100.1, 19.7)
    assert found["loop_busy_percent"] == 19.7 and not found["saturated"]


def test_a_loop_never_idle_is_saturated_and_the_warning_says_so() -> None:
    found = _summary(98.6, 90.2)
    assert found["saturated"]
    assert "busiest worker was busy 90% of the time" in _saturation_warning(found).message


def test_without_the_loop_s_clock_the_cpu_decides() -> None:
    assert _summary(95.0, 0.0)["saturated"]
    assert not _summary(95.0, 0.0, workers=2)["saturated"]  # two workers: two cores
    assert "used 95% CPU" in _saturation_warning(_summary(95.0, 0.0)).message
