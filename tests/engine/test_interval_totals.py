"""The interval rows add up to what was served in the window, and the drain's row to
what ended after it, exactly, also with no warm-up (they did not: 185,572 in the rows
against 185,622 in the totals)."""

from __future__ import annotations

import pytest

from sockbench.core.histogram import decode
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it


def _count(row: dict[str, object]) -> int:
    return int(decode(str(row["histogram"])).get_total_count())


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("rate", [None, 2000.0])
def test_rows_add_up_with_no_warmup(workers: str, rate: float | None) -> None:
    result = run_result(clients=10, warmup_s=0.0, duration_s=1.0, interval_s=0.25,
                        workers=workers, rate=rate)  # fmt: skip
    rows, totals = result["intervals"], result["totals"]
    drain = result.get("drain_interval") or {"requests": 0, "histogram": None}
    assert sum(r["requests"] for r in rows) == totals["served"] > 0
    assert totals["served_from_warmup"] == 0  # no warm-up
    assert totals["served"] + totals["drained"] == totals["requests"]
    assert drain["requests"] == totals["drained"]
    samples = sum(_count(r) for r in rows) + (_count(drain) if drain["histogram"] else 0)
    assert samples == result["latency_us"]["count"] == totals["requests"]
    assert totals["throughput_rps"] == pytest.approx(totals["served"] / result["duration_s"])
    if rate is None:
        assert not any("offered" in r for r in rows)
        return
    # Open loop: the rows' sends are those totals.offered_rps counts (rel 1e-6: one send
    # in 2,000 would be 5e-4), and the drain sends nothing.
    offered = sum(r["offered"] for r in rows)
    assert offered / result["duration_s"] == pytest.approx(totals["offered_rps"], rel=1e-6)
    assert drain.get("offered", 0) == 0
    assert all(r["send_lag_p99"] >= 0 and r["scheduler_lag_p99"] >= 0 for r in rows)
