"""--arrival poisson: each client's due times are a Poisson process, exact and seeded."""

import bisect
import itertools
import math
import random
import statistics

import pytest

from sockbench.core.kinds import Arrival
from sockbench.core.machine import Machine
from sockbench.core.schedule import (
    ClientSchedule,
    PoissonClientSchedule,
    RateSchedule,
)
from sockbench.errors import ConfigError
from tests.support.schedules import due_before, merged
from tests.support.specs import spec_of

S = 1_000_000_000
MS = 1_000_000
POISSON = Arrival.POISSON


def _gaps(times: list[int]) -> list[int]:
    return [b - a for a, b in itertools.pairwise(times)]


def _ks_exponential(gaps: list[int], mean: float) -> float:
    """Kolmogorov-Smirnov distance between the gaps and the exponential of ``mean``."""
    n = len(gaps)
    distance = 0.0
    for i, gap in enumerate(sorted(gaps)):
        cdf = 1 - math.exp(-gap / mean)
        distance = max(distance, (i + 1) / n - cdf, cdf - i / n)
    return distance


KS_CRITICAL = 1.95  # / sqrt(n): alpha = 0.001


def test_same_seed_same_due_times_on_any_worker_other_seed_or_client_other_times() -> None:
    a = RateSchedule(500.0, 8, seed=7, arrival=POISSON)
    b = RateSchedule(500.0, 8, seed=7, arrival=POISSON)  # another worker, another process
    first = [[a.client(i).due(k) for k in range(200)] for i in range(8)]
    assert first == [[b.client(i).due(k) for k in range(200)] for i in range(8)]
    # A worker running clients 4..7 builds them from their numbers in the run alone.
    assert [due_before(b.client(4 + i), S) for i in range(4)] == [
        due_before(a.client(4 + i), S) for i in range(4)
    ]
    other = RateSchedule(500.0, 8, seed=8, arrival=POISSON)
    assert all(first[i] != [other.client(i).due(k) for k in range(200)] for i in range(8))
    assert len({tuple(times[:5]) for times in first}) == 8  # each client its own


def test_the_due_times_are_pinned_integers() -> None:
    """The same on every machine: integer arithmetic over a seeded generator (a change to
    either changes every run's schedule, so it must be deliberate)."""
    client = RateSchedule(1000.0, 10, seed=0, arrival=POISSON).client(0)
    times = [client.due(k) for k in range(4)]
    assert all(type(t) is int for t in times)
    assert times == [399_293, 2_677_300, 11_128_835, 11_894_280]


def test_due_times_never_decrease_and_do_not_drift() -> None:
    client = RateSchedule(20_000.0, 1, seed=3, arrival=POISSON).client(0)
    times = [client.due(k) for k in range(200_000)]
    assert all(b >= a for a, b in itertools.pairwise(times))
    # 200,000 exponential gaps of 50 µs: 10 s, within 5 standard deviations (sqrt(n)·mean).
    assert abs(times[-1] - 10 * S) < 5 * math.sqrt(200_000) * 50_000
    # The k-th due time is the k-th whatever was asked before: no float was accumulated.
    again = RateSchedule(20_000.0, 1, seed=3, arrival=POISSON).client(0)
    assert again.due(199_999) == times[-1]


def test_each_clients_gaps_are_exponential_of_mean_clients_over_rate() -> None:
    schedule = RateSchedule(1000.0, 10, seed=11, arrival=POISSON)
    mean = 10 * MS  # clients / rate
    assert schedule.interval_ns == mean
    for i in (0, 9):
        client = schedule.client(i)
        assert client.interval_ns == mean
        gaps = _gaps([client.due(k) for k in range(20_001)])
        assert abs(statistics.fmean(gaps) - mean) < 5 * mean / math.sqrt(len(gaps))
        assert abs(statistics.pstdev(gaps) / statistics.fmean(gaps) - 1) < 0.03
        assert _ks_exponential(gaps, mean) < KS_CRITICAL / math.sqrt(len(gaps))


def test_the_runs_arrivals_are_poisson_of_the_rate_uniforms_are_evenly_spaced() -> None:
    """Merged over the clients: exponential gaps of 1/rate (CV 1), rate·T in T."""
    poisson = merged(RateSchedule(2000.0, 50, seed=1, arrival=POISSON), 50 * S)
    assert abs(len(poisson) - 100_000) < 5 * math.sqrt(100_000)
    gaps = _gaps(poisson)
    mean = statistics.fmean(gaps)
    assert abs(mean - 500_000) < 5 * 500_000 / math.sqrt(len(gaps))
    assert abs(statistics.pstdev(gaps) / mean - 1) < 0.02
    assert _ks_exponential(gaps, 500_000) < KS_CRITICAL / math.sqrt(len(gaps))
    uniform = merged(RateSchedule(2000.0, 50, seed=1), 50 * S)
    assert len(uniform) in (99_999, 100_000, 100_001)
    even = _gaps(uniform)
    assert statistics.pstdev(even) / statistics.fmean(even) < 0.001


