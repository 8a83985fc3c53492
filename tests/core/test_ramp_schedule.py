"""--ramp with --rate: the rate rises linearly, due times from k directly (exact)."""

import itertools
import math

from sockbench.core.schedule import RateSchedule, StartSchedule, ramped_due, ramped_first
from tests.support.schedules import merged

S = 1_000_000_000
MS = 1_000_000


def test_1000_per_s_ramped_over_2_s_sends_half_as_many_in_the_ramp_then_full_rate() -> None:
    schedule = RateSchedule(1000.0, 10, seed=4, ramp_ns=2 * S)
    times = merged(schedule, 5 * S)
    # Integral of the rate: 1000·2/2 = 1000 in the ramp, then 1000/s for 3 s.
    assert abs(sum(t < 2 * S for t in times) - 1000) <= 1
    assert abs(len(times) - 4000) <= 1
    assert len(times) == schedule.total_before(5 * S)
    assert len(set(times)) == len(times)  # no two requests in the same ns


def test_the_rate_rises_linearly_second_by_second() -> None:
    # rate 4000/s over a 4 s ramp: 1000 t² in the first t seconds -> 500, 1500, 2500, 3500.
    schedule = RateSchedule(4000.0, 20, seed=1, ramp_ns=4 * S)
    per_second = [
        schedule.total_before((s + 1) * S) - schedule.total_before(s * S) for s in range(6)
    ]
    for got, want in zip(per_second, [500, 1500, 2500, 3500, 4000, 4000], strict=True):
        assert abs(got - want) <= 2


def test_after_the_ramp_the_gaps_are_the_period_shifted_by_half_the_ramp() -> None:
    schedule = RateSchedule(3.0, 1, seed=0, ramp_ns=10 * S)  # period 333,333,333.3 ns
    client = schedule.client(0)
    gaps = {client.due(k + 1) - client.due(k) for k in range(20, 1000)}
    assert gaps <= {333_333_333, 333_333_334}
    # A year in, exact to the ns: n·period + ramp/2 (no drift).
    n = 3 * 86_400 * 365
    assert client.due(n) == client.offset_ns + 86_400 * 365 * S + 5 * S


def test_due_times_never_decrease_and_meet_at_the_ramp_end() -> None:
    pn, pd, ramp = 1_000_000, 1, 2 * S  # 1000/s
    assert ramped_due(1000, pn, pd, ramp) == ramp  # n_T = ramp / (2·period)
    assert ramped_due(999, pn, pd, ramp) == math.isqrt(2 * 999 * ramp * pn)
    dues = [ramped_due(n, pn, pd, ramp) for n in range(3000)]
    assert all(b > a for a, b in itertools.pairwise(dues))


def test_first_is_the_exact_inverse_of_due() -> None:
    for pn, pd, ramp in [(1_000_000, 1, 2 * S), (1_000_000_000, 3, 7 * S + 1), (7, 2, 999)]:
        dues = [ramped_due(n, pn, pd, ramp) for n in range(2000)]
        for u in [0, 1, *dues[::37], *(d + 1 for d in dues[::41]), ramp, ramp + 1]:
            n = ramped_first(u, pn, pd, ramp)
            assert ramped_due(n, pn, pd, ramp) >= u
            assert n == 0 or ramped_due(n - 1, pn, pd, ramp) < u


def test_each_clients_index_at_counts_its_own_due_times() -> None:
    schedule = RateSchedule(777.0, 7, seed=2, ramp_ns=3 * S)
    for t in (0, MS, S, 3 * S, 4 * S + 17):
        for i in range(7):
            client, k = schedule.client(i), 0
            while client.due(k) < t:
                k += 1
            assert client.index_at(t) == k


def test_clients_come_up_linearly_over_the_ramp() -> None:
    starts = StartSchedule(here=4, clients=8, ramp_ns=2 * S)
    assert [starts.start_ns(i) for i in range(4)] == [0, S // 2, S, 3 * S // 2]
    assert starts.span_ns == 3 * S // 2


def test_connect_rate_is_shared_by_the_workers_in_proportion() -> None:
    # 1000 connects/s over 2 workers of 500 clients: each paces its own at 500/s.
    starts = StartSchedule(here=500, clients=1000, connect_rate=1000.0)
    assert [starts.start_ns(i) for i in range(3)] == [0, 2 * MS, 4 * MS]
    assert starts.span_ns == 499 * 2 * MS
    # The slower of the two wins: a 1 s ramp for 500 clients is 2 ms each as well.
    both = StartSchedule(here=500, clients=1000, ramp_ns=S, connect_rate=250.0)
    assert both.start_ns(1) == 8 * MS
    assert StartSchedule(here=3, clients=3).span_ns == 0
