"""What the pump needs to know of the trio run hosting it, to wait for both in one call.

The pump keeps its sockets in an epoll set of its own. Waiting for that set through
trio (``wait_readable`` on its descriptor) costs two hops per wake-up: trio's
``epoll_wait`` returns, trio schedules the pump, and the pump calls its own
``epoll_wait`` to learn which sockets are ready. With one client that second hop,
the ``epoll_ctl`` trio makes to re-arm the descriptor, and a pass through trio's
scheduler are most of the generator's share of a round trip.

The other way round is one hop: trio's epoll descriptor goes into the pump's set,
and the pump blocks in its own ``epoll_wait``, bounded by trio's next deadline. When
trio has work (a ready descriptor of its own, a signal, a wake-up from a thread, a
deadline, a runnable task), the pump yields to it at once; otherwise trio had
nothing to do while the pump slept.

Trade-off: trio has no public API for this. What is runnable, the host learns as a
trio instrument (public); the epoll object, the deadlines and the clock it reads from
trio's private run state. When those are not what is expected (another trio
version, a guest run, a test's autojump clock or ``wait_all_tasks_blocked``),
:func:`current_host` returns ``None`` and the pump waits the two-hop way, slower but
exact. A unit test pins that the one-hop way is found with the trio installed here.
"""

from __future__ import annotations

import math
import select
import time
from typing import Any

import trio

# epoll_wait takes milliseconds: past this, trio's bound is "no deadline", and the
# pump wakes anyway for its own sweeps.
_MAX_SLEEP_S = 3600.0


class TrioHost(trio.abc.Instrument):
    """The hosting trio run, as the pump's wait sees it.

    An instrument, so that it knows how many tasks are runnable: trio's run queue
    does not show the rest of the batch being run, which the pump is part of.
    """

    def __init__(self, epoll_fd: int, deadlines: Any, clock: Any) -> None:
        self.epoll_fd = epoll_fd
        self._deadlines = deadlines
        self._clock = clock
        # Tasks scheduled and not yet stepped; the pump is never in it while it runs. The
        # same set for the host's life: the pump reads it once per turn, bound once.
        self.runnable: set[trio.lowlevel.Task] = set()

    def task_scheduled(self, task: trio.lowlevel.Task) -> None:
        self.runnable.add(task)

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.runnable.discard(task)

    def deadline_ns(self) -> int:
        """trio's next deadline on the monotonic clock, in ns (an hour ahead at most).

        The pump may block while nothing is :attr:`runnable`, until this. Only trio's
        tasks set deadlines, and none runs while the pump does: it changes only across
        the pump's awaits, so the pump reads it after each one and compares ints per
        turn, where asking trio how long it may sleep made four calls (a turn per reply,
        at a hundred connections)."""
        sleep = self._clock.deadline_to_sleep_time(self._deadlines.next_deadline())
        return time.monotonic_ns() + int(min(sleep, _MAX_SLEEP_S) * 1e9)


async def current_host() -> TrioHost | None:
    """The running trio run's state for a one-hop wait, or ``None`` (wait through trio).

    Call it from the pump's task; :func:`trio.lowlevel.remove_instrument` it when done.
    """
    try:
        runner = trio._core._run.GLOBAL_RUN_CONTEXT.runner
        runq = list(runner.runq)
        epoll = runner.io_manager._epoll
        deadlines = runner.deadlines
        clock = runner.clock
        plain = not runner.is_guest and math.isinf(runner.clock_autojump_threshold)
        idle_waiters = bool(runner.waiting_for_idle)
        deadlines.next_deadline()
        clock.deadline_to_sleep_time(math.inf)
    except (AttributeError, TypeError):
        return None
    if not isinstance(epoll, select.epoll) or not plain or idle_waiters:
        # Blocking inside a task would hide idleness from an autojump clock or from
        # wait_all_tasks_blocked, which only notice it in trio's own wait.
        return None
    host = TrioHost(epoll.fileno(), deadlines, clock)
    trio.lowlevel.add_instrument(host)
    host.runnable.update(runq)
    # The rest of the batch being run is in no queue: once it has run, every task that
    # is runnable was seen being scheduled, or was queued already.
    await trio.lowlevel.checkpoint()
    return host
