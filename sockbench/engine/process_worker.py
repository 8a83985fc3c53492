"""Running a worker in a child process, talking to the coordinator over a pipe.

Messages (tuples, pickled by multiprocessing):
  worker -> coordinator: ("connected", n), ("done", Tally)
  coordinator -> worker: ("go", Window), ("stop",)
A worker ignores SIGINT: Ctrl-C reaches the whole process group, and it is the
coordinator's job to decide that the run stops and to collect what was measured.
"""

from __future__ import annotations

import signal
from multiprocessing.connection import Connection

import trio

from sockbench.core.intervals import IntervalRow
from sockbench.engine.worker import Window, WorkOrder, run_worker, tally_of


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
        conn.send(("done", tally_of(stats, order)))
        nursery.cancel_scope.cancel()


def worker_process_main(order: WorkOrder, conn: Connection) -> None:
    """Entry point of a worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    trio.run(_main, order, conn)
