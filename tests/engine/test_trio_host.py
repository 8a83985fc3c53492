"""The pump's one-hop wait: when it may block in its own epoll set, keeping trio from nothing."""

from __future__ import annotations

import select
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from sockbench.engine.io.trio_host import TrioHost, current_host

pytestmark = pytest.mark.unit  # pure: make unit runs it


@asynccontextmanager
async def _hosted() -> AsyncIterator[TrioHost]:
    """The run's host, its instrument removed afterwards."""
    host = await current_host()
    assert host is not None, "the one-hop wait is not available with the installed trio"
    try:
        yield host
    finally:
        trio.lowlevel.remove_instrument(host)


def test_the_installed_trio_offers_the_one_hop_wait() -> None:
    async def main() -> None:
        async with _hosted() as host:
            # Trio's epoll descriptor: watching it from another epoll set is allowed.
            with select.epoll() as ours:
                ours.register(host.epoll_fd, select.EPOLLIN)

    trio.run(main)


def test_the_next_deadline_is_on_the_monotonic_clock_for_the_pump_to_compare() -> None:
    async def main() -> None:
        async with _hosted() as host:
            now = time.monotonic_ns()
            assert host.deadline_ns() - now > 60 * 10**9  # none: an hour ahead
            with trio.move_on_after(0.5):
                assert now < host.deadline_ns() <= time.monotonic_ns() + 500_000_000

    trio.run(main)


def test_a_task_started_or_woken_by_the_pump_gets_its_turn_first() -> None:
    async def main() -> None:
        async with _hosted() as host:
            woken = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(woken.wait)
                assert host.runnable  # just started: runnable
                await trio.testing.wait_all_tasks_blocked()
                assert not host.runnable  # blocked on the event
                woken.set()
                assert host.runnable  # woken, not run yet

    trio.run(main)


def test_the_rest_of_the_batch_being_run_counts_as_runnable() -> None:
    """Two tasks woken together run in one batch, in either order. Trio's run queue
    no longer holds the one that runs second; the pump must not block ahead of it."""

    async def other(go: trio.Event, ran: list[bool]) -> None:
        await go.wait()
        ran.append(True)

    async def pump_like(go: trio.Event, ran: list[bool], host: TrioHost, orders: set[bool]) -> None:
        await go.wait()
        orders.add(bool(ran))
        if not ran:
            assert host.runnable, "blocking now would stall the other task"

    async def main() -> None:
        async with _hosted() as host:
            orders: set[bool] = set()
            for _ in range(40):
                go, ran = trio.Event(), list[bool]()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(other, go, ran)
                    nursery.start_soon(pump_like, go, ran, host, orders)
                    await trio.testing.wait_all_tasks_blocked()
                    go.set()
        assert orders == {True, False}, "both orders should occur in 40 batches"

    trio.run(main)


def test_an_autojump_clock_gets_the_wait_through_trio() -> None:
    async def main() -> None:
        assert await current_host() is None

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
