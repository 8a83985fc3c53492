"""What a node whose raylet died during the run adds to the result (pure: no cluster)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sockbench.core.clocks import ClockOffset
from sockbench.core.nodes import Seat, node_rows
from sockbench.core.tally import Tally
from sockbench.core.warning import WarningKind
from sockbench.engine.backends.cluster import node_summary

pytestmark = pytest.mark.unit


@dataclass
class _Backend:
    lost: list[tuple[str, str]] = field(default_factory=list)  # as RayWorkers.lost


def _rows(failed: list[int]) -> list[dict[str, object]]:
    clock = ClockOffset(0, 100_000)
    seats = [Seat(f"node-{n}-0123456789", "vm", 1, 2, clock, 20.0, 100) for n in "abc"]
    tallies = {i: Tally.empty(datagrams=False) for i in range(3) if i not in failed}
    return node_rows(seats, tallies, failed)


def test_a_lost_node_that_measured_to_the_end_degrades_the_run() -> None:
    _, warnings = node_summary(None, _rows([]), _Backend([("node-b-0123456789", "vm")]), 2.0)
    [lost] = warnings
    assert lost.kind == WarningKind.DEGRADED  # measurement turns completed into degraded
    assert lost.message.startswith("the run is marked degraded: node vm (node-b-0) left")
    assert "measured to the end, are counted" in lost.message


def test_a_lost_node_whose_workers_died_with_it_is_said_not_counted() -> None:
    _, warnings = node_summary(None, _rows([1]), _Backend([("node-b-0123456789", "vm")]), 2.0)
    [lost] = warnings
    assert lost.kind == WarningKind.WORKER_DIED  # the run is worker_failed already
    assert lost.message == (
        "node vm (node-b-0) left the Ray cluster during the run (its raylet died)"
    )


def test_no_lost_node_no_warning() -> None:
    assert node_summary(None, _rows([]), _Backend(), 2.0)[1] == []
