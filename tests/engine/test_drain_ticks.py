"""The coordinator's drain progress: one tick per turn once every worker still draining
sent it; a worker that is done counts with what it answered and nothing open."""

from __future__ import annotations

import pytest

from sockbench.core.progress import DrainProgress, Tick
from sockbench.engine.orchestration.coordinator import _Run
from sockbench.engine.worker.run import Window
from tests.support.specs import spec_of

pytestmark = pytest.mark.unit


def _progress(answered: int, in_flight: int) -> DrainProgress:
    return DrainProgress(answered, failed=0, in_flight=in_flight, unsent=5, ends_in_s=2.0)


def test_a_turn_ticks_once_every_draining_worker_sent_it() -> None:
    ticks: list[Tick] = []
    run = _Run(spec_of({"clients": 4}), workers=2, progress=ticks.append)
    run.window = Window(start_ns=0, measure_start_ns=1, measure_end_ns=2)
    run.on_draining(1, _progress(10, 3), worker=0)
    assert not ticks  # worker 1's first turn is not in yet
    run.on_draining(1, _progress(20, 4), worker=1)
    [first] = ticks
    assert first.phase == "draining" and first.drain is not None
    assert (first.drain.answered, first.drain.in_flight, first.drain.unsent) == (30, 7, 10)
    run.on_draining(2, _progress(25, 1), worker=1)
    run.reported(0)  # done: the turn waits for it no more, and it has nothing open
    [_, second] = ticks
    assert second.drain is not None
    assert (second.drain.answered, second.drain.in_flight, second.drain.unsent) == (35, 1, 5)
    run.reported(1)
    run.on_draining(3, _progress(26, 0), worker=1)  # a late one, after its Done
    assert len(ticks) == 2  # nobody drains any more: no tick
