"""Running a worker in a child process, talking to the coordinator over a pipe.

Messages (tuples, pickled by multiprocessing):
  worker -> coordinator: ("connected", n), ("done", Tally)
  coordinator -> worker: ("go", Window), ("stop",)
A worker ignores SIGINT: Ctrl-C reaches the whole process group, and it is the
coordinator's job to decide that the run stops and to collect what was measured.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from typing import Any

import trio

from sockbench.core.intervals import IntervalRow
from sockbench.core.tally import Tally
from sockbench.engine.backends import WorkerLink
from sockbench.engine.worker import Window, WorkOrder, run_worker

WORKER_STOP_GRACE_S = 10.0


async def _receive(conn: Connection) -> object:
    await trio.lowlevel.wait_readable(conn.fileno())
    return conn.recv()


class PipeControl:
    """The coordinator at the other end of a pipe; :meth:`listen` must run beside the worker."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.stop = trio.Event()
        self._window: Window | None = None
        self._window_set = trio.Event()

    async def connected(self, connections: int) -> Window:
        self.conn.send(("connected", connections))
        await self._window_set.wait()
        assert self._window is not None
        return self._window

    def interval(self, row: IntervalRow) -> None:
        self.conn.send(("interval", row))

    async def listen(self) -> None:
        while not self.stop.is_set():
            try:
                message = await _receive(self.conn)
            except EOFError:  # the coordinator is gone: stop, nobody will read the result
                message = ("stop",)
            if isinstance(message, tuple) and message[0] == "go":
                self._window = message[1]
                self._window_set.set()
            elif message == ("stop",):
                self.stop.set()


async def _main(order: WorkOrder, conn: Connection) -> None:
    control = PipeControl(conn)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(control.listen)
        stats = await run_worker(order, control)
        conn.send(("done", stats.tally(datagrams=not order.endpoint.proto.is_stream)))
        nursery.cancel_scope.cancel()


def worker_process_main(order: WorkOrder, conn: Connection) -> None:
    """Entry point of a worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    trio.run(_main, order, conn)


def _send(conn: Connection, message: object) -> None:
    try:
        conn.send(message)
    except OSError:  # the worker is gone; its reader notices and reports it
        pass


class _PipeLink:
    """The coordinator's end of one worker process's pipe."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def receive(self) -> object:
        return await _receive(self.conn)

    def go(self, window: Window) -> None:
        _send(self.conn, ("go", window))

    def stop(self) -> None:
        _send(self.conn, ("stop",))


class ProcessWorkers:
    """Workers as child processes of this one, sharing its monotonic clock."""

    @asynccontextmanager
    async def start(self, orders: Sequence[WorkOrder]) -> AsyncIterator[list[WorkerLink]]:
        ctx = multiprocessing.get_context("spawn")
        procs: list[multiprocessing.context.SpawnProcess] = []
        conns: list[Connection] = []
        try:
            for order in orders:
                parent_end, child_end = ctx.Pipe()
                proc = ctx.Process(target=worker_process_main, args=(order, child_end), daemon=True)
                proc.start()
                child_end.close()
                procs.append(proc)
                conns.append(parent_end)
            yield [_PipeLink(conn) for conn in conns]
        finally:
            for conn in conns:
                conn.close()
            for proc in procs:
                proc.join(WORKER_STOP_GRACE_S)
                if proc.is_alive():
                    proc.kill()
                    proc.join()

    def nodes(
        self, tallies: Mapping[int, Tally], failed: Sequence[int], window: Window | None
    ) -> list[dict[str, Any]] | None:
        return None
