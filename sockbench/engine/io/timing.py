"""Precise sleeps for open-loop sending: wake within microseconds of a due time.

Open-loop latency is measured from the due time, so any lateness in waking up is
added to every sample. ``trio.sleep_until`` wakes ~0.55 ms late at p50, 1-2 ms at p99:
trio waits in ``epoll_wait``, whose timeout is rounded up to whole milliseconds.
Spinning until the deadline would be exact but burns a core.

Trade-off: sleep on a kernel timer set a little *before* the deadline (``early_ns``),
then spin the last stretch on ``trio.lowlevel.checkpoint()``, which lets every other
task run meanwhile. A timerfd wakes a trio task some 40-90 µs after it fires, so
with the default margin of 100 µs most wake-ups land before the deadline, while
the spin costs at most ``early_ns`` of CPU per sleep (about 5% of a core at 1000
sleeps/s). A larger margin buys a better tail on a noisy machine for
proportionally more CPU; no margin hides the multi-millisecond stalls of an
overloaded machine. All sleepers of one trio run share one timerfd, kept armed for
the earliest of them by one system task, so thousands of clients cost one
descriptor, not thousands. Without timerfd (not Linux), the coarse part is a
plain trio sleep ending ``COARSE_GUARD_NS`` earlier and the spin is that much
longer.

Deadlines are ``time.monotonic_ns()`` values. trio's own clock is offset from it,
so ``trio.sleep_until`` must not be handed monotonic times directly.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import sys
import time
from typing import Any

import trio

EARLY_NS = 100_000
#: A look at the clock while spinning that took longer than this let other tasks work:
#: it is not counted as idle (:data:`LOOP`).
SPIN_STEP_NS = 20_000
COARSE_GUARD_NS = 1_500_000
WAKE_TOGETHER_NS = 50_000  # sleepers due this close after the earliest share its wake-up
_NEVER = 2**63 - 1


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


class TimerFd:
    """A non-blocking CLOCK_MONOTONIC timerfd, armed at absolute times."""

    _TFD_TIMER_ABSTIME = 1

    def __init__(self, libc: Any) -> None:
        self._settime = libc.timerfd_settime
        fd = libc.timerfd_create(time.CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self.fd: int = fd
        self._spec = _Itimerspec()

    def arm(self, at_ns: int) -> None:
        """Fire once at ``at_ns`` (immediately if past); ``_NEVER`` disarms."""
        value = self._spec.it_value
        if at_ns == _NEVER:
            value.tv_sec = value.tv_nsec = 0
        else:
            # A zero it_value would disarm instead of firing.
            value.tv_sec, value.tv_nsec = divmod(max(at_ns, 1), 1_000_000_000)
        if self._settime(self.fd, self._TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None):
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    def drain(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            pass

    def close(self) -> None:
        trio.lowlevel.notify_closing(self.fd)
        os.close(self.fd)


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.timerfd_create.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.timerfd_settime.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        )
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


class _Wheel:
    """The sleepers of one trio run: a heap of wake times, one timerfd, one task.

    A sleeper pushes ``[wake_ns, seq, task]`` and re-arms the timer if it is now
    the earliest; the system task waits on the timerfd and reschedules every
    sleeper that is due. Cancelled sleepers blank their task and are skipped.
    """

    def __init__(self, timer: TimerFd) -> None:
        self._timer = timer
        self._heap: list[list[Any]] = []
        self._seq = itertools.count()
        self._armed_ns = _NEVER

    async def wait_until(self, wake_ns: int) -> None:
        task = trio.lowlevel.current_task()
        entry = [wake_ns, next(self._seq), task]
        heapq.heappush(self._heap, entry)
        if wake_ns < self._armed_ns:
            self._armed_ns = wake_ns
            self._timer.arm(wake_ns)

        def abort(_: Any) -> trio.lowlevel.Abort:
            entry[2] = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    async def run(self) -> None:
        heap = self._heap
        try:
            while True:
                await trio.lowlevel.wait_readable(self._timer.fd)
                self._timer.drain()
                limit = time.monotonic_ns() + WAKE_TOGETHER_NS
                while heap and (heap[0][0] <= limit or heap[0][2] is None):
                    task = heapq.heappop(heap)[2]
                    if task is not None:
                        trio.lowlevel.reschedule(task)
                self._armed_ns = heap[0][0] if heap else _NEVER
                self._timer.arm(self._armed_ns)
        finally:
            self._timer.close()


_WHEEL: trio.lowlevel.RunVar[_Wheel | None] = trio.lowlevel.RunVar("sockbench_timer_wheel")


def _wheel() -> _Wheel | None:
    try:
        return _WHEEL.get()
    except LookupError:
        pass
    timer = new_timer()
    wheel = None if timer is None else _Wheel(timer)
    if wheel is not None:
        trio.lowlevel.spawn_system_task(wheel.run, name="sockbench timer wheel")
    _WHEEL.set(wheel)
    return wheel


class LoopClock(trio.abc.Instrument):
    """Time this process's loop spent idle: blocked waiting for I/O or a timer, or
    spinning towards a due time with nothing else to do.

    A worker is one thread, so it is saturated when its loop is never idle, whatever
    the process's CPU reads: that CPU counts the spin before each due time (most of a
    core at 8,000 due times a second, the generator far from its limit) and misses a
    loop that waits for the CPU on a busy machine. As a trio instrument it counts
    trio's own waits in ``epoll_wait``; the pump adds its blocking waits and its spin,
    :func:`sleep_until_ns` its spin. Only looks at the clock that came back within
    :data:`SPIN_STEP_NS` count as spin: a longer one let other tasks work. One clock
    per process, never reset: a worker reads it twice (``busy_share``).
    """

    def __init__(self) -> None:
        self.idle_ns = 0
        self._since = 0

    def before_io_wait(self, timeout: float) -> None:
        self._since = time.monotonic_ns()

    def after_io_wait(self, timeout: float) -> None:
        self.idle_ns += time.monotonic_ns() - self._since

    def mark(self) -> tuple[int, int]:
        """Now and the idle time so far, for :meth:`busy_share`."""
        return time.monotonic_ns(), self.idle_ns

    def busy_share(self, mark: tuple[int, int]) -> float:
        """The share of the time since ``mark`` the loop was not idle (0..1)."""
        at_ns, idle_ns = mark
        elapsed = time.monotonic_ns() - at_ns
        return max(0.0, 1.0 - (self.idle_ns - idle_ns) / elapsed) if elapsed > 0 else 0.0


LOOP = LoopClock()


async def sleep_until_ns(deadline_ns: int, *, early_ns: int = EARLY_NS) -> None:
    """Sleep until ``time.monotonic_ns() >= deadline_ns``, waking microseconds late at most.

    Like ``trio.sleep_until`` it is always a checkpoint. ``early_ns`` is how long
    before the deadline the kernel timer fires; the rest is spun.
    """
    now = time.monotonic_ns()
    wake = deadline_ns - early_ns
    if wake > now:
        wheel = _wheel()
        if wheel is not None:
            await wheel.wait_until(wake)
        else:
            await trio.sleep(max(0, wake - COARSE_GUARD_NS - now) / 1e9)
    else:
        await trio.lowlevel.checkpoint()
    now = time.monotonic_ns()
    while now < deadline_ns:
        await trio.lowlevel.checkpoint()
        later = time.monotonic_ns()
        if later - now < SPIN_STEP_NS:
            LOOP.idle_ns += later - now
        now = later


def new_timer() -> TimerFd | None:
    """A timerfd of one's own (the pump puts it in its epoll set); None where there is none."""
    if _LIBC is None:
        return None
    try:
        return TimerFd(_LIBC)
    except OSError:
        return None


def wake_at(due_ns: int, early_ns: int = EARLY_NS) -> int:
    """When to stop waiting for something due at ``due_ns``: the rest is spun.

    The same margin as :func:`sleep_until_ns`, for loops that wait on a timer of their own.
    """
    return due_ns - early_ns if _LIBC is not None else due_ns - COARSE_GUARD_NS


def uses_timerfd() -> bool:
    """Whether precise sleeps use a timerfd here (else a coarse sleep and a longer spin)."""
    return _LIBC is not None
