"""Closed loop at ``--pipeline N``: the slots a read's replies free are filled in one write,
as memtier and wrk fill theirs (a send per request cost 2.2x the CPU per request:
benchmarks/pipelined_sends.py), and every request is still counted once."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from sockbench.endpoints import Proto
from sockbench.engine.clients.pump import Pump
from tests.engine.test_connectors import REQUESTS, _run
from tests.engine.test_real_protocol_servers import memcached_stats, redis_calls
from tests.support.builds import pure_only
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e  # real sockets


@pure_only  # patches a pump method, which the compiled pump calls natively
def test_a_pipeline_is_refilled_in_one_write_per_read(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    write = Pump._write

    def counted(self: Pump, conn: Any, data: bytes) -> bool:
        writes.append(len(data))
        return write(self, conn, data)

    monkeypatch.setattr(Pump, "_write", counted)
    recorder, _ = trio.run(_run, Proto.TCP, {"pipeline": 8})
    assert not recorder.errors and not recorder.failures
    assert recorder.requests == REQUESTS == recorder.window.issued
    assert sum(writes) == REQUESTS * 64  # every request's bytes, each written once
    # The echo answers each read in one write, so most reads bring several replies.
    assert len(writes) < REQUESTS / 2, f"{len(writes)} writes for {REQUESTS} requests"


@pytest.mark.parametrize("protocol", ["redis", "memcache"])
def test_a_batched_mix_is_what_the_server_counted_kind_by_kind(
    protocol: str, request: pytest.FixtureRequest
) -> None:
    """The plain SET:GET mix at ``--pipeline 8`` (each refill one batch: ``issue_batch``),
    no warm-up: the server executed exactly the SETs and GETs the result counts by kind
    (redis ``INFO commandstats``, memcached ``stats``), every GET a hit or a miss."""
    port = request.getfixturevalue("redis_port" if protocol == "redis" else "memcached_port")
    result = run_result(
        target=f"tcp://127.0.0.1:{port}", proto="", server_model=None, protocol=protocol,
        clients=10, duration_s=0.5, warmup_s=0.0, key_space=1000, ratio="1:10", pipeline=8,
    )  # fmt: skip
    totals = result["totals"]
    assert result["status"] == "completed" and totals["errors"] == {}
    by_kind = totals["by_kind"]
    if protocol == "redis":
        calls = redis_calls(port)
        served = {"set": calls["set"], "get": calls["get"]}
    else:
        stats = memcached_stats(port)
        served = {"set": stats["cmd_set"], "get": stats["cmd_get"]}
        assert stats["get_hits"] == by_kind["get"]["hits"]
    assert served == {kind: by_kind[kind]["requests"] for kind in ("set", "get")}
    assert sum(served.values()) == totals["requests"] == totals["requests_issued"] > 1000
    assert by_kind["get"]["hits"] + by_kind["get"]["misses"] == by_kind["get"]["requests"]
