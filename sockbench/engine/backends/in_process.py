"""Workers in this process's trio loop: the backend of a one-worker run.

The worker sends the coordinator the same messages a child process sends over its pipe
(``Connected``, ``Interval``\\*, ``Done``), only through memory channels and without
pickling, so the coordinator drives every backend the same way. The trade-off is one
channel hop per interval row, a few per second, against a second code path for the
commonest run.

A worker that raises is a bug, not a failed worker: its exception leaves ``start`` (a
child process's would be a traceback on stderr and a ``worker_failed``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from sockbench.core.intervals import IntervalRow
from sockbench.core.progress import DrainProgress
from sockbench.core.tally import Tally
from sockbench.engine.backends import WorkerLink
from sockbench.engine.backends.messages import (
    Connected,
    Done,
    Draining,
    Interval,
    ToCoordinator,
    WarmupInterval,
)
from sockbench.engine.worker.run import Window, WindowMove, WorkOrder, run_worker, tally_of

STOP_GRACE_S = 10.0  # a worker in this loop reports at once; this bounds a stuck one


class _ChannelControl:
    """The coordinator as this loop's worker sees it: messages go into a channel."""

    def __init__(self, send: trio.MemorySendChannel[ToCoordinator]) -> None:
        self.send = send
        self.stop = trio.Event()
        self.start = WindowMove()
        self.end = WindowMove()
        self.window: Window | None = None
        self.window_set = trio.Event()

    async def connected(self, connections: int) -> Window:
        self.send.send_nowait(Connected(connections))
        await self.window_set.wait()
        assert self.window is not None
        return self.window

    def interval(self, row: IntervalRow) -> None:
        self.send.send_nowait(Interval(row))

    def warmup_interval(self, row: IntervalRow) -> None:
        self.send.send_nowait(WarmupInterval(row))

    def draining(self, turn: int, progress: DrainProgress) -> None:
        self.send.send_nowait(Draining(turn, progress))


class _ChannelLink:
    """The coordinator's end of one in-loop worker."""

    def __init__(self, control: _ChannelControl, receive: trio.MemoryReceiveChannel[ToCoordinator]):
        self.control = control
        self.receive_channel = receive

    async def receive(self) -> ToCoordinator:
        try:
            return await self.receive_channel.receive()
        except trio.EndOfChannel:
            raise EOFError("the worker ended without reporting") from None

    def go(self, window: Window) -> None:
        self.control.window = window
        self.control.window_set.set()

    def stop(self) -> None:
        self.control.stop.set()

    def start_at(self, start_ns: int) -> None:
        self.control.start.move(start_ns)

    def end_at(self, end_ns: int) -> None:
        self.control.end.move(end_ns)


async def _work(order: WorkOrder, control: _ChannelControl) -> None:
    async with control.send:
        recorder = await run_worker(order, control)
        control.send.send_nowait(Done(tally_of(recorder, order)))


class InProcessWorkers:
    """Workers as tasks of this trio loop, sharing its clock and its process."""

    def __init__(self) -> None:
        self.stop_grace_s = STOP_GRACE_S

    @asynccontextmanager
    async def start(self, orders: Sequence[WorkOrder]) -> AsyncIterator[list[WorkerLink]]:
        links: list[WorkerLink] = []
        async with trio.open_nursery() as nursery:
            for order in orders:
                # Unbounded: the worker never waits on the coordinator to send.
                send, receive = trio.open_memory_channel[ToCoordinator](float("inf"))
                control = _ChannelControl(send)
                links.append(_ChannelLink(control, receive))
                nursery.start_soon(_work, order, control)
            try:
                yield links
            finally:
                for link in links:
                    link.stop()

    def nodes(
        self, tallies: Mapping[int, Tally], failed: Sequence[int], window: Window | None
    ) -> list[dict[str, Any]] | None:
        return None

    def worker_nodes(self) -> Sequence[str] | None:
        return None
