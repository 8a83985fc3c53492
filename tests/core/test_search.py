"""The capacity search's rules, with verdicts from servers whose capacity is known."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockbench.core.checks import parse_check
from sockbench.core.histogram import Recorder, summarize
from sockbench.core.search import (
    SEARCH_EXIT_CODES,
    CapacitySearch,
    Found,
    Judgement,
    Phase,
    Verdict,
    judge,
    search_status,
)
from sockbench.core.status import EXIT_CODES, RunStatus
from sockbench.errors import ConfigError

pytestmark = pytest.mark.unit

PASS, FAIL, INVALID, UNUSABLE = (Judgement(v) for v in Verdict)


def run(search: CapacitySearch, capacity: float, generator: float = float("inf"),
        repeat_fails: bool = False) -> CapacitySearch:  # fmt: skip
    """Drive ``search`` against a server that holds up to ``capacity`` and a generator
    that can offer up to ``generator``."""
    for _ in range(200):
        rate = search.next_rate()
        if rate is None:
            return search
        if rate > generator:
            search.record(rate, INVALID)
        elif search.phase is Phase.CONFIRM and repeat_fails:
            search.record(rate, FAIL)
        else:
            search.record(rate, PASS if rate <= capacity else FAIL)
    raise AssertionError("the search did not end")


def test_ramps_by_doubling_then_bisects_then_confirms() -> None:
    search = run(CapacitySearch(100), capacity=800)
    phases = [s.phase for s in search.steps]
    assert [s.rate for s in search.steps[:5]] == [100, 200, 400, 800, 1600]
    assert phases[:5] == [Phase.RAMP] * 5
    assert phases[-1] is Phase.CONFIRM and Phase.BISECT in phases
    outcome = search.outcome()
    assert outcome.found is Found.CAPACITY and outcome.confirmed is True
    assert outcome.capacity == 800  # 800 passed on the way up, and bisection kept it
    assert outcome.lowest_fail is not None and outcome.lowest_fail <= 800 * 1.05


@given(
    capacity=st.floats(min_value=1, max_value=1e6),
    rate_min=st.floats(min_value=1, max_value=1e3),
    precision=st.floats(min_value=0.01, max_value=0.5),
)
def test_the_bracket_holds_the_capacity_within_the_precision(
    capacity: float, rate_min: float, precision: float
) -> None:
    outcome = run(CapacitySearch(rate_min, precision), capacity).outcome()
    if capacity < rate_min:
        assert outcome.found is Found.BELOW_MIN and outcome.capacity is None
        return
    assert outcome.found is Found.CAPACITY
    assert outcome.capacity is not None and outcome.lowest_fail is not None
    assert outcome.capacity <= capacity < outcome.lowest_fail
    assert outcome.lowest_fail <= outcome.capacity * (1 + precision)


def test_even_the_lowest_rate_failing_is_below_min() -> None:
    search = run(CapacitySearch(1000), capacity=500)
    assert search.outcome().found is Found.BELOW_MIN
    assert [s.rate for s in search.steps] == [1000]  # nothing more to learn


def test_a_pass_at_rate_max_is_a_lower_bound() -> None:
    outcome = run(CapacitySearch(100, rate_max=1000), capacity=5000).outcome()
    assert outcome.found is Found.ABOVE_MAX and outcome.capacity == 1000
    assert max(s.rate for s in outcome.steps) == 1000


def test_the_generator_limit_is_never_a_capacity() -> None:
    """A server good for 10k behind a generator good for 3k: at least ~3k, said so."""
    outcome = run(CapacitySearch(100), capacity=10_000, generator=3000).outcome()
    assert outcome.found is Found.GENERATOR_LIMITED
    assert outcome.lowest_fail is None and outcome.lowest_invalid is not None
    assert outcome.capacity is not None and outcome.capacity <= 3000
    assert outcome.lowest_invalid <= outcome.capacity * 1.05


def test_a_generator_that_cannot_offer_the_lowest_rate_finds_nothing() -> None:
    outcome = run(CapacitySearch(1000), capacity=10_000, generator=500).outcome()
    assert outcome.found is Found.GENERATOR_LIMITED and outcome.capacity is None


def test_a_repeat_that_fails_is_reported() -> None:
    outcome = run(CapacitySearch(100), capacity=800, repeat_fails=True).outcome()
    assert outcome.found is Found.CAPACITY and outcome.confirmed is False


def test_no_confirmation_when_not_asked() -> None:
    outcome = run(CapacitySearch(100, confirm=False), capacity=800).outcome()
    assert outcome.confirmed is None
    assert all(s.phase is not Phase.CONFIRM for s in outcome.steps)


def test_a_stopped_search_says_so_and_keeps_its_bracket() -> None:
    search = CapacitySearch(100)
    search.record(100, PASS)
    search.record(200, PASS)
    search.stop()
    assert search.next_rate() is None
    outcome = search.outcome()
    assert outcome.found is Found.STOPPED and outcome.capacity == 200
    with pytest.raises(ValueError, match="over"):
        search.record(400, PASS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_min": 0}, "--rate-min"),
        ({"rate_min": 10, "precision": 0}, "--precision"),
        ({"rate_min": 10, "rate_max": 5}, "--rate-max"),
    ],
)
def test_bad_settings_are_one_line(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CapacitySearch(**kwargs)  # type: ignore[arg-type]


@functools.cache
def _latency(us: int) -> dict[str, Any]:
    rec = Recorder()
    for _ in range(100):
        rec.record(us)
    summary = summarize(rec.histogram)
    return {"count": 100, "min": us, "mean": float(us), "max": us, "p99": summary.p99,
            "histogram": summary.histogram}  # fmt: skip


def _doc(
    p99_us: int,
    lag_p99_us: int = 0,
    status: str = "completed",
    *,
    served: float = 1000,
    offered: float = 1000,
    saturated: bool = False,
) -> dict[str, Any]:
    """A run asked for 1,000 req/s."""
    totals = {
        "requested_rps": 1000.0, "offered_rps": offered, "throughput_rps": served,
        "achieved_ratio": served / 1000,
    }  # fmt: skip
    return {
        "status": status, "latency_us": _latency(p99_us), "totals": totals,
        "scheduler_lag_us": {"p99": lag_p99_us}, "generator": {"saturated": saturated},
    }  # fmt: skip


def test_judge_reads_the_slos_and_says_which_failed() -> None:
    slos = [parse_check("p99 < 5ms")]
    assert judge(slos, _doc(1000)).verdict is Verdict.PASS
    failed = judge(slos, _doc(9159))
    assert failed.verdict is Verdict.FAIL and failed.reasons == ("p99 < 5ms (measured 9.16 ms)",)


def test_a_rate_not_served_fails_whatever_the_slos_say() -> None:
    """A capacity is a rate served: 900 of 1,000 req/s fails even a p99 that holds."""
    failed = judge([parse_check("p99 < 5ms")], _doc(1000, served=900, offered=1000))
    assert failed.verdict is Verdict.FAIL
    assert failed.reasons == ("achieved >= 99% (measured 90.00%)",)
    # The user's own bound on it replaces the default one.
    assert judge([parse_check("achieved >= 80%")], _doc(1000, served=900)).verdict is Verdict.PASS


def test_a_saturated_generator_that_offered_the_rate_is_valid() -> None:
    kept = _doc(1000, saturated=True)
    assert judge([], kept).verdict is Verdict.PASS
    short = _doc(1000, served=700, offered=700, saturated=True)
    assert judge([], short).verdict is Verdict.INVALID


def test_a_failure_with_a_late_generator_is_invalid_a_pass_stands() -> None:
    """The failing latencies hold the generator's own delay: no verdict on the server.
    A pass despite that delay stands: the server did at least that well."""
    late = judge([parse_check("p99 < 5ms")], _doc(9159, lag_p99_us=5000))
    assert late.verdict is Verdict.INVALID
    assert late.reasons[0] == "p99 < 5ms (measured 9.16 ms)" and "--workers" in late.reasons[1]
    assert judge([parse_check("p99 < 5ms")], _doc(1000, lag_p99_us=5000)).verdict is Verdict.PASS


def test_a_late_generator_whose_loop_idled_is_told_of_the_machine_not_workers() -> None:
    """Late while its loop was busy 6 % of the time: other processes held its CPU, and
    more workers would only add to them."""
    doc = _doc(9159, lag_p99_us=5000)
    doc["generator"]["loop_busy_percent"] = 6.0
    late = judge([parse_check("p99 < 5ms")], doc)
    assert late.verdict is Verdict.INVALID and "--workers" not in late.reasons[1]
    assert "other processes held its CPU: run on a quiet machine" in late.reasons[1]
    doc["generator"]["loop_busy_percent"] = 80.0
    advice = judge([parse_check("p99 < 5ms")], doc).reasons[1]
    assert advice.endswith("add --workers, or lower --rate-max")


def test_a_generator_that_never_offered_the_rate_is_invalid() -> None:
    short = _doc(1000, lag_p99_us=5000, served=700, offered=700)
    judgement = judge([], short)
    assert judgement.verdict is Verdict.INVALID and "could not offer" in judgement.reasons[0]


def test_judge_fails_a_server_that_died() -> None:
    assert judge([], _doc(10, status="server_died")).verdict is Verdict.FAIL


def test_poisson_arrivals_are_judged_by_what_the_schedule_asked() -> None:
    """A Poisson count in 1 s at 1,000/s is 1,000 ± 32: 975 due and all 975 served kept
    the rate, though it is 97.5 % of --rate."""
    doc = _doc(1000, served=975, offered=975)
    doc["config"] = {"arrival": "poisson"}
    doc["duration_s"] = 1.0
    doc["totals"]["requests_issued"] = 975
    assert judge([], doc).verdict is Verdict.PASS
    doc["totals"]["requests_issued"] = 1030
    assert judge([], doc).reasons == ("achieved >= 99% (measured 94.66%)",)


def test_a_failure_with_a_generator_out_of_cpu_is_invalid() -> None:
    """A busy generator reads replies late too: what failed may be its own delay."""
    busy = judge([parse_check("p99 < 5ms")], _doc(9159, saturated=True))
    assert busy.verdict is Verdict.INVALID and "used all its CPU" in busy.reasons[-1]


def test_an_invalid_step_runs_once_more_before_it_counts() -> None:
    """A hiccup at --rate-min does not end the search; the same result twice does."""
    search = CapacitySearch(100, confirm=False)
    search.record(100, INVALID)
    assert search.next_rate() == 100 and search.phase is Phase.RAMP
    search.record(100, PASS)
    assert search.next_rate() == 200
    search.record(200, INVALID)
    assert search.next_rate() == 200
    search.record(200, INVALID)
    assert search.outcome().lowest_invalid == 200
    assert [s.rate for s in search.steps] == [100, 100, 200, 200]


def test_a_loss_failure_the_generators_own_sockets_dropped_is_invalid() -> None:
    """Replies the kernel dropped at the generator's sockets count as the target's loss:
    the failure may be the generator's, so the step says nothing about the server."""
    doc = _doc(1000)
    doc["datagrams"] = {"sent": 1000, "received": 900, "lost": 100, "generator_drops": 100}
    dropped = judge([parse_check("loss < 1%")], doc)
    assert dropped.verdict is Verdict.INVALID
    assert "dropped 100 datagrams at its own sockets" in dropped.reasons[-1]
    doc["datagrams"] = {**doc["datagrams"], "generator_drops": 0, "target_drops": 100}
    assert judge([parse_check("loss < 1%")], doc).verdict is Verdict.FAIL  # the target's


