"""Precise sleeps.

Wake-up lag depends on the machine's load, so the precision test is built to
separate "precise" from "millisecond-rounded" rather than to measure: each sleep
is 1.05 ms long, which ``trio.sleep_until`` rounds up to 2 ms (lag >= 1 ms every
time), and the median must stay under 0.8 ms in at least one of five rounds.
The other tests check mechanisms with bounds of a quarter second: a loaded
2-core machine delays a wake-up by tens of ms, a missed one never wakes at all.
"""

import os
import sys
import time

import pytest
import trio

from sockbench.engine.io import timing
from sockbench.engine.io.timing import sleep_until_ns, uses_timerfd

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(20)]

MS = 1_000_000
PRECISE_P50_NS = 800_000
STUCK_NS = 250 * MS  # far above any scheduling delay, far below a missed wake-up


async def _lags(sleeps: int, gap_ns: int) -> list[int]:
    lags = []
    for _ in range(sleeps):
        deadline = time.monotonic_ns() + gap_ns
        await sleep_until_ns(deadline)
        lags.append(time.monotonic_ns() - deadline)
    return sorted(lags)


async def _best_median_of_rounds(rounds: int = 5) -> int:
    medians = []
    for _ in range(rounds):
        lags = await _lags(200, 1_050_000)  # about 0.2 s
        assert lags[0] >= 0, "woke before the deadline"
        medians.append(lags[100])
        if lags[100] < PRECISE_P50_NS:
            break
    return min(medians)


async def test_never_early_and_median_lag_is_far_below_trio_sleep_until() -> None:
    assert await _best_median_of_rounds() < PRECISE_P50_NS


async def test_the_fallback_without_timerfd_is_precise_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timing, "_LIBC", None)
    assert await _best_median_of_rounds() < PRECISE_P50_NS


async def test_concurrent_sleepers_each_wake_on_their_own_deadline() -> None:
    lags: list[int] = []
    start = time.monotonic_ns() + 5 * MS

    async def sleeper(index: int) -> None:
        for k in range(5):
            # 40 sleepers interleaved 250 µs apart, each every 10 ms.
            deadline = start + k * 10 * MS + index * 250_000
            await sleep_until_ns(deadline)
            lags.append(time.monotonic_ns() - deadline)

    async with trio.open_nursery() as nursery:
        for i in range(40):
            nursery.start_soon(sleeper, i)
    assert len(lags) == 200
    assert min(lags) >= 0
    assert max(lags) < STUCK_NS


async def test_a_later_sleeper_with_an_earlier_deadline_rearms_the_timer() -> None:
    lags: dict[str, int] = {}

    async def sleeper(name: str, deadline: int) -> None:
        await sleep_until_ns(deadline)
        lags[name] = time.monotonic_ns() - deadline

    now = time.monotonic_ns()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sleeper, "late", now + 300 * MS)
        await trio.sleep(0.001)
        nursery.start_soon(sleeper, "early", time.monotonic_ns() + 5 * MS)
    assert 0 <= lags["early"] < STUCK_NS
    assert 0 <= lags["late"] < STUCK_NS


async def test_cancelled_sleepers_leave_the_others_on_time() -> None:
    now = time.monotonic_ns()
    with trio.move_on_after(0.005):
        await sleep_until_ns(now + 30 * MS)
    assert time.monotonic_ns() - now < STUCK_NS
    # Sleep past the cancelled sleeper's deadline: its entry must be skipped.
    lags = await _lags(25, 2 * MS)
    assert lags[0] >= 0
    assert lags[-1] < STUCK_NS


async def test_a_past_deadline_returns_at_once_but_is_a_checkpoint() -> None:
    start = time.monotonic_ns()
    await sleep_until_ns(start - MS)
    assert time.monotonic_ns() - start < STUCK_NS
    with trio.CancelScope() as scope:
        scope.cancel()
        await sleep_until_ns(start - MS)
        pytest.fail("a cancelled sleep returned")
    assert scope.cancelled_caught


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and uses_timerfd()), reason="timerfd is Linux only"
)
async def test_many_sleepers_share_one_descriptor() -> None:
    await sleep_until_ns(time.monotonic_ns() + MS)  # the shared timer now exists
    before = len(os.listdir("/proc/self/fd"))
    deadline = time.monotonic_ns() + 20 * MS

    async def sleeper() -> None:
        await sleep_until_ns(deadline)

    async with trio.open_nursery() as nursery:
        for _ in range(200):
            nursery.start_soon(sleeper)
        await trio.sleep(0.005)
        peak = len(os.listdir("/proc/self/fd"))
    assert peak == before


async def test_the_loop_clock_counts_waits_and_spin_as_idle() -> None:
    """Sleeping is idle: a waiting loop is not busy (timing.LoopClock)."""
    trio.lowlevel.add_instrument(timing.LOOP)
    mark = timing.LOOP.mark()
    for _ in range(20):
        await timing.sleep_until_ns(time.monotonic_ns() + 2_000_000)
    assert timing.LOOP.busy_share(mark) < 0.5
    trio.lowlevel.remove_instrument(timing.LOOP)
