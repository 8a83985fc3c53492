"""Sampling the CPU, memory, threads and descriptors of a process tree while a run goes on.

A background thread reads psutil every ``interval_s`` (0.5 s by default): cheap
enough not to disturb the measurement, often enough to see a 2-second cell. CPU
is reported like ``top``: 100 means one core busy. Only samples that fall inside
the measurement window count, so warm-up and start-up don't dilute the numbers.

CPU time comes from each process's CPU clock (``clock_gettime`` on the process's
``CPUCLOCK_SCHED`` clock id: nanoseconds, every thread, dead ones included), not from
``/proc/PID/stat``, which counts whole 10 ms ticks per process: a fork-per-connection
server's hundred children, each a few ms per interval, read there as 0 % (socat at
100 clients: 0.0 % by ticks, 18 % by the clock). The clock has no user/system split,
so that split is the ticks' ratio applied to the clock's total. Time of reaped
children (``children_*``) is left out: it arrives in one jump when a child is reaped,
which would charge a killed server to whoever reaped it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import psutil

DEFAULT_INTERVAL_S = 0.5
_CPUCLOCK_SCHED = 2  # linux/posix-timers.h: a process clock id is (~pid << 3) | type
MIN_FINAL_SAMPLE_NS = 20_000_000
#: The share of a core the sampling thread may take. A large tree (a server that forks a
#: process per connection: 1,000 of them took 0.1 s a sample) is read less often instead:
#: the thread shares its process with a one-worker run's clients, and while it reads, their
#: thread waits for the GIL at each syscall (the interpreter hands it over every 5 ms).
MAX_SAMPLING_SHARE = 0.02


@dataclass(frozen=True)
class Sample:
    t_ns: int
    cpu_percent: float
    user_percent: float
    system_percent: float
    rss_bytes: int
    threads: int
    fds: int


@dataclass(frozen=True)
class ResourceSummary:
    cpu_percent_mean: float
    cpu_percent_max: float
    cpu_user_percent_mean: float
    cpu_system_percent_mean: float
    rss_bytes_max: int
    threads_max: int
    fds_max: int
    samples: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize_samples(samples: list[Sample]) -> ResourceSummary | None:
    """Mean and max of the samples (pure); None when there are none."""
    if not samples:
        return None
    n = len(samples)
    return ResourceSummary(
        cpu_percent_mean=round(sum(s.cpu_percent for s in samples) / n, 1),
        cpu_percent_max=round(max(s.cpu_percent for s in samples), 1),
        cpu_user_percent_mean=round(sum(s.user_percent for s in samples) / n, 1),
        cpu_system_percent_mean=round(sum(s.system_percent for s in samples) / n, 1),
        rss_bytes_max=max(s.rss_bytes for s in samples),
        threads_max=max(s.threads for s in samples),
        fds_max=max(s.fds for s in samples),
        samples=n,
    )


def _listed_children(pid: int) -> list[int]:
    """The children of ``pid`` as its threads' ``/proc/PID/task/TID/children`` list them
    (a thread's own forks): reads of the tree alone. psutil finds children by reading
    the parent of every process on the machine (``/proc/*/stat``), which took 1 ms a
    sample with 72 processes and grows with every process on the host."""
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:  # gone
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                kids.extend(int(k) for k in f.read().split())
        except OSError:  # the thread ended
            continue
    return kids


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first); via psutil where the kernel lists no
    children in /proc (``CONFIG_PROC_CHILDREN``, Linux 3.5 and later, off)."""
    if not _PROC_CHILDREN:
        try:
            return [p.pid for p in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            return []
    found: list[int] = []
    seen = {pid}
    queue = [pid]
    while queue:
        for kid in _listed_children(queue.pop()):
            if kid not in seen:  # a pid reused while the tree was read: once only
                seen.add(kid)
                found.append(kid)
                queue.append(kid)
    return found


_PROC_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children")


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds of process ``pid`` (all its threads) in ns resolution; None if unreadable."""
    try:
        return time.clock_gettime((~pid << 3) | _CPUCLOCK_SCHED)
    except OSError:
        return None


class TreeSampler:
    """Samples process ``pid`` and its descendants, except ``exclude`` and its own, in a thread."""

    def __init__(
        self, pid: int, interval_s: float = DEFAULT_INTERVAL_S, exclude: int | None = None
    ) -> None:
        self.pid = pid
        self.exclude = exclude
        self.interval_s = interval_s
        self.longest_wait_s = interval_s  # the interval, or longer for a large tree
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sampler-{pid}", daemon=True)
        self._procs: dict[int, psutil.Process] = {}

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[psutil.Process]:
        pids = [self.pid, *descendants(self.pid)]
        if self.exclude is not None:
            skip = {self.exclude, *descendants(self.exclude)}
            pids = [pid for pid in pids if pid not in skip]
        # Keep Process objects across samples: their cpu_times deltas need the same object.
        procs: dict[int, psutil.Process] = {}
        for pid in pids:
            proc = self._procs.get(pid)
            if proc is None:
                try:
                    proc = psutil.Process(pid)
                except psutil.Error:  # ended since it was listed
                    continue
            procs[pid] = proc
        self._procs = procs
        return list(procs.values())

    def _read(self) -> tuple[dict[int, tuple[float, float, float]], int, int, int]:
        """(CPU seconds by the clock, user ticks, system ticks) per live process of the
        tree, and the tree's totals.

        Only the processes' own times count, never ``children_*``: those jump by a child's
        whole lifetime when it is reaped, which charged a killed server (reaped by the
        run's death watch) to the generator."""
        times: dict[int, tuple[float, float, float]] = {}
        rss = threads = fds = 0
        for proc in self._tree():
            try:
                with proc.oneshot():
                    cpu = proc.cpu_times()
                    clock = process_cpu_s(proc.pid)
                    own = cpu.user + cpu.system if clock is None else clock
                    times[proc.pid] = (own, cpu.user, cpu.system)
                    rss += proc.memory_info().rss
                    threads += proc.num_threads()
                    fds += proc.num_fds()
            except psutil.Error:
                continue
        return times, rss, threads, fds

    def _loop(self) -> None:
        last_t = time.monotonic_ns()
        last, *_ = self._read()
        user_s = system_s = 0.0  # ticks so far, for intervals too short to hold a tick
        wait = self.interval_s
        while True:
            stopped = self._stop.wait(wait)
            now = time.monotonic_ns()
            # One last sample when stopped, so even a sub-interval run gets one.
            if stopped and now - last_t < MIN_FINAL_SAMPLE_NS:
                return
            cost = time.thread_time()
            times, rss, threads, fds = self._read()
            wait = max(self.interval_s, (time.thread_time() - cost) / MAX_SAMPLING_SHARE)
            self.longest_wait_s = max(self.longest_wait_s, wait)
            wall = (now - last_t) / 1e9
            # Processes in both samples: one that appeared or vanished has no delta to give.
            both = [(t, last[p]) for p, t in times.items() if p in last]
            on_cpu = sum(max(0.0, t[0] - was[0]) for t, was in both)
            du = sum(max(0.0, t[1] - was[1]) for t, was in both)
            ds = sum(max(0.0, t[2] - was[2]) for t, was in both)
            user_s, system_s = user_s + du, system_s + ds
            if du + ds == 0:  # no tick in this interval: split like the whole run so far
                du, ds = user_s, system_s
            share = du / (du + ds) if du + ds else 0.0
            total = on_cpu / wall * 100
            self.samples.append(
                Sample(now, total, total * share, total * (1 - share), rss, threads, fds)
            )
            last_t, last = now, times
            if stopped:
                return

    @property
    def latest_cpu_percent(self) -> float | None:
        """The last sample's CPU (100: one core); None before the first."""
        samples = self.samples  # appended by the sampling thread: read the list once
        return samples[-1].cpu_percent if samples else None

    def summary(self, start_ns: int = 0, end_ns: int = 2**63) -> ResourceSummary | None:
        """Summary of the samples taken inside [start_ns, end_ns] (plus one, for short windows)."""
        slack_ns = int(self.longest_wait_s * 1e9)
        inside = [s for s in self.samples if start_ns < s.t_ns <= end_ns + slack_ns]
        return summarize_samples(inside)
