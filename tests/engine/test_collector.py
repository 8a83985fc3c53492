"""The collector's full passes kept out of the window (engine/io/collector.py)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from sockbench.engine.io.collector import frozen_heap
from tests.support.runs import run_engine


@pytest.mark.unit
def test_frozen_heap_freezes_what_is_alive_and_hands_it_back() -> None:
    kept = [object() for _ in range(10)]
    with frozen_heap():
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_freeze_count() == 0


@pytest.mark.unit
def test_frozen_heap_hands_it_back_when_the_run_fails() -> None:
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError("the worker failed")
    assert gc.get_freeze_count() == 0


@pytest.mark.e2e
def test_a_worker_measures_with_its_heap_frozen() -> None:
    """While the clients load the target (the run's progress ticks, in this process's
    loop beside the one worker) the heap is frozen, and it is thawed at the end."""
    frozen_at_ticks: list[int] = []

    def note(_tick: Any) -> None:
        frozen_at_ticks.append(gc.get_freeze_count())

    outcome = run_engine(progress=note, clients=4, duration_s=1.0, warmup_s=0.1, workers="1")
    assert outcome.result["totals"]["requests"] > 0
    assert frozen_at_ticks and min(frozen_at_ticks) > 0
    assert gc.get_freeze_count() == 0
