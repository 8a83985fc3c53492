"""A target that closes every connection at once: clients back off (with jitter)
instead of reconnecting in a tight loop (about 10,000 connections/s before)."""

from __future__ import annotations

import pytest

from tests.faults.conftest import Target, load_result

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it

CLIENTS = 10


@pytest.mark.parametrize("batch", ["--batch", "--no-batch"])
def test_clients_back_off_from_a_target_that_closes_at_once(
    target, sockbench, tmp_path, batch: str
) -> None:
    probe: Target = target("--close-at-once")
    out = tmp_path / "r.json"
    run = sockbench(
        "--target", probe.url, "--clients", str(CLIENTS), "--duration", "2", "--warmup", "0",
        "--json", str(out), "--out", "", batch,
    )  # fmt: skip
    assert run.finish() == 1  # degraded: it answered nothing
    result = load_result(out)
    assert result["status"] == "degraded"
    accepted = sum(1 for line in probe.lines if line.startswith("ACCEPT"))
    # Waits double from 10 ms to 1 s: about 8 connections per client in 2 s, not 20,000.
    assert CLIENTS <= accepted <= CLIENTS * 20, accepted
    assert sum(result["totals"]["errors"].values()) <= CLIENTS * 20