def test_counts_in_a_window_vary_as_poissons_do() -> None:
    """Requests due per 10 ms window: mean rate·0.01, variance equal to the mean."""
    times = merged(RateSchedule(5000.0, 20, seed=4, arrival=POISSON), 20 * S)
    counts = [0] * 2000
    for t in times:
        counts[t // (10 * MS)] += 1
    mean, variance = statistics.fmean(counts), statistics.pvariance(counts)
    assert abs(mean - 50) < 5 * math.sqrt(50 / 2000)
    assert 0.85 < variance / mean < 1.15


def test_random_access_answers_as_the_sequence_does() -> None:
    schedule = RateSchedule(300.0, 3, seed=5, arrival=POISSON)
    expected = [schedule.client(2).due(k) for k in range(1000)]
    client = schedule.client(2)
    rng = random.Random(1)
    for k in [*rng.sample(range(1000), 100), 0, 0, 999, 999, 1, 2, 500, 499, 501]:
        assert client.due(k) == expected[k]
    assert isinstance(client, PoissonClientSchedule)
    assert not hasattr(client, "__dict__")  # a few integers, whatever was asked


def test_index_at_is_the_first_index_due_at_or_after_in_any_order() -> None:
    schedule = RateSchedule(700.0, 7, seed=2, arrival=POISSON)
    expected = [schedule.client(1).due(k) for k in range(1000)]
    client = schedule.client(1)
    rng = random.Random(3)
    for k in rng.sample(range(999), 60):
        for t in (expected[k], expected[k] + 1, expected[k] - 1):
            assert client.index_at(t) == bisect.bisect_left(expected, t)
        assert client.due(k) == expected[k]  # index_at moved the cursor; due is still right
    assert client.index_at(-S) == 0
    assert client.index_at(0) == 0


def test_total_before_counts_every_clients_due_times() -> None:
    schedule = RateSchedule(1000.0, 5, seed=6, arrival=POISSON)
    for t in (0, MS, 999 * MS, 2 * S):
        assert schedule.total_before(t) == len(merged(schedule, t))


def test_with_a_ramp_the_rate_rises_linearly_then_holds() -> None:
    """The time transform of the steady process by the ramp's integrated rate: in ramp
    second s (of 4) about rate·(2s+1)/8 are due, rate per second after it."""
    schedule = RateSchedule(4000.0, 20, seed=9, arrival=POISSON, ramp_ns=4 * S)
    times = merged(schedule, 6 * S)
    per_second = [sum(1 for t in times if s * S <= t < (s + 1) * S) for s in range(6)]
    expected = [500, 1500, 2500, 3500, 4000, 4000]
    for got, want in zip(per_second, expected, strict=True):
        assert abs(got - want) < 5 * math.sqrt(want), per_second
    gaps = _gaps([t for t in times if t >= 4 * S])
    assert abs(statistics.pstdev(gaps) / statistics.fmean(gaps) - 1) < 0.05
    assert all(b >= a for a, b in itertools.pairwise(due_before(schedule.client(0), 6 * S)))


def test_uniform_is_the_default_and_unchanged() -> None:
    client = RateSchedule(100.0, 4, seed=3).client(1)
    assert isinstance(client, ClientSchedule)
    assert RateSchedule(100.0, 4, seed=3, arrival=Arrival.UNIFORM).client(1) == client


def test_a_client_outside_the_run_is_an_error() -> None:
    with pytest.raises(IndexError):
        RateSchedule(100.0, 4, arrival=POISSON).client(4)


MACHINE = Machine(usable_cpus=frozenset({0, 1}), cpu_count=2)


def test_poisson_without_a_rate_is_refused_before_load() -> None:
    with pytest.raises(ConfigError, match=r"^--arrival poisson spaces open-loop requests: give"):
        spec_of({"arrival": "poisson", "workers": "1"}, MACHINE)
    with pytest.raises(ConfigError, match="unknown --arrival 'burst'; choose one of uniform"):
        spec_of({"arrival": "burst", "rate": "1k", "workers": "1"}, MACHINE)
    with pytest.raises(ConfigError, match="--seed cannot be negative"):
        spec_of({"seed": "-1", "workers": "1"}, MACHINE)


def test_arrival_and_seed_reach_the_config() -> None:
    doc = spec_of({"rate": "2k", "arrival": "Poisson", "seed": "42", "workers": "1"}, MACHINE)
    assert (doc.load.arrival, doc.load.seed) == (POISSON, 42)
    config = doc.to_json()
    assert (config["arrival"], config["seed"]) == ("poisson", 42)
    assert doc.protocol.options.seed == 42  # the key mix's generator too
    closed = spec_of({"workers": "1"}, MACHINE).to_json()
    assert (closed["arrival"], closed["seed"]) == ("uniform", 0)