def _degraded(errors: dict[str, int], requests: int = 0) -> dict[str, Any]:
    """An echo server asked for memcache at 1,000 req/s: its run degraded."""
    doc = _doc(1000, status="degraded", served=requests, offered=1000)
    doc["totals"] |= {"requests": requests, "served": requests, "errors": errors}
    return doc


def test_a_target_that_answered_nothing_usable_is_unusable_not_failed() -> None:
    """Every reply a mismatch: no rate would do better, so no capacity is below it."""
    judgement = judge([parse_check("p99 < 5ms")], _degraded({"mismatch": 1000}))
    assert judgement.verdict is Verdict.UNUSABLE
    [reason] = judgement.reasons
    assert reason.startswith(
        "the target answered nothing usable: status degraded, 1,000 errors (mismatch 1,000) "
        "and 0 requests answered well"
    )
    assert "--protocol" in reason
    # Nearly every one: 5 good replies of 1,005 are no measure either.
    assert judge([], _degraded({"protocol_error": 990, "reset": 10}, 5)).verdict is Verdict.UNUSABLE
    # Timeouts are a target behind its rate: a capacity below it, a failure.
    timed_out = judge([], _degraded({"timeout": 1000}))
    assert timed_out.verdict is Verdict.FAIL and timed_out.reasons == ("status degraded",)
    # A degraded run that still served a share (it died half way) fails as before.
    assert judge([], _degraded({"reset": 10}, requests=500)).verdict is Verdict.FAIL
    # A completed run with every reply wrong fails on its rate (the run is not degraded).
    completed = _degraded({"mismatch": 1000})
    completed["status"] = "completed"
    assert judge([], completed).verdict is Verdict.FAIL


