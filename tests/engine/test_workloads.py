"""Workloads against real server processes: rates, churn, stream, and a real Redis."""

from __future__ import annotations

import pytest

from sockbench.servers.registry import available_models
from tests.support.drivers import BOTH_DRIVERS, each_on_one_driver
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

MODELS = [info.name for info in available_models()]


def _run(**kw: object) -> dict[str, object]:
    return run_result(**kw)


@each_on_one_driver("model", MODELS)  # the rate is the driver's, the model only serves it
def test_rate_is_kept(model: str, batch: bool) -> None:
    # threadpool serves at most --server-threads connections at once: give it enough.
    result = _run(
        server_model=model, clients=100, rate=1000.0, duration_s=2.0, warmup_s=0.5,
        server_threads=128, batch=batch,
    )  # fmt: skip
    totals = result["totals"]
    assert isinstance(totals, dict)
    assert totals["errors"] == {}
    # Loose on purpose: on a loaded 2-core machine a model of Python threads serves late
    # (857 req/s once, in a fresh clone's run), and a driver that lost the rate would be
    # off by far more (closed loop: 10k and up); benchmarks/ measure precision.
    assert abs(totals["throughput_rps"] - 1000) <= 250
    assert result["send_lag_us"]["p50"] < 20_000  # type: ignore[index]


@pytest.mark.parametrize("model", MODELS)
def test_churn_reports_connections_per_second(model: str) -> None:
    # A 5 s timeout, not the base's 1 s: in a fresh clone's make test, each of the 4
    # threadpool clients timed out once together (a server stalled past 1 s under the
    # suite's load); what is checked here is the churn's counting, not the server's speed.
    result = _run(server_model=model, mode="churn", clients=4, timeout_s=5.0)
    totals = result["totals"]
    assert isinstance(totals, dict)
    assert totals["errors"] == {}
    assert totals["connections_per_s"] > 100
    assert totals["connections"] == totals["requests"]
    assert result["connect_us"]["count"] == totals["connections"]  # type: ignore[index]


@BOTH_DRIVERS
def test_a_bounded_pool_queues_connections_beyond_its_size(batch: bool) -> None:
    """threadpool with 4 threads and 12 persistent clients: 8 wait, and the numbers show it."""
    result = _run(
        server_model="threadpool", server_threads=4, clients=12, timeout_s=0.3, batch=batch
    )
    totals = result["totals"]
    assert isinstance(totals, dict)
    assert totals["errors"].get("timeout", 0) > 0
    assert result["server_resources"]["threads_max"] <= 4 + 3  # type: ignore[index]


def test_tcp_stream_reports_throughput_and_its_spread() -> None:
    result = _run(mode="stream", clients=3, payload=16384)
    stream = result["stream"]
    assert isinstance(stream, dict)
    assert stream["total_bps"] > 10e6
    spread = stream["per_client_bps"]
    assert 0 < spread["min"] <= spread["median"] <= spread["max"]
    assert result["totals"]["errors"] == {}  # type: ignore[index]


def test_udp_stream_reports_goodput_and_loss() -> None:
    result = _run(proto="udp", mode="stream", clients=2, rate=2000.0, payload=512)
    d = result["datagrams"]
    assert isinstance(d, dict)
    assert d["sent"] == pytest.approx(2000, rel=0.1)
    assert d["sent"] == d["received"] + d["lost"] + d["in_flight"]
    # The sink drops what its socket buffer (rmem_default, 208 KiB: some 170 of these
    # datagrams, 85 ms) cannot hold while it waits for a CPU: 2.8 % once beside make
    # test's other processes, 12 % with a benchmark running beside those, 32 % once in a
    # loaded make test. The kernel counts those drops at the sink's socket and the result
    # has them (target_drops), so the bound is on the rest: it only tells a count that is
    # broken (all lost) from a sink that was starved.
    assert d["lost"] - d["target_drops"] <= d["sent"] * 0.25
    # Goodput is what arrived: exact whatever the sink dropped (a fixed 8.19 Mbit/s read
    # 6.73 once beside make test's other processes, with 18 % of the datagrams lost).
    seconds = result["duration_s"]
    assert isinstance(seconds, float)
    assert result["stream"]["total_bps"] == pytest.approx(d["received"] * 512 * 8 / seconds)  # type: ignore[index]


