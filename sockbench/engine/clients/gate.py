"""Lining clients up: all connect first, then all start together; or, ramped, one by one."""

from __future__ import annotations

import time

import trio


class StartGate:
    """Counts first connection attempts and holds every client until :attr:`go` is set.

    The run's clock starts only once every client has tried to connect once, so the
    connect ramp never eats into warm-up or measurement. A ``ramped`` gate (``--ramp``
    in closed loop) waits for no connection: the clock starts at once, and each client
    connects at its turn in the ramp (:meth:`turn`), which the window keeps out of the
    measurement like warm-up. ``--connect-rate`` spaces the turns from the gate's start.
    """

    def __init__(self, clients: int, *, ramped: bool = False, label: str = "") -> None:
        self.ramped = ramped
        # Whose clients the connect progress lines speak of: empty where one worker has all.
        self.label = label
        self._waiting = 0 if ramped else clients
        self.all_attempted = trio.Event()
        self.go = trio.Event()
        self.origin_ns = 0  # turns count from here: the first turn, or (ramped) the window
        if self._waiting == 0:
            self.all_attempted.set()

    def attempted(self) -> None:
        self._waiting -= 1
        if self._waiting == 0:
            self.all_attempted.set()

    def release(self, start_ns: int) -> None:
        """Let every client go; a ramped gate's turns count from ``start_ns``."""
        if self.ramped:
            self.origin_ns = start_ns
        self.go.set()

    async def turn(self, offset_ns: int) -> None:
        """Wait until a client whose first connect is ``offset_ns`` into the ramp may try."""
        if self.ramped:
            await self.go.wait()
        if not self.origin_ns:  # the first client starts the clock, whenever it gets to run
            self.origin_ns = time.monotonic_ns()
        if offset_ns:
            await trio.sleep(max(0, self.origin_ns + offset_ns - time.monotonic_ns()) / 1e9)