def test_an_unusable_lowest_rate_ends_the_search_claiming_no_capacity() -> None:
    search = CapacitySearch(1000, rate_max=4000)
    search.record(search.next_rate() or 0, UNUSABLE)
    assert search.next_rate() is None  # nothing more to learn
    outcome = search.outcome()
    assert outcome.found is Found.UNUSABLE and outcome.capacity is None
    assert outcome.lowest_fail is None  # no rate is claimed to be past the capacity
    # A degraded run's status and exit code: the one map's.
    assert search_status(outcome.found) is RunStatus.DEGRADED
    assert SEARCH_EXIT_CODES[Found.UNUSABLE] == EXIT_CODES[RunStatus.DEGRADED]
    assert search_status(Found.BELOW_MIN) is RunStatus.COMPLETED


def test_an_unusable_step_after_a_pass_is_that_rates_failure() -> None:
    """It served 1,000 req/s, then nothing usable at 2,000: the capacity is below that."""
    search = CapacitySearch(1000, precision=0.5, confirm=False)
    search.record(1000, PASS)
    search.record(2000, UNUSABLE)
    assert search.next_rate() == 1500  # bisects below it, as below a failure
    outcome = search.outcome()
    assert outcome.found is Found.CAPACITY and outcome.capacity == 1000
    assert outcome.lowest_fail == 2000
