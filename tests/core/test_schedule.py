import itertools

import pytest

from sockbench.core.kinds import Arrival
from sockbench.core.schedule import RateSchedule, due_between
from sockbench.errors import ConfigError
from tests.support.schedules import due_before

S = 1_000_000_000
MS = 1_000_000


def test_one_client_at_100_per_s_gives_200_due_times_10_ms_apart_in_2_s() -> None:
    client = RateSchedule(100.0, 1, seed=3).client(0)
    times = due_before(client, client.phase_ns + 2 * S)
    assert len(times) == 200
    assert [b - a for a, b in itertools.pairwise(times)] == [10 * MS] * 199
    assert 0 <= client.phase_ns < 10 * MS
    assert client.interval_ns == 10 * MS


def test_due_times_are_computed_from_k_without_drift() -> None:
    # 3 requests/s: the period 333_333_333.33 ns is not an integer number of ns.
    client = RateSchedule(3.0, 1, seed=1).client(0)
    phase = client.phase_ns
    assert client.due(3) == phase + S
    assert client.due(3 * 86_400 * 365) == phase + 86_400 * 365 * S  # a year later, to the ns
    gaps = {client.due(k + 1) - client.due(k) for k in range(1000)}
    assert gaps <= {333_333_333, 333_333_334}


def test_clients_get_distinct_phases_inside_their_interval() -> None:
    schedule = RateSchedule(1000.0, 10, seed=42)
    clients = [schedule.client(i) for i in range(10)]
    assert schedule.interval_ns == 10 * MS
    phases = sorted(c.phase_ns for c in clients)
    assert all(0 <= p < 10 * MS for p in phases)
    # Together the clients send exactly every 1 ms, none in lockstep.
    assert [b - a for a, b in itertools.pairwise(phases)] == [MS] * 9
    assert [c.phase_ns for c in clients] != phases  # the slots are shuffled


def test_all_due_times_fall_in_the_window_and_add_up_to_rate_times_duration() -> None:
    schedule = RateSchedule(1000.0, 7, seed=5)
    window = 3 * S
    per_client = [due_before(schedule.client(i), window) for i in range(7)]
    merged = sorted(t for times in per_client for t in times)
    assert all(0 <= t < window for t in merged)
    assert len(merged) == 3000 == schedule.total_before(window)
    assert len(set(merged)) == len(merged)
    assert [schedule.client(i).index_at(window) for i in range(7)] == [len(t) for t in per_client]


def test_total_is_rate_times_window_up_to_one_request_for_any_rate() -> None:
    for rate, clients in [(333.3, 13), (1.5, 4), (12345.0, 100), (0.25, 1)]:
        schedule = RateSchedule(rate, clients, seed=9)
        for window_s in (1, 7, 60):
            total = sum(schedule.client(i).index_at(window_s * S) for i in range(clients))
            assert total == schedule.total_before(window_s * S)
            assert abs(total - rate * window_s) <= 1


def test_rate_below_client_count_spreads_requests_instead_of_flooding() -> None:
    schedule = RateSchedule(50.0, 100, seed=0)
    assert schedule.interval_ns == 2 * S
    clients = [schedule.client(i) for i in range(100)]
    for client in clients:
        assert client.due(1) - client.due(0) == 2 * S
        assert 0 <= client.phase_ns < 2 * S
    # In 2 s every client sends exactly once: 100 requests, i.e. 50 per second.
    assert sorted(c.index_at(2 * S) for c in clients) == [1] * 100
    phases = sorted(c.phase_ns for c in clients)
    assert [b - a for a, b in itertools.pairwise(phases)] == [20 * MS] * 99


def test_index_at_is_the_first_index_due_at_or_after() -> None:
    client = RateSchedule(7.0, 3, seed=2).client(1)
    for k in range(50):
        due = client.due(k)
        assert client.index_at(due) == k
        assert client.index_at(due + 1) == k + 1
    assert client.index_at(-S) == 0


def test_same_seed_same_schedule_other_seed_other_phases() -> None:
    a = [RateSchedule(100.0, 20, seed=1).client(i).phase_ns for i in range(20)]
    b = [RateSchedule(100.0, 20, seed=1).client(i).phase_ns for i in range(20)]
    c = [RateSchedule(100.0, 20, seed=2).client(i).phase_ns for i in range(20)]
    assert a == b != c


@pytest.mark.parametrize(
    ("rate", "clients"),
    [(0.0, 1), (-1.0, 1), (float("nan"), 1), (float("inf"), 1), (2e9, 1), (10.0, 0)],
)
def test_invalid_rate_or_clients_is_a_config_error(rate: float, clients: int) -> None:
    with pytest.raises(ConfigError):
        RateSchedule(rate, clients)


@pytest.mark.parametrize("ramp_ns", [0, 400_000_000])
def test_due_between_counts_every_client_due_time_in_the_window(ramp_ns: int) -> None:
    schedule = RateSchedule(3_000, clients=7, seed=5, ramp_ns=ramp_ns)
    clients = [schedule.client(i) for i in range(7)]
    start, end = 250_000_000, 1_250_000_000
    counted = sum(
        1 for c in clients for k in range(10_000) if start <= c.due(k) < end
    )  # by brute force
    assert due_between(clients, start, end) == counted


def test_due_between_does_not_count_poisson_arrivals() -> None:
    schedule = RateSchedule(3_000, clients=2, arrival=Arrival.POISSON)
    assert due_between([schedule.client(0), schedule.client(1)], 0, 10**9) is None
    assert due_between([], 0, 10**9) == 0
