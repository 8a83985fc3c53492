"""The engine against servers that misbehave in known ways: the numbers must say so exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.drivers import BOTH_DRIVERS
from tests.support.runs import run_engine

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)


def _run(target: str, tmp_path: Path, **kw: object) -> dict[str, object]:
    options: dict[str, object] = dict(
        proto="", clients=20, duration_s=2.0, warmup_s=0.3, timeout_s=0.2, server_model=None
    )
    outcome = run_engine(target=target, out_dir=str(tmp_path), **{**options, **kw})
    assert outcome.folder is not None
    return outcome.result


@BOTH_DRIVERS
def test_udp_loss_is_accounted_exactly(
    faulty_server: Callable[..., str], tmp_path: Path, batch: bool
) -> None:
    port = faulty_server("--proto", "udp", "--behaviour", "drop10")
    result = _run(f"udp://127.0.0.1:{port}", tmp_path, clients=50, batch=batch)
    d = result["datagrams"]
    assert isinstance(d, dict)
    assert d["sent"] == d["received"] + d["lost"] + d["in_flight"]
    assert d["sent"] > 1000
    assert d["in_flight"] <= 50  # one per client at most, in closed loop
    # the server drops every 10th datagram it sees; a reply a stalled machine held past
    # --timeout is lost too, and counted late when it comes: not one the server dropped
    never_answered = d["lost"] - d["late"]
    assert 0.08 <= never_answered / (d["sent"] - d["in_flight"]) <= 0.12  # window edges
    assert d["duplicates"] == 0
    # A lost datagram is a request with no valid reply: an error (issue 25).
    assert result["totals"]["errors"] == {"lost": d["lost"]}  # type: ignore[index]


@pytest.mark.parametrize(
    ("batch", "busy_poll"),
    [(True, False), (False, False), (True, True)],
    ids=["one-pump", "task-per-client", "busy-poll"],
)
def test_latency_includes_the_servers_delay(
    faulty_server: Callable[..., str], tmp_path: Path, batch: bool, busy_poll: bool
) -> None:
    port = faulty_server("--proto", "tcp", "--behaviour", "delay", "--delay-ms", "20")
    result = _run(
        f"tcp://127.0.0.1:{port}", tmp_path, clients=10, timeout_s=1.0, batch=batch,
        busy_poll=busy_poll,
    )  # fmt: skip
    latency = result["latency_us"]
    assert isinstance(latency, dict)
    assert 20_000 <= latency["p50"] <= 60_000  # never below the delay; above it, load
    assert latency["min"] >= 20_000
    assert latency["count"] == result["totals"]["requests"]  # type: ignore[index]
    # 10 clients, one request each per >= 20 ms, for 2 s: at most 1000, fewer when loaded.
    assert 250 <= latency["count"] <= 1000


@BOTH_DRIVERS
def test_wrong_replies_are_counted_as_mismatches(
    faulty_server: Callable[..., str], tmp_path: Path, batch: bool
) -> None:
    port = faulty_server("--proto", "tcp", "--behaviour", "garbage")
    result = _run(f"tcp://127.0.0.1:{port}", tmp_path, clients=5, duration_s=1.0, batch=batch)
    errors = result["totals"]["errors"]  # type: ignore[index]
    assert errors["mismatch"] > 10
    # Not one good reply: the run ran to its end, but measured no target.
    assert result["status"] == "degraded"
