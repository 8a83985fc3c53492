"""--arrival poisson in real runs: every worker and driver sends the schedule's requests."""

from __future__ import annotations

import math

import pytest

from sockbench.core.kinds import Arrival
from sockbench.core.schedule import NS_PER_S, RateSchedule
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)


@pytest.mark.parametrize(
    ("proto", "batch", "workers", "ramp_s"),
    [
        pytest.param("tcp", True, 1, 0.0, id="pump"),
        pytest.param("tcp", False, 2, 0.0, id="task-per-client-2-workers"),
        pytest.param("tcp", True, 2, 1.0, id="pump-2-workers-ramp"),
        pytest.param("udp", True, 1, 0.0, id="pump-udp"),
    ],
)
def test_a_poisson_run_issues_exactly_the_schedules_requests(
    proto: str, batch: bool, workers: int, ramp_s: float
) -> None:
    """The window is [ramp + warm-up, + duration) of the schedule's clock, so the requests
    issued in it are the due times the schedule puts there, to the request."""
    rate, clients, seed, warmup_s, duration_s = 2000.0, 8, 5, 0.5, 2.0
    result = run_result(
        proto=proto, rate=rate, arrival="poisson", seed=seed, clients=clients,
        duration_s=duration_s, warmup_s=warmup_s, ramp_s=ramp_s, batch=batch, workers=workers,
    )  # fmt: skip
    config, totals = result["config"], result["totals"]
    assert (config["arrival"], config["seed"], config["workers"]) == ("poisson", seed, workers)
    assert result["status"] == "completed"
    schedule = RateSchedule(rate, clients, seed, int(ramp_s * NS_PER_S), arrival=Arrival.POISSON)
    start = int((ramp_s + warmup_s) * NS_PER_S)
    due = schedule.total_before(start + int(duration_s * NS_PER_S)) - schedule.total_before(start)
    assert totals["requests_issued"] == due
    expected = rate * duration_s  # Poisson: within 5 standard deviations of rate × duration
    assert abs(totals["requests_issued"] - expected) < 5 * math.sqrt(expected)
    # Over UDP a socket drops what its buffer cannot hold while its reader waits for a CPU
    # (8 % lost once in a fresh clone's make test); the kernel counts those at the
    # server's socket and the clients' (target_drops, generator_drops), so the bound is on
    # the rest, as for the UDP stream's sink.
    d = result.get("datagrams") or {}
    dropped = d.get("target_drops", 0) + d.get("generator_drops", 0)
    assert totals["requests"] + dropped >= 0.95 * totals["requests_issued"]
