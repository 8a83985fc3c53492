"""`sockbench run` with 200 concurrent clients against every model over every transport."""

from __future__ import annotations

import pytest

from sockbench.endpoints import Proto
from sockbench.engine.orchestration.runner import run
from sockbench.machine import build_run_spec
from sockbench.servers.registry import available_models
from tests.support.schema import validate_result

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

CASES = [(info.name, proto) for info in available_models() for proto in Proto]


@pytest.mark.parametrize(("model", "proto"), CASES, ids=[f"{m}-{p.value}" for m, p in CASES])
def test_200_clients_get_correct_echoes(model: str, proto: Proto) -> None:
    config = build_run_spec(
        dict(
            proto=proto.value, clients=200, duration_s=0.6, warmup_s=0.2, payload=100,
            timeout_s=2.0, target=None, server_model=model, out_dir=None, server_threads=256,
        )
    )  # fmt: skip
    result = validate_result(run(config, command="test").result)
    totals = result["totals"]
    assert result["status"] == "completed"
    assert totals["warmup_errors"] == {}
    # Over datagrams a few may be lost (below), and a lost datagram is an error (issue 25).
    # A connection the server never reached in the window is "starved": the threaded
    # model's 200 threads take turns at the GIL, and on a loaded machine one waited past
    # the 0.6 s once. Counted, never a wrong echo, so a few are allowed (2 %).
    assert set(totals["errors"]) <= {"starved"} | (set() if proto.is_stream else {"lost"})
    assert totals["errors"].get("starved", 0) <= 4
    assert totals["connections"] == 200
    assert totals["requests"] > 200
    if not proto.is_stream:
        d = result["datagrams"]
        assert d["sent"] == d["received"] + d["lost"] + d["in_flight"]
        # 200 datagrams in flight can overflow a server's default receive buffer
        # (the kernel's RcvbufErrors): a fast generator may see a few lost, counted.
        assert d["lost"] <= d["sent"] // 100
        assert totals["errors"].get("lost", 0) == d["lost"]
        assert d["received"] == totals["requests"]  # every reply in the window is a request
