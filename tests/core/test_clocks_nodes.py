"""Clock offsets from round trips, and per-node rows that add up (pure)."""

from __future__ import annotations

import pytest

from sockbench.core.clocks import (
    ClockOffset,
    ClockSample,
    estimate_offset,
    uncertainty_too_large,
)
from sockbench.core.nodes import Seat, node_rows
from sockbench.core.tally import Tally


def test_the_smallest_round_trip_wins() -> None:
    true_offset = 5_000_000
    samples = [
        # a slow round trip whose reply queued: its midpoint is 3 ms off
        ClockSample(0, 1_000_000 + true_offset, 8_000_000),
        # a fast, symmetric one: 100 µs each way
        ClockSample(10_000_000, 10_100_000 + true_offset, 10_200_000),
    ]
    clock = estimate_offset(samples)
    assert clock == ClockOffset(true_offset, 100_000)
    assert clock.to_node(1) == 1 + true_offset


def test_an_asymmetric_trip_stays_within_its_uncertainty() -> None:
    # 10 µs there, 290 µs back: the true offset (-2 s) is inside ± half the RTT.
    clock = estimate_offset([ClockSample(1_000, 1_010 - 2_000_000_000, 1_300)])
    assert abs(clock.offset_ns - -2_000_000_000) <= clock.uncertainty_ns == 150


def test_bad_samples() -> None:
    with pytest.raises(ValueError):
        estimate_offset([])
    with pytest.raises(ValueError):
        estimate_offset([ClockSample(10, 5, 9)])


def test_uncertainty_warns_past_one_percent_of_warmup() -> None:
    assert not uncertainty_too_large(20_000_000, 2.0)
    assert uncertainty_too_large(20_000_001, 2.0)


def _tally(requests: int, errors: int = 0) -> Tally:
    return Tally(requests, 0, 0, 1, {"timeout": errors} if errors else {}, {}, "", "")


def test_node_rows_group_workers_and_add_up() -> None:
    a, b = ClockOffset(0, 40_000), ClockOffset(-1_500, 60_000)
    seats = [
        Seat("node-a", "h1", 2, 5, a, 50.0, 100),
        Seat("node-b", "h2", 1, 5, b, 95.0, 200),
        Seat("node-a", "h1", 2, 4, a, 60.0, 300),
    ]
    rows = node_rows(seats, {0: _tally(10, 1), 1: _tally(20), 2: _tally(30)}, failed=[])
    assert [r["node_id"] for r in rows] == ["node-a", "node-b"]
    first, second = rows
    assert (first["workers"], first["clients"], first["requests"], first["errors"]) == (2, 9, 40, 1)
    assert (first["cpu_percent_mean"], first["rss_bytes_max"]) == (110.0, 400)
    assert not first["saturated"]  # 110 % of the 200 % two workers can use
    assert second["saturated"]  # 95 % of one worker's core
    assert (second["clock_offset_us"], second["clock_uncertainty_us"]) == (-1.5, 60.0)
    assert sum(r["requests"] for r in rows) == 60


def test_a_failed_worker_is_counted_on_its_node() -> None:
    seats = [Seat("n1", "h", 1, 3, ClockOffset(0, 1)), Seat("n2", "h", 1, 3, ClockOffset(0, 1))]
    rows = node_rows(seats, {0: _tally(7)}, failed=[1])
    assert [(r["failed_workers"], r["requests"]) for r in rows] == [(0, 7), (1, 0)]
