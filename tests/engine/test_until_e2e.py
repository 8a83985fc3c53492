"""--until (issue 27 item 3): a run stops once the percentile's interval is narrow enough,
on an interval's boundary, through the window's own end (completed, every request
accounted for), with one worker or several; or measures to --duration, the maximum."""

from __future__ import annotations

import pytest

from sockbench.core.series_tests import MIN_INTERVALS
from sockbench.report.run_fields import run_fields
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e

INTERVAL_S = 0.1


def _on_the_grid(result: dict[str, object]) -> None:
    """Every row a whole interval: the window ended on the grid, not where it was decided."""
    rows = result["intervals"]
    assert isinstance(rows, list)
    for row in rows:
        assert row["t"] - round(row["t"] / INTERVAL_S) * INTERVAL_S == pytest.approx(0, abs=1e-6)
    assert rows[-1]["t"] == pytest.approx(result["duration_s"])


@pytest.mark.parametrize("workers", [1, 2])
def test_stops_on_a_boundary_once_the_percentile_is_known(workers: int) -> None:
    # ±50 % of the p50 is reached at the first chance even on a busy machine (closed loop).
    result = run_result(
        clients=4, workers=workers, duration_s=20.0, warmup_s=0.2,
        interval_s=INTERVAL_S, until="p50 ±50%",
    )  # fmt: skip
    until = result["until"]
    assert result["status"] == "completed", result["warnings"]
    assert until["reached"] and until["target"] == "p50 ±50%"
    # Before the maximum (it stops at the first chance here; a loaded machine's p50 can
    # wander past ±50 % for a few intervals more: 13.4 s of 20 once, beside make test).
    assert until["needed_s"] == result["duration_s"] < 20.0
    assert MIN_INTERVALS < len(result["intervals"]) < 20.0 / INTERVAL_S
    _on_the_grid(result)
    fields = dict(run_fields(result))
    assert fields["until"].startswith(f"stopped after {result['duration_s']:.2f} s: p50 ±")


def test_an_open_loop_run_ends_on_the_grid_whichever_comes_first() -> None:
    """Open loop, latency from each request's due time: on a loaded machine a 100 ms
    interval's p50 can wander past ±50 % for the whole run (it did beside make test), so
    either end is right; what must hold is the grid and every request accounted for."""
    result = run_result(
        clients=4, rate=4000.0, duration_s=4.0, warmup_s=0.2, interval_s=INTERVAL_S,
        until="p50 ±50%",
    )  # fmt: skip
    until, totals = result["until"], result["totals"]
    assert result["status"] == "completed", result["warnings"]
    if until["reached"]:
        assert until["needed_s"] == result["duration_s"] < 4.0
    else:
        assert result["duration_s"] == pytest.approx(4.0)
    _on_the_grid(result)
    failed = sum(totals["requests_failed"].values())
    assert totals["requests_issued"] == totals["requests"] + failed + totals["in_flight"]


def test_the_maximum_comes_first() -> None:
    result = run_result(
        clients=2, duration_s=1.0, warmup_s=0.1, interval_s=INTERVAL_S, until="p99 ±0.01%"
    )
    until = result["until"]
    assert result["status"] == "completed"
    assert not until["reached"] and until["needed_s"] is None
    assert result["duration_s"] == pytest.approx(1.0, abs=0.05)
    assert dict(run_fields(result))["until"].startswith(
        "the maximum (--duration 1 s) came first: p99 ±"
    )
