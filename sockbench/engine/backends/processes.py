"""Running a worker in a child process, talking to the coordinator over a pipe.

The messages are those of :mod:`sockbench.engine.backends.messages`. A worker ignores
SIGINT and SIGTERM: a terminal's Ctrl-C and a ``kill`` of the process group reach
every worker, and it is the coordinator's job to decide that the run stops and to
collect what was measured. A worker whose coordinator is gone (the pipe closes)
stops by itself, quietly: nobody is left to read its result.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
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
    EndAt,
    Go,
    Interval,
    Message,
    StartAt,
    Stop,
    WarmupInterval,
    receive,
    send,
)
from sockbench.engine.io.interrupts import SIGNALS
from sockbench.engine.worker.run import Window, WindowMove, WorkOrder, run_worker, tally_of

WORKER_STOP_GRACE_S = 10.0  # after a stop, for workers to send what they measured


class PipeControl:
    """The coordinator at the other end of a pipe; :meth:`listen` must run beside the worker."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.stop = trio.Event()
        self.start = WindowMove()
        self.end = WindowMove()
        self._window: Window | None = None
        self._window_set = trio.Event()

    async def connected(self, connections: int) -> Window:
        send(self.conn, Connected(connections))
        await self._window_set.wait()
        assert self._window is not None
        return self._window

    def interval(self, row: IntervalRow) -> None:
        send(self.conn, Interval(row))

    def warmup_interval(self, row: IntervalRow) -> None:
        send(self.conn, WarmupInterval(row))

    def draining(self, turn: int, progress: DrainProgress) -> None:
        send(self.conn, Draining(turn, progress))

    async def listen(self) -> None:
        while not self.stop.is_set():
            try:
                message = await receive(self.conn)
            except (EOFError, OSError):  # the coordinator is gone: stop
                message = Stop()
            if isinstance(message, Go):
                self._window = message.window
                self._window_set.set()
            elif isinstance(message, StartAt):
                self.start.move(message.start_ns)
            elif isinstance(message, EndAt):
                self.end.move(message.end_ns)
            elif isinstance(message, Stop):
                self.stop.set()


async def _main(order: WorkOrder, conn: Connection) -> None:
    control = PipeControl(conn)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(control.listen)
        stats = await run_worker(order, control)
        send(conn, Done(tally_of(stats, order)))
        nursery.cancel_scope.cancel()


def worker_process_main(order: WorkOrder, conn: Connection) -> None:
    """Entry point of a worker process."""
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    trio.run(_main, order, conn)
    conn.close()
    # Skip interpreter teardown: multiprocessing's exit hooks would flush stdio to a
    # terminal or pipe that may be gone with the coordinator (BrokenPipe tracebacks).
    os._exit(0)


@contextlib.contextmanager
def _ignored_by_children() -> Iterator[None]:
    """SIGINT/SIGTERM ignored while a worker is spawned: the child inherits SIG_IGN across
    exec, so a signal to the process group while it imports cannot kill it before it
    takes over. A signal in the few milliseconds of the spawn is lost to this process
    too (blocking it instead did not survive the spawn); the user's next one counts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _PipeLink:
    """The coordinator's end of one worker process's pipe."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def receive(self) -> Message:
        return await receive(self.conn)

    def go(self, window: Window) -> None:
        send(self.conn, Go(window))

    def stop(self) -> None:
        send(self.conn, Stop())

    def start_at(self, start_ns: int) -> None:
        send(self.conn, StartAt(start_ns))

    def end_at(self, end_ns: int) -> None:
        send(self.conn, EndAt(end_ns))


class ProcessWorkers:
    """Workers as child processes of this one, sharing its monotonic clock."""

    def __init__(self) -> None:
        self.stop_grace_s = WORKER_STOP_GRACE_S  # the coordinator shortens it when hurried

    @asynccontextmanager
    async def start(self, orders: Sequence[WorkOrder]) -> AsyncIterator[list[WorkerLink]]:
        ctx = multiprocessing.get_context("spawn")
        procs: list[multiprocessing.context.SpawnProcess] = []
        conns: list[Connection] = []
        try:
            for order in orders:
                parent_end, child_end = ctx.Pipe()
                proc = ctx.Process(target=worker_process_main, args=(order, child_end), daemon=True)
                with _ignored_by_children():
                    proc.start()
                child_end.close()
                procs.append(proc)
                conns.append(parent_end)
            yield [_PipeLink(conn) for conn in conns]
        finally:
            for conn in conns:
                conn.close()
            for proc in procs:
                proc.join(self.stop_grace_s)
                if proc.is_alive():
                    proc.kill()
                    proc.join()

    def nodes(
        self, tallies: Mapping[int, Tally], failed: Sequence[int], window: Window | None
    ) -> list[dict[str, Any]] | None:
        return None

    def worker_nodes(self) -> Sequence[str] | None:
        return None
