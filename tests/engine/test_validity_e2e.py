"""Results that check themselves (issue 27): a server that degrades during the run is
found not valid, and so is an open-loop run whose generator could not send its
schedule (docs/validity.md)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.conftest import start_ready_process, stop_process
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e

#: Short windows cut into 0.2 s intervals: the 8 a trend test needs.
WINDOW = dict(duration_s=1.6, warmup_s=0.2, interval_s=0.2)


@pytest.fixture
def drifting_server() -> Iterator[int]:
    """1 ms a request, four times that a second later: p99 and throughput move by far
    more than any noise of a shared machine within the window (doubling a second was
    read as steady once, beside make test's other processes)."""
    proc, port = start_ready_process(
        [sys.executable, "-m", "tests.support.drift_server", "--service-ms", "1", "--growth", "3"]
    )
    yield int(port)
    stop_process(proc)


def test_a_server_that_degrades_is_not_valid(drifting_server: int) -> None:
    result = run_result(
        target=f"tcp://127.0.0.1:{drifting_server}", proto="", server_model=None, clients=2,
        checks=["valid"], **WINDOW,
    )  # fmt: skip
    validity = result["validity"]
    assert validity["verdict"] == "not valid", validity
    assert validity["stationarity"]["verdict"] == "trend"
    assert {r["test"] for r in validity["reasons"]} == {"stationarity"}
    [check] = result["checks"]
    assert not check["passed"] and check["measured"].startswith("not valid: ")
    assert "not_valid" in [w["kind"] for w in result["warning_details"]]


def test_a_schedule_the_generator_could_not_send_is_not_valid() -> None:
    # 100,000 req/s over 4 connections of one request in flight each would need a round
    # trip under 40 µs: far fewer requests go out than are due (they wait for a slot,
    # or the one worker falls behind), and the tail is marked unreliable.
    result = run_result(
        clients=4, workers=1, rate=100_000.0, arrival="poisson", drain_s=0.2, **WINDOW
    )
    validity = result["validity"]
    assert validity["verdict"] == "not valid", validity
    assert validity["arrivals"]["followed"] is False
    assert validity["arrivals"]["sent_ratio"] < 0.9
    assert validity["percentiles"]["99"]["reliable"] is False
    assert validity["percentiles"]["50"]["reliable"] is True
