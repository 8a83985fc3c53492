"""Who fell behind when an open-loop run served less than it asked (issue 25)."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.core.shortfall import in_flight_cap, rate_shortfall, requests_due, slots


def _doc(
    served: float,
    offered: float | None = None,
    failed: dict[str, int] | None = None,
    scheduler_p99: int = 50,
    saturated: bool = False,
) -> dict[str, Any]:
    requested = 2000.0
    return {
        "status": "completed",
        "duration_s": 3.0,
        "totals": {
            "requested_rps": requested,
            "throughput_rps": served,
            "achieved_ratio": round(served / requested, 4),
            "offered_rps": offered,
            "requests_failed": failed or {},
        },
        "scheduler_lag_us": {"p99": scheduler_p99},
        "generator": {"saturated": saturated},
    }


def test_a_kept_rate_says_nothing() -> None:
    assert rate_shortfall(_doc(1990.0, 2000.0)) is None
    assert rate_shortfall({"totals": {"throughput_rps": 5.0}}) is None  # closed loop


def test_a_target_that_falls_behind_is_named_with_what_was_sent() -> None:
    """A server of ~800 req/s asked for 2000, the generator on time (slots held it)."""
    warning = rate_shortfall(_doc(700.0, 700.0, failed={"timeout": 2311, "unfinished": 9}))
    assert warning is not None and warning.kind == "rate_not_kept"
    assert "; 2,311 got no reply within --timeout" in warning.message
    assert "; 9 were still open when --drain ended" in warning.message
    assert warning.message.startswith("served 700 req/s of the 2,000 requested (35.0%)")
    assert "sent 700 req/s" in warning.message and "the target fell behind" in warning.message
    assert "backlog" in warning.advice


def test_a_generator_that_falls_behind_is_named_and_told_to_add_workers() -> None:
    for doc in (_doc(1200.0, 1210.0, scheduler_p99=5000), _doc(1200.0, 1210.0, saturated=True)):
        warning = rate_shortfall(doc)
        assert warning is not None and "the generator fell behind" in warning.message
        assert "--workers" in warning.advice


def test_a_generator_that_sent_it_all_is_not_blamed_even_when_busy() -> None:
    warning = rate_shortfall(_doc(1200.0, 2000.0, saturated=True))
    assert warning is not None and "the target fell behind" in warning.message


def test_loss_is_the_cause_when_failures_make_the_shortfall() -> None:
    warning = rate_shortfall(_doc(500.0, 2000.0, failed={"lost": 4500}))
    assert warning is not None and "requests failed (lost 4,500)" in warning.message
    assert "lost datagrams" in warning.advice and "backlog" not in warning.advice


def test_mismatches_and_error_replies_are_the_cause_with_their_own_advice() -> None:
    failed = {"protocol_error": 3000, "mismatch": 10}
    warning = rate_shortfall(_doc(1000.0, 2000.0, failed=failed))
    assert warning is not None
    assert "requests failed (protocol_error 3,000, mismatch 10)" in warning.message
    assert "errors by kind" in warning.advice


def _poisson(served: float, issued: int, offered: float) -> dict[str, Any]:
    doc = _doc(served, offered)
    doc["config"] = {"arrival": "poisson"}
    doc["totals"]["requests_issued"] = issued
    return doc


def test_poisson_arrivals_are_judged_against_what_the_schedule_put_in_the_window() -> None:
    """A Poisson count in 3 s at 2000/s is 6,000 ± 77: 5,850 due (97.5 % of the rate),
    all served, kept the rate; the same served of 6,200 due did not."""
    assert rate_shortfall(_poisson(1950.0, 5850, 1950.0)) is None
    warning = rate_shortfall(_poisson(1950.0, 6200, 1950.0))
    assert warning is not None
    assert warning.message.startswith(
        "served 1,950 req/s of the 2,067 due (94.4%; poisson arrivals at --rate 2,000), sent"
    )
    # Uniform arrivals keep --rate as the measure.
    assert rate_shortfall(_doc(1950.0, 1950.0)) is not None


def _capped(proto: str = "tcp") -> dict[str, Any]:
    """100,000 req/s asked of 100 connections at --pipeline 1; 95,000 came back, 1.6 ms
    after their sends on average (the slots held the rest)."""
    doc = _doc(1900.0, 1900.0)
    doc["totals"]["requested_rps"] = 100_000.0
    doc["totals"]["throughput_rps"] = doc["totals"]["offered_rps"] = 95_000.0
    doc["totals"]["achieved_ratio"] = 0.95
    doc["config"] = {"clients": 100, "pipeline": 1, "proto": proto}
    doc["service_time_us"] = {"mean": 1612.4, "p99": 4000}
    return doc


def test_the_slots_name_the_round_trip_they_leave_each_request() -> None:
    """Little's law: 100 slots carry 100,000 req/s while a round trip takes under 1 ms."""
    assert in_flight_cap(_capped()) == (
        "100 clients × --pipeline 1 leave each request 1 ms for its round trip at this "
        "rate, and the replies took 1.61 ms on average"
    )
    doc = _capped()
    doc["config"]["pipeline"] = 8
    doc["service_time_us"]["mean"] = 420.0
    assert "leave each request 8 ms" in (in_flight_cap(doc) or "")
    assert "took 420 µs on average" in (in_flight_cap(doc) or "")
    warning = rate_shortfall(_capped())
    assert warning is not None and "the target fell behind" in warning.message
    assert "(100 clients × --pipeline 1 leave each request 1 ms" in warning.advice
    assert warning.advice.endswith("raise --pipeline or --clients")


