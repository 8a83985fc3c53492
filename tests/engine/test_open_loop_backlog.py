"""An open-loop backlog after a server freeze goes out as slots free, on both drivers.

The target freezes once for a known time (``tests/support/freezing_echo.py``, which says
when, on sockbench's clock). Requests due meanwhile wait for a ``--pipeline`` slot; when
the replies come, every due request that fits goes out at once, on the pump and on the
reference driver alike (issue 25: the reference driver sent its backlog one request
per round trip, a task hop or two each, and came out 40-200 ms behind the pump).

What the freeze should cost is counted by hand: the R*T requests due in a freeze of
T seconds at R requests/s wait for its end, so their latencies spread from T down to
0, and the fraction 1-p of the N requests above the p-th percentile lies above
T - (1-p) * N / R. The backlog then goes out with one round trip per slot, which
adds a little on a loaded machine: the bounds below are loose on that side only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sockbench.core.histogram import decode
from tests.conftest import stop_process
from tests.support.line_process import LineProcess
from tests.support.runs import run_engine

# solo: it times a catch-up to within CATCH_UP_MS, which a test beside it can take (it did,
# once, under make coverage); make test runs it alone.
pytestmark = [pytest.mark.e2e, pytest.mark.solo]  # real processes and sockets

RATE = 1000.0
CLIENTS = 10
DURATION_S = 3.0
FREEZE_AT_S = 1.0
FREEZE_S = 1.0
PERCENTILE = 75.0  # 75 % into each client's backlog: how fast it went out shows here
CATCH_UP_MS = 150  # at most this much above the hand-computed latency (loaded 2-core VM)
AGREE_MS = 100  # the two drivers' percentiles at most this far apart


class FreezingEcho(LineProcess):
    """``tests/support/freezing_echo.py`` in its own session; its lines, as they come."""

    def __init__(self) -> None:
        super().__init__(
            "tests.support.freezing_echo",
            "--freeze-at", str(FREEZE_AT_S), "--freeze-for", str(FREEZE_S),
        )  # fmt: skip

    def said(self, word: str) -> str:
        """The first line whose first word is ``word`` (waits for it, a bounded time)."""
        return self.wait_for(lambda line: line.split()[0] == word)


@contextmanager
def freezing_echo() -> Iterator[FreezingEcho]:
    server = FreezingEcho()
    try:
        yield server
    finally:
        stop_process(server.proc)


def _frozen_run(batch: bool, pipeline: int) -> tuple[dict[str, Any], float]:
    """A run through a freeze; its result and how long the freeze really lasted (s)."""
    with freezing_echo() as server:
        result = run_engine(
            target=f"tcp://127.0.0.1:{server.port}", proto="", server_model=None,
            clients=CLIENTS, rate=RATE, duration_s=DURATION_S, warmup_s=0.0, timeout_s=3.0,
            pipeline=pipeline, batch=batch,
        ).result  # fmt: skip
        frozen = int(server.said("FROZEN").split()[1])
        thawed = int(server.said("THAWED").split()[1])
    return result, (thawed - frozen) / 1e9


@pytest.mark.parametrize("pipeline", [1, 4])
def test_the_backlog_after_a_freeze_goes_out_as_slots_free_on_both_drivers(
    pipeline: int,
) -> None:
    found: dict[str, float] = {}
    for batch, name in ((True, "pump"), (False, "task-per-client")):
        result, freeze_s = _frozen_run(batch, pipeline)
        totals = result["totals"]
        assert not totals["requests_failed"] and totals["in_flight"] == 0
        latency = result["latency_us"]
        n = latency["count"]
        assert abs(n - RATE * DURATION_S) <= 0.02 * RATE * DURATION_S, n
        # By hand: the latencies of the R*T requests due in the freeze spread from T
        # down to 0, so (1 - p) of the N in the window lie above T - (1 - p) N / R.
        expected_ms = (freeze_s - (1 - PERCENTILE / 100) * n / RATE) * 1000
        got_ms = decode(latency["histogram"]).get_value_at_percentile(PERCENTILE) / 1000
        assert expected_ms - 20 <= got_ms <= expected_ms + CATCH_UP_MS, (name, got_ms, expected_ms)
        # The oldest request due in the freeze waited all of it, and no more than a
        # round trip after it.
        assert freeze_s * 1000 - 20 <= latency["max"] / 1000 <= freeze_s * 1000 + CATCH_UP_MS
        # The wait for a slot is the target's doing, never the generator's own lag.
        assert result["scheduler_lag_us"]["p99"] < 50_000, (name, result["scheduler_lag_us"])
        found[name] = got_ms
    assert abs(found["pump"] - found["task-per-client"]) <= AGREE_MS, found
