"""Running a worker in a child process, talking to the coordinator over a pipe.

The messages are those of :mod:`sockbench.engine.messages`. A worker ignores
SIGINT and SIGTERM: a terminal's Ctrl-C and a ``kill`` of the process group reach
every worker, and it is the coordinator's job to decide that the run stops and to
collect what was measured. A worker whose coordinator is gone (the pipe closes)
stops by itself, quietly: nobody is left to read its result.
"""

from __future__ import annotations

import os
import signal
from multiprocessing.connection import Connection

import trio

from sockbench.core.intervals import IntervalRow
from sockbench.engine.interrupts import SIGNALS
from sockbench.engine.messages import Connected, Done, Go, Interval, Stop, receive, send
from sockbench.engine.worker import Window, WorkOrder, run_worker, tally_of


class PipeControl:
    """The coordinator at the other end of a pipe; :meth:`listen` must run beside the worker."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.stop = trio.Event()
        self._window: Window | None = None
        self._window_set = trio.Event()

    async def connected(self, connections: int) -> Window:
        send(self.conn, Connected(connections))
        await self._window_set.wait()
        assert self._window is not None
        return self._window

    def interval(self, row: IntervalRow) -> None:
        send(self.conn, Interval(row))

    async def listen(self) -> None:
        while not self.stop.is_set():
            try:
                message = await receive(self.conn)
            except (EOFError, OSError):  # the coordinator is gone: stop
                message = Stop()
            if isinstance(message, Go):
                self._window = message.window
                self._window_set.set()
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
