"""--warmup auto's rule on known series (issue 27 item 2): it parses, waits for its minimum,
settles on a steady series and after a ramp or a cold start, never on one still moving,
and reports what it chose (docs/validity.md)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from sockbench.core.intervals import IntervalRow
from sockbench.core.kinds import Workload
from sockbench.core.spec.load import Load
from sockbench.core.spec.rules import check_warmup
from sockbench.core.warmup import (
    BATCH,
    MIN_ROWS,
    AutoWarmup,
    WarmupDecision,
    WarmupMeter,
    WarmupOutcome,
    decide,
    mser,
    parse_warmup,
    warmup_section,
    warmup_text,
)
from sockbench.errors import ConfigError

INTERVAL_S = 0.1
#: A row's throughput and p99 at interval i, noise drawn from the generator given.
Series = Callable[[random.Random, int], tuple[float, float]]


def _row(i: int, rps: float, p99: float) -> IntervalRow:
    requests = round(rps * INTERVAL_S)
    return IntervalRow(
        start_s=round(i * INTERVAL_S, 6), t=round((i + 1) * INTERVAL_S, 6), requests=requests,
        errors=0, rps=rps, p50=round(p99 / 3), p99=round(p99), max=round(p99), histogram="",
    )  # fmt: skip


def _rows(series: Series, n: int, seed: int = 0) -> list[IntervalRow]:
    rng = random.Random(seed)
    return [_row(i, *series(rng, i)) for i in range(n)]


def _settles_after(series: Series, seed: int, limit: int = 200) -> WarmupDecision | None:
    """The first decision that settled, asked after each row as the coordinator does."""
    meter = WarmupMeter()
    rng = random.Random(seed)
    for i in range(limit):
        decision = meter.add(_row(i, *series(rng, i)))
        if decision.settled:
            return decision
    return None


def _noisy(rng: random.Random, level: float, sigma: float) -> float:
    return level * rng.lognormvariate(0, sigma)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2s", 2.0), ("500ms", 0.5), ("0", 0.0), ("auto", AutoWarmup(60.0)),
        ("auto:30s", AutoWarmup(30.0)), ("AUTO:2m", AutoWarmup(120.0)),
    ],
)  # fmt: skip
def test_it_parses_a_duration_or_auto_with_its_maximum(
    text: str, expected: float | AutoWarmup
) -> None:
    assert parse_warmup(text) == expected
    assert str(AutoWarmup(30.0)) == "auto:30s"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("autox", "give a duration (2s), 'auto' or 'auto:30s'"),
        ("auto:", "expected a duration"),
        ("auto:0", "must be greater than 0"),
        ("auto:nan", "finite"),
        ("auto:-1s", "must be greater than 0"),
    ],
)
def test_a_malformed_auto_is_refused_in_one_line(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"--warmup") as err:
        parse_warmup(text)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_auto_is_refused_where_it_cannot_work() -> None:
    with pytest.raises(ConfigError, match="--mode stream has none"):
        check_warmup(Load(warmup_s=AutoWarmup(30.0), mode=Workload.STREAM))
    with pytest.raises(ConfigError, match=r"needs 20 intervals \(20 s at --interval 1s"):
        check_warmup(Load(warmup_s=AutoWarmup(10.0), interval_s=1.0))
    check_warmup(Load(warmup_s=AutoWarmup(2.0), interval_s=0.1))
    check_warmup(Load(warmup_s=2.0, mode=Workload.STREAM))


def test_mser_truncates_where_a_step_ends() -> None:
    series = [10.0] * 10 + [1.0] * 40  # 2 batches high, 8 low
    assert mser(series) == 2
    assert mser([1.0] * 10) is None  # 2 batches: too few


def test_it_waits_for_its_minimum_and_decides_on_whole_batches() -> None:
    steady = _rows(lambda rng, i: (1000.0, 500.0), MIN_ROWS + BATCH)
    for n in range(1, MIN_ROWS):
        assert not decide(steady[:n]).settled
    assert decide(steady[:MIN_ROWS]).settled
    assert not decide(steady[: MIN_ROWS + 1]).settled  # no new batch: no decision
    assert decide(steady).settled


def test_a_steady_noisy_series_settles_soon() -> None:
    """Lognormal noise (30 % on throughput, 50 % on p99): settled in every seed, within a
    batch of the minimum in half of them (MSER's truncation lands in the second half of
    a noisy series now and then: then it waits for more), and nothing truncated."""
    soon = 0
    for seed in range(40):
        decision = _settles_after(
            lambda rng, i: (_noisy(rng, 1000, 0.3), _noisy(rng, 500, 0.5)), seed
        )
        assert decision is not None, seed
        soon += decision.rows <= MIN_ROWS + BATCH
    assert soon >= 18, soon


@pytest.mark.parametrize("cold", [5, 10, 15])
def test_a_cold_start_settles_after_it_ends(cold: int) -> None:
    """Slow for ``cold`` intervals (a fifth of the throughput, 5 times the p99), then
    steady: never settled with the cold part in the first half, and the transient ends
    at the cold part's end or after. (A cold part as long as the minimum, steady in itself, would
    look settled: the rule cannot know what comes after the rows it has.)"""

    def series(rng: random.Random, i: int) -> tuple[float, float]:
        slow = i < cold
        return _noisy(rng, 200 if slow else 1000, 0.1), _noisy(rng, 2500 if slow else 500, 0.2)

    for seed in range(10):
        decision = _settles_after(series, seed)
        assert decision is not None, seed
        assert decision.rows >= 2 * cold, (seed, decision)
        # Where the transient ended: at the cold part's end or after (MSER may cut
        # further into a noisy p99, never before the step).
        assert decision.transient is not None and decision.transient >= cold, (seed, decision)


def test_a_ramp_settles_after_it() -> None:
    """Throughput rising linearly over 30 intervals, then flat (5 % noise)."""
    for seed in range(8):
        decision = _settles_after(
            lambda rng, i: (_noisy(rng, 100 + 30 * min(i, 30), 0.05), _noisy(rng, 500, 0.1)),
            seed,
        )
        assert decision is not None and decision.rows >= 40, (seed, decision)
        assert decision.transient is not None and decision.transient >= 15, (seed, decision)


@pytest.mark.parametrize(
    "moving",
    [
        pytest.param(lambda rng, i: (1000 * 1.02**i, 500.0), id="throughput rising 2 %/interval"),
        pytest.param(lambda rng, i: (1000.0, 500 * 1.02**i), id="p99 rising 2 %/interval"),
        pytest.param(
            lambda rng, i: (_noisy(rng, 1000 + 20 * i, 0.05), _noisy(rng, 500, 0.1)),
            id="noisy linear rise",
        ),
    ],
)
def test_a_series_still_moving_never_settles(moving: Series) -> None:
    for seed in range(5):
        assert _settles_after(moving, seed, 100) is None, seed


def test_nothing_served_is_not_settled() -> None:
    assert not decide(_rows(lambda rng, i: (0.0, 0.0), 40)).settled


def test_the_result_section_and_its_line() -> None:
    rows = _rows(lambda rng, i: (1000.0 if i >= 10 else 200.0, 500.0), 25)
    decision = decide(rows)
    assert decision.settled and decision.transient == 10
    section = warmup_section(AutoWarmup(30.0), WarmupOutcome(tuple(rows), decision, True, 2.6))
    assert {k: v for k, v in section.items() if k != "intervals"} == {
        "auto": True, "max_s": 30.0, "settled": True, "chosen_s": 2.6, "transient_s": 1.0,
        "rule": "MSER-5 on rps and p99",
    }  # fmt: skip
    assert section["intervals"][0] == {"t": 0.1, "rps": 200.0, "p50": 167, "p99": 500}
    assert len(section["intervals"]) == 25
    assert warmup_text(section) == "settled after 2.60 s (transient 1.00 s; MSER-5 on rps and p99)"
    unsettled = warmup_section(AutoWarmup(3.0), WarmupOutcome((), None, False, 3.0))
    assert unsettled["transient_s"] is None and not unsettled["settled"]
    assert warmup_text(unsettled) == (
        "did not settle in 3 s (the maximum): the window started there"
    )
    assert math.isclose(unsettled["chosen_s"], 3.0)
    stopped = warmup_section(AutoWarmup(3.0), WarmupOutcome((), None, False, 1.2))
    assert warmup_text(stopped) == "stopped after 1.20 s of warm-up, before it settled"
