"""The interval rows add up to the totals exactly, also with no warm-up (they did not:
185,572 in the rows against 185,622 in the totals)."""

from __future__ import annotations

import pytest

from tests.support.runs import run_result

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("rate", [None, 2000.0])
def test_rows_add_up_with_no_warmup(workers: str, rate: float | None) -> None:
    result = run_result(clients=10, warmup_s=0.0, duration_s=1.0, interval_s=0.25,
                        workers=workers, rate=rate)  # fmt: skip
    rows = result["intervals"]
    assert sum(r["requests"] for r in rows) == result["totals"]["requests"] > 0
    assert result["latency_us"]["count"] == result["totals"]["requests"]