@BOTH_DRIVERS
def test_requests_stops_after_exactly_that_many(batch: bool) -> None:
    result = _run(requests=500, duration_s=30.0, batch=batch)
    assert result["totals"]["requests"] == 500  # type: ignore[index]
    assert result["latency_us"]["count"] == 500  # type: ignore[index]
    assert result["duration_s"] < 10  # type: ignore[operator]


@BOTH_DRIVERS
def test_an_open_loop_that_stops_at_requests_is_judged_on_what_was_due(batch: bool) -> None:
    """--rate 1000 --requests 100 ends at its count, 0.1 s in: its window ends when the
    last client retired (not after the drain and the hand-over), and what was due is the
    100 requests its schedule had, not rate × window (which read as 90 % sent, and the
    run as not valid). The achieved ratio's bound is loose: a loaded machine wakes a
    client late for its last due time, and a few ms late at the end of a 0.1 s run read
    0.966 (the old reading was 0.90)."""
    result = _run(requests=100, rate=1000.0, clients=2, duration_s=5.0, warmup_s=0.0, batch=batch)
    totals = result["totals"]
    assert isinstance(totals, dict)
    assert totals["requests"] == totals["requests_issued"] == 100
    assert result["status"] == "completed"
    assert result["duration_s"] < 0.2  # type: ignore[operator]
    assert totals["achieved_ratio"] >= 0.95
    arrivals = result["validity"]["arrivals"]  # type: ignore[index]
    assert arrivals["sent_ratio"] >= 0.95
    if arrivals["sent_ratio"] >= 0.99:  # the reason's own threshold
        assert not any("requests due were sent" in r["text"] for r in result["validity"]["reasons"])  # type: ignore[index]


@BOTH_DRIVERS
def test_redis_ping_with_send_and_expect(redis_port: int, batch: bool) -> None:
    result = _run(
        target=f"tcp://127.0.0.1:{redis_port}", proto="", server_model=None, clients=20,
        send=r"PING\r\n", expect_reply=r"+PONG\r\n", batch=batch,
    )  # fmt: skip
    totals = result["totals"]
    assert isinstance(totals, dict)
    assert totals["errors"] == {}
    assert totals["requests"] > 1000


@BOTH_DRIVERS
def test_a_wrong_expectation_counts_mismatches_without_crashing(
    redis_port: int, batch: bool
) -> None:
    result = _run(
        target=f"tcp://127.0.0.1:{redis_port}", proto="", server_model=None, clients=5,
        send=r"PING\r\n", expect_reply=r"+PANG\r\n", batch=batch,
    )  # fmt: skip
    totals = result["totals"]
    assert isinstance(totals, dict)
    assert totals["errors"]["mismatch"] > 10
    assert totals["requests"] == 0
    # Not one good reply: the run ran to its end, but measured no target.
    assert result["status"] == "degraded"


@BOTH_DRIVERS
@pytest.mark.parametrize("rate", [None, 2000.0], ids=["closed-loop", "open-loop"])
def test_redis_with_a_delimited_reply_and_pipelining(
    redis_port: int, rate: float | None, batch: bool
) -> None:
    result = _run(
        target=f"tcp://127.0.0.1:{redis_port}", proto="", server_model=None, clients=4,
        send=r"PING\r\n", expect_until=r"\r\n", rate=rate, pipeline=8, batch=batch,
    )  # fmt: skip
    totals = result["totals"]
    assert isinstance(totals, dict)
    assert totals["errors"] == {}
    if rate is not None:
        assert totals["throughput_rps"] == pytest.approx(2000, rel=0.1)
    else:
        assert totals["requests"] > 1000
