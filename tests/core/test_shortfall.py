"""Who fell behind when an open-loop run served less than it asked (issue 25)."""

from __future__ import annotations

from typing import Any

from sockbench.core.shortfall import in_flight_cap, rate_shortfall


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
