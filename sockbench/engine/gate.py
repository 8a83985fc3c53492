"""Lining clients up: all connect first, then all start together."""

from __future__ import annotations

import trio


class StartGate:
    """Counts first connection attempts and holds every client until :attr:`go` is set.

    The run's clock starts only once every client has tried to connect once, so the
    connect ramp never eats into warm-up or measurement.
    """

    def __init__(self, clients: int) -> None:
        self._waiting = clients
        self.all_attempted = trio.Event()
        self.go = trio.Event()
        if clients == 0:
            self.all_attempted.set()

    def attempted(self) -> None:
        self._waiting -= 1
        if self._waiting == 0:
            self.all_attempted.set()
