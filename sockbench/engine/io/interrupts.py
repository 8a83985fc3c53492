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
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import trio

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STUCK_S = 1.0  # a loop that has not seen a signal in this long is stuck in someone's code
#: Signals the loop never saw, stuck in sockbench's own code, after which the process leaves.
GIVE_UP_SIGNALS = 3


class LoopStuck(Exception):
    """Raised by a later signal into the code that kept the run's loop from seeing the
    first one (a plugin looping in ``check_reply``): the protocol guard stops the worker
    there, names the code, and the run writes what it measured."""


_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: Where sockbench, Python and its packages live ("<frozen ...>" too): not a plugin.
_OWN = ("<", *(os.path.join(p, "") for p in (_PACKAGE, sys.prefix, sys.base_prefix)))


def _in_foreign_code(frame: FrameType | None, depth: int = 64) -> bool:
    """Whether code of none of sockbench, Python or its packages (a plugin) is on the stack."""
    while frame is not None and depth:
        if not frame.f_code.co_filename.startswith(_OWN):
            return True
        frame, depth = frame.f_back, depth - 1
    return False


class Interrupts:
    """Signals received during a run, and who to wake when one arrives."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._wake: Callable[[int], None] | None = None
        self._seen = 0  # signals the loop has handled
        self._at: list[float] = []  # when each came

    @property
    def count(self) -> int:
        return len(self.received)

    @property
    def exit_code(self) -> int | None:
        """128 + the first signal (130 for Ctrl-C, 143 for SIGTERM), as shells report it."""
        return 128 + self.received[0] if self.received else None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        self._at.append(time.monotonic())
        if self._wake is None:
            return
        self._wake(self.count)
        stuck_s = self._at[-1] - self._at[self._seen] if self._seen < self.count - 1 else 0.0
        if stuck_s < STUCK_S:
            return
        if _in_foreign_code(frame):
            # The loop never ran an earlier signal's callback: it is stuck in the plugin this
            # handler interrupted. Raise there; the loop's next turn sees every signal.
            raise LoopStuck(
                f"stopped by a signal after {stuck_s:.1f} s in which the run could not act on it"
            )
        if self.count - self._seen >= GIVE_UP_SIGNALS:
            # Stuck in sockbench's own code (a bug), where raising could leave the numbers
            # half-merged: the user asked three times, so leave, and say nothing was saved.
            os.write(
                2,
                f"sockbench: the run could not act on {self.count - self._seen} signals in "
                f"{stuck_s:.1f} s (stuck in sockbench itself: a bug); exiting without a "
                "result\n".encode(),
            )
            os._exit(128 + self.received[0])

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

        def seen(n: int) -> None:
            self._seen = max(self._seen, n)
            callback(n)

        self._wake = lambda n: token.run_sync_soon(seen, n)
        try:
            for n in range(1, self.count + 1):
                seen(n)
            yield
        finally:
            self._wake = None
