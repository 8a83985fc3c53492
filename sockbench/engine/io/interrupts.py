"""SIGINT and SIGTERM over a whole run: the first stops it, later ones only hurry it.

One handler is installed for the life of a run, from before the server starts to
after the result is written, so no signal ever meets Python's default handlers
(a ``KeyboardInterrupt`` in the middle of shutdown, or death by SIGTERM, would
lose everything measured). The handler only counts: the run's trio loop is woken
through its token (``run_sync_soon`` is signal-safe), and code outside the loop
looks at :attr:`Interrupts.count`. Trio leaves a non-default SIGINT handler alone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import trio

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """Signals received during a run, and who to wake when one arrives."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._wake: Callable[[int], None] | None = None

    @property
    def count(self) -> int:
        return len(self.received)

    @property
    def exit_code(self) -> int | None:
        """128 + the first signal (130 for Ctrl-C, 143 for SIGTERM), as shells report it."""
        return 128 + self.received[0] if self.received else None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self._wake is not None:
            self._wake(len(self.received))

    @contextlib.contextmanager
    def installed(self) -> Iterator[Interrupts]:
        """Count SIGINT/SIGTERM instead of dying, until the block ends (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def waking(self, callback: Callable[[int], None]) -> Iterator[None]:
        """Call ``callback(count)`` in the current trio loop for each signal, and once at
        once for signals that came before the loop started listening."""
        token = trio.lowlevel.current_trio_token()
        self._wake = lambda n: token.run_sync_soon(callback, n)
        try:
            for n in range(1, self.count + 1):
                callback(n)
            yield
        finally:
            self._wake = None