def test_datagrams_and_closed_loop_have_no_slots_to_name() -> None:
    assert in_flight_cap(_capped("udp")) is None and in_flight_cap(_capped("unix-dgram")) is None
    closed = _capped()
    del closed["service_time_us"]  # closed loop keeps no service time
    assert in_flight_cap(closed) is None
    warning = rate_shortfall(_capped("udp"))
    assert warning is not None and "--pipeline" not in warning.advice


def test_slots_the_replies_kept_busy_are_named_and_idle_ones_are_not() -> None:
    """A reply of 76 µs where the slots leave 1 ms kept one slot busy 8 % of the time: no
    request waited for it, so no advice may say to raise --pipeline."""
    busy = slots(_capped())
    assert busy is not None and busy.held and busy.busy == pytest.approx(1.6124)
    idle = _capped()
    idle["config"]["clients"] = 1
    idle["totals"] |= {"requested_rps": 1000.0, "throughput_rps": 950.0, "offered_rps": 950.0}
    idle["service_time_us"]["mean"] = 76.0
    found = slots(idle)
    assert found is not None and not found.held and found.busy == pytest.approx(0.076)
    warning = rate_shortfall(idle)
    assert warning is not None and "the target fell behind" in warning.message
    assert "--pipeline" not in warning.advice and "round trip" not in warning.advice


def test_a_run_bounded_by_requests_was_due_only_the_requests_it_had() -> None:
    """--rate 1k --requests 100 from one client: its last request is due 99 ms in, it
    learns of the limit at its next due time, 1 ms later, and waits for the last reply.
    The window is 101 ms: rate × window is 101, but the schedule had 100."""
    assert requests_due(1000.0, 0.1012, bounded=True, issued=100, round_trip_us=205) == 100
    # 100 clients learn of the limit up to 100 slots (100 ms) after it was reached.
    assert requests_due(1000.0, 1.1, bounded=True, issued=1000, clients=100) == 1000
    # Requests that waited for a slot made the window twice as long as the schedule
    # needed: rate × window were due, less the tail (1 client + 1 slot + 3 round trips).
    due = requests_due(30_000.0, 0.2, bounded=True, issued=3000, round_trip_us=100)
    assert due == pytest.approx(6000 - 2 - 3)
    # The duration came first (nothing bounded the schedule): rate × window.
    assert requests_due(1000.0, 2.0, bounded=True, issued=1999, clients=10) == 1999
    assert requests_due(1000.0, 2.0, bounded=True, issued=2000, clients=10) == 2000
    # Without --requests, rate × window whatever was issued.
    assert requests_due(1000.0, 0.1012, issued=100) == pytest.approx(101.2)
    # Poisson arrivals vary by the square root of their count: 3 √1000 more allowed.
    poisson = requests_due(10_000.0, 0.11, bounded=True, issued=1000, poisson=True)
    assert poisson == 1000 and requests_due(10_000.0, 0.11, bounded=True, issued=1000) > 1000


def _bounded(offered: float, seconds: float) -> dict[str, Any]:
    """--rate 1000 --requests 100 from one client over TCP, replies of 78 µs."""
    served = 100 / seconds
    due = requests_due(1000.0, seconds, bounded=True, issued=100, round_trip_us=205)
    return {
        "status": "completed",
        "duration_s": seconds,
        "config": {"clients": 1, "pipeline": 1, "proto": "tcp", "requests": 100},
        "totals": {
            "requested_rps": 1000.0,
            "throughput_rps": served,
            "achieved_ratio": round(100 / due, 4),  # as the result computes it
            "offered_rps": offered,
            "requests_issued": 100,
            "requests_failed": {},
        },
        "scheduler_lag_us": {"p99": 158},
        "service_time_us": {"mean": 78.2, "p99": 205},
        "generator": {"saturated": False},
    }


def test_a_run_that_stopped_at_its_requests_kept_its_rate() -> None:
    """Before, 988 req/s sent in a window of 101 ms read as 98.8 % of --rate 1000."""
    assert rate_shortfall(_bounded(988.1, 0.1012)) is None
    # Twice as long as the schedule needed: the target (slots idle) fell behind.
    late = _bounded(500.0, 0.2)
    warning = rate_shortfall(late)
    assert warning is not None and warning.message.startswith(
        "served 500 req/s of the 989 due (50.6%; what --rate 1,000 made due, up to --requests 100)"
    )
