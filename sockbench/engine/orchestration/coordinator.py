"""Coordinating workers: one shared window, early stops, and merging what they measured.

Every worker runs behind a :class:`~sockbench.engine.backends.WorkerBackend`: one
worker in this process's trio loop (:mod:`~sockbench.engine.backends.in_process`), more
as child processes with their own loops, or as Ray actors, each with a share of the
clients. The coordinator drives them all through the same messages: it lines them up
on one window of the shared monotonic clock and merges their tallies. A worker that
dies is reported (``worker_failed``) and the others' measurements are kept.
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import reduce
from typing import Any

import trio

from sockbench.core.histogram import decode
from sockbench.core.intervals import IntervalRow, boundary_ahead, merge_rows
from sockbench.core.progress import DrainProgress, ProgressFn, Tick
from sockbench.core.spec.run import RunSpec
from sockbench.core.status import RunStatus
from sockbench.core.stopping import StopDecision, UntilMeter
from sockbench.core.tally import Tally, merge_tallies
from sockbench.core.warmup import WarmupDecision, WarmupMeter, WarmupOutcome
from sockbench.endpoints import Endpoint
from sockbench.engine.backends import WorkerBackend, WorkerLink
from sockbench.engine.backends.in_process import InProcessWorkers
from sockbench.engine.backends.messages import (
    Connected,
    Done,
    Draining,
    Interval,
    ProtocolError,
    WarmupInterval,
)
from sockbench.engine.backends.processes import ProcessWorkers
from sockbench.engine.io.interrupts import Interrupts
from sockbench.engine.worker.run import Window, WorkOrder

log = logging.getLogger(__name__)
SERVER_POLL_S = 0.1
HURRY_GRACE_S = 1.0  # for workers to send what they measured, after a second signal
#: Past the window's end, its interval and the drain: how long a worker may send nothing
#: before it counts as failed (stopped, hung in a plugin, its node unreachable).
SILENCE_GRACE_S = 5.0
EXIT_GRACE_S = 0.2  # for a worker to exit once its wait is over, before it is killed
#: --until (--warmup auto): the window ends (starts) on an interval boundary at least this
#: far ahead of the decision (on a cluster, ``CLUSTER_LEAD_S``: an actor on a busy node
#: heard of it 190 ms after another), or twice as far as the interval's rows took to
#: arrive, so every worker hears of it before; one told late ends (starts) its window
#: when told, and the run's measured time runs to the latest worker's end.
UNTIL_LEAD_S = 0.05
CLUSTER_LEAD_S = 0.5


@dataclass
class DriveOutcome:
    tally: Tally
    status: RunStatus
    measured_s: float
    workers: int
    failed_workers: list[int] = field(default_factory=list)
    window: Window | None = None
    nodes: list[dict[str, Any]] | None = None  # per cluster node (see WorkerBackend.nodes)
    # Of failed_workers, those failed for sending nothing (stopped, stuck), not for exiting.
    silent_workers: list[int] = field(default_factory=list)
    # --until: the decision that ended the window early (None: it ran to --duration).
    until_stop: StopDecision | None = None
    # --warmup auto: its rows, the rule's decision, and where the window started.
    warmup: WarmupOutcome | None = None


class _Run:
    """State shared by the coordinator's tasks."""

    def __init__(self, spec: RunSpec, workers: int, progress: ProgressFn | None) -> None:
        self.load = spec.load
        self.duration_s = spec.sizing.duration_s
        self.drain_s = spec.load.drain_s if spec.load.drain_s is not None else spec.sizing.timeout_s
        self.silent: list[int] = []  # workers failed for sending nothing (watch_silence)
        self.status = RunStatus.COMPLETED
        self.stop = trio.Event()
        self.hurry = trio.Event()  # a second signal: cut the shutdown's waits short
        self.window: Window | None = None
        self.stopped_at_ns: int | None = None
        self.workers = workers
        self.progress = progress
        self.connections = 0
        self._pending: dict[float, list[tuple[int, IntervalRow]]] = {}  # by worker
        self.node_of: Sequence[str] | None = None  # each worker's node, on a cluster
        self._requests = self._errors = 0
        self.until = spec.load.until
        self.until_stop: StopDecision | None = None
        self._until_meter = UntilMeter(self.until) if self.until is not None else None
        self.end_at: Callable[[int], None] | None = None  # tells every worker (--until)
        self.start_at: Callable[[int], None] | None = None  # tells every worker (--warmup auto)
        self.auto_warmup = spec.load.auto_warmup
        self._warm_pending: dict[float, list[tuple[int, IntervalRow]]] = {}
        self._warmup_meter = WarmupMeter() if self.auto_warmup is not None else None
        self.warmup_decision: WarmupDecision | None = None
        self.warmup_settled = False  # the window was moved to start on the rule
        # The drain's progress: each worker's latest, the turns being gathered, and the
        # workers still draining (not yet reported).
        self._drain_last: dict[int, DrainProgress] = {}
        self._drain_turns: dict[int, set[int]] = {}
        self._draining = set(range(workers))

    def _gather(
        self, pending: dict[float, list[tuple[int, IntervalRow]]], row: IntervalRow, worker: int
    ) -> list[tuple[int, IntervalRow]] | None:
        """One worker's row of an interval; every worker's, once all of them sent it."""
        same = pending.setdefault(row.start_s, [])
        same.append((worker, row))
        if len(same) < self.workers:
            return None
        del pending[row.start_s]
        return same

    def _lead_ns(self, now_ns: int, anchor_ns: int, row: IntervalRow) -> int:
        """How far ahead of ``now_ns`` a moved start or end must be (``UNTIL_LEAD_S``),
        from how late ``row`` (on the grid from ``anchor_ns``) arrived."""
        late_ns = max(0, now_ns - anchor_ns - round(row.t * 1e9))
        lead_s = UNTIL_LEAD_S if self.node_of is None else CLUSTER_LEAD_S
        return max(int(lead_s * 1e9), 2 * late_ns)

    @property
    def warmup_start_ns(self) -> int:
        """Where the warm-up's grid starts: after the ramp."""
        assert self.window is not None
        return self.window.start_ns + int(self.load.ramp_s * 1e9)

    def on_warmup_interval(self, row: IntervalRow, worker: int = 0) -> None:
        """--warmup auto: once every worker sent a warm-up interval, ask the rule; when
        the series settled, the window starts on the next boundary of the warm-up's grid
        the workers can be told of (before its maximum), and lasts as long as asked."""
        same = self._gather(self._warm_pending, row, worker)
        meter, window = self._warmup_meter, self.window
        if same is None or meter is None or window is None:
            return
        [merged] = merge_rows([[r] for _, r in same])
        self._tick_warmup_row(merged, settling=not self.warmup_settled)
        if self.warmup_settled:  # the rows up to the window's start, for the result
            meter.rows.append(merged)
            return
        decision = self.warmup_decision = meter.add(merged)
        if not decision.settled or self.stop.is_set() or self.start_at is None:
            return
        now, anchor = time.monotonic_ns(), self.warmup_start_ns
        start = boundary_ahead(
            anchor, int(self.load.interval_s * 1e9), now, self._lead_ns(now, anchor, row),
            window.measure_start_ns,
        )  # fmt: skip
        if start is None:  # the maximum comes first
            return
        log.info("--warmup %s: settled after %d intervals (transient %s); the window "
                 "starts at %.3f s", self.auto_warmup, decision.rows, decision.transient,
                 (start - anchor) / 1e9)  # fmt: skip
        self.warmup_settled = True
        length = window.measure_end_ns - window.measure_start_ns
        self.window = replace(window, measure_start_ns=start, measure_end_ns=start + length)
        self.start_at(start)

    def warmup_outcome(self) -> WarmupOutcome | None:
        """What --warmup auto did; a run stopped in the warm-up warmed up until then."""
        if self._warmup_meter is None or self.window is None:
            return None
        end = min(self.window.measure_start_ns, self.stopped_at_ns or self.window.measure_start_ns)
        return WarmupOutcome(
            tuple(self._warmup_meter.rows), self.warmup_decision, self.warmup_settled,
            max(0, end - self.warmup_start_ns) / 1e9,
        )  # fmt: skip

    def on_interval(self, row: IntervalRow, worker: int = 0) -> None:
        """Collect one worker's interval; once every worker sent it, report progress."""
        same = self._gather(self._pending, row, worker)
        if same is None:
            return
        [merged] = merge_rows([[r] for _, r in same])
        self._requests += merged.requests
        self._errors += merged.errors
        self._check_until(merged)
        if self.progress is not None and self.window is not None:
            now = time.monotonic_ns()
            hits, misses = merged.lookups or (None, None)
            self.progress(
                Tick(
                    phase="measuring",
                    elapsed_s=(now - self.window.start_ns) / 1e9,
                    remaining_s=max(0, self.window.measure_end_ns - now) / 1e9,
                    requests=self._requests,
                    rps=merged.rps,
                    p99_us=merged.p99,
                    errors=self._errors,
                    connections=self.connections,
                    by_kind=tuple(
                        (k.kind, summary["rps"], summary["p99"])
                        for k in merged.by_kind
                        for summary in (merged.kind_summary(k),)
                    ),
                    sent_bytes=merged.sent_bytes,
                    sent_bps=merged.bps(merged.sent_bytes),
                    received_bps=merged.bps(merged.received_bytes),
                    read_bytes=merged.read_bytes,
                    read_bps=merged.bps(merged.read_bytes),
                    hits=hits,
                    misses=misses,
                    row=merged,
                    by_node=self._by_node(same),
                )
            )

    def on_draining(self, turn: int, progress: DrainProgress, worker: int) -> None:
        """One worker's drain progress; once every worker still draining sent its
        ``turn``-th, report them as one (a worker done keeps its last, nothing open)."""
        self._drain_last[worker] = progress
        turns = self._drain_turns.setdefault(turn, set())
        turns.add(worker)
        if self._draining - turns:
            return
        del self._drain_turns[turn]
        self._tick_drain()

    def reported(self, worker: int) -> None:
        """``worker`` is done (or failed): the drain waits for it no more."""
        self._draining.discard(worker)
        if worker in self._drain_last:
            self._drain_last[worker] = self._drain_last[worker].ended()
        for turn, workers in list(self._drain_turns.items()):
            if self._draining <= workers:  # the last one it waited for
                del self._drain_turns[turn]
                self._tick_drain()

    def _tick_drain(self) -> None:
        if self.progress is None or self.window is None or not self._draining:
            return
        merged = reduce(operator.add, self._drain_last.values())
        now = time.monotonic_ns()
        self.progress(
            Tick(
                phase="draining",
                elapsed_s=(now - self.window.start_ns) / 1e9,
                remaining_s=merged.ends_in_s,
                requests=self._requests,
                rps=0.0,
                p99_us=0,
                errors=self._errors,
                connections=self.connections,
                drain=merged,
            )
        )

    def _check_until(self, merged: IntervalRow) -> None:
        """--until: after each merged interval, ask the stopping rule; when it says stop,
        the window ends on the next interval boundary the workers can be told of."""
        window, meter = self.window, self._until_meter
        if meter is None or self.until_stop is not None or window is None:
            return
        if self.stop.is_set() or self.end_at is None:
            return
        decision = meter.add(decode(merged.histogram))
        if not decision.stop:
            return
        now = time.monotonic_ns()
        end = boundary_ahead(
            window.measure_start_ns, int(self.load.interval_s * 1e9), now,
            self._lead_ns(now, window.measure_start_ns, merged), window.measure_end_ns,
        )  # fmt: skip
        if end is None:  # the maximum (--duration) comes first
            return
        log.info("--until %s: ±%s after %d intervals; the window ends at %.3f s", self.until,
                 decision.relative, decision.intervals,
                 (end - window.measure_start_ns) / 1e9)  # fmt: skip
        self.until_stop = decision
        self.window = replace(window, measure_end_ns=end)
        self.end_at(end)

    def _by_node(
        self, same: Sequence[tuple[int, IntervalRow]]
    ) -> tuple[tuple[str, IntervalRow], ...]:
        """An interval's rows merged per node of a cluster (none locally)."""
        if self.node_of is None:
            return ()
        rows: dict[str, list[IntervalRow]] = {}
        for worker, row in same:
            rows.setdefault(self.node_of[worker], []).append(row)
        return tuple((node, merge_rows([[r] for r in rows[node]])[0]) for node in sorted(rows))

    def _tick_warmup_row(self, merged: IntervalRow, settling: bool) -> None:
        """--warmup auto: the warm-up interval's rate and p99, shown, never counted."""
        window = self.window
        if self.progress is None or window is None:
            return
        now = time.monotonic_ns()
        self.progress(
            Tick(
                phase="warmup",
                elapsed_s=(now - window.start_ns) / 1e9,
                remaining_s=max(0, window.measure_end_ns - now) / 1e9,
                requests=0,
                rps=merged.rps,
                p99_us=merged.p99,
                errors=0,
                connections=self.connections,
                settling=settling,
            )
        )

    async def tick_warmup(self) -> None:
        """Progress while warming up, when no interval is measured yet (with --warmup
        auto, once its rows come, they tick instead: :meth:`_tick_warmup_row`)."""
        while self.progress is not None:
            await trio.sleep(1.0)
            if self.window is None or (self._warmup_meter and self._warmup_meter.rows):
                continue
            now = time.monotonic_ns()
            if now >= self.window.measure_start_ns:
                return
            ramping = now < self.window.start_ns + int(self.load.ramp_s * 1e9)
            self.progress(
                Tick(
                    phase="ramp" if ramping else "warmup",
                    elapsed_s=(now - self.window.start_ns) / 1e9,
                    remaining_s=(self.window.measure_end_ns - now) / 1e9,
                    requests=0,
                    rps=0.0,
                    p99_us=0,
                    errors=0,
                    connections=self.connections,
                )
            )

    def request_stop(self, status: RunStatus) -> None:
        if not self.stop.is_set():
            log.info("stopping early: %s", status)
            self.status = status
            self.stopped_at_ns = time.monotonic_ns()
            self.stop.set()

    def open_window(self) -> Window:
        now = time.monotonic_ns()
        log.info(
            "%d connections up: ramp %g s, warm-up %s s, then measuring %g s",
            self.connections, self.load.ramp_s, self.load.warmup_s, self.duration_s,
        )  # fmt: skip
        # A ramp (--ramp) comes first and, like warm-up, stays out of the measurement;
        # --warmup auto's window starts at its maximum unless the rule moves it earlier.
        start = now + int((self.load.ramp_s + self.load.warmup_max_s) * 1e9)
        self.window = Window(now, start, start + int(self.duration_s * 1e9))
        return self.window

    def measured_s(self) -> float:
        if self.window is None:
            return 0.0
        end = min(self.stopped_at_ns or time.monotonic_ns(), self.window.measure_end_ns)
        return max(0, end - self.window.measure_start_ns) / 1e9


def split_clients(clients: int, workers: int) -> list[int]:
    base, extra = divmod(clients, workers)
    return [base + (1 if i < extra else 0) for i in range(workers)]


def _on_signal(run: _Run, count: int) -> None:
    """The first signal stops the run, later ones hurry its shutdown. A signal after the
    window closed changes nothing in the result: the measurement was complete."""
    window = run.window
    if window is not None and time.monotonic_ns() >= window.measure_end_ns:
        run.stop.set()
    else:
        run.request_stop(RunStatus.INTERRUPTED)
    if count > 1:
        run.hurry.set()


async def _watch_server(died: Callable[[], bool], run: _Run) -> None:
    while not died():
        await trio.sleep(SERVER_POLL_S)
    run.request_stop(RunStatus.SERVER_DIED)


async def coordinate(
    spec: RunSpec,
    endpoint: Endpoint,
    *,
    workers: int = 1,
    server_died: Callable[[], bool] | None = None,
    reply_dir: str | None = None,
    progress: ProgressFn | None = None,
    interrupts: Interrupts | None = None,
    backend: WorkerBackend | None = None,
) -> DriveOutcome:
    """Run the clients over ``workers`` workers; stop early on a signal or server death.

    Signals are counted by ``interrupts`` (installed by the caller for the whole run):
    the first stops the run, a second cuts the wait for the workers' results short.
    Without a ``backend``, one worker runs in this loop and more in child processes.
    """
    run = _Run(spec, workers, progress)
    with (interrupts or Interrupts()).waking(lambda n: _on_signal(run, n)):
        return await _coordinate(run, spec, endpoint, workers, server_died, reply_dir, backend)


async def _coordinate(
    run: _Run,
    spec: RunSpec,
    endpoint: Endpoint,
    workers: int,
    server_died: Callable[[], bool] | None,
    reply_dir: str | None,
    backend: WorkerBackend | None,
) -> DriveOutcome:
    shares = split_clients(spec.load.clients, workers)
    orders = [
        WorkOrder(spec, endpoint, n, index=i, reply_dir=reply_dir, first_client=sum(shares[:i]))
        for i, n in enumerate(shares)
    ]
    datagrams = not endpoint.proto.is_stream
    log.info("%d client(s) over %d worker(s): %s", spec.load.clients, len(orders), shares)
    async with trio.open_nursery() as watchers:
        watchers.start_soon(run.tick_warmup)
        if server_died is not None:
            watchers.start_soon(_watch_server, server_died, run)
        if backend is None:
            backend = InProcessWorkers() if len(orders) == 1 else ProcessWorkers()
        run.node_of = backend.worker_nodes()
        by_worker, failed = await _run_workers(backend, orders, run)
        watchers.cancel_scope.cancel()
    log.info("workers stopped%s", f"; failed: {failed}" if failed else "")
    tallies = [by_worker[i] for i in sorted(by_worker)]
    nodes = backend.nodes(by_worker, failed, run.window)
    if failed and run.status == RunStatus.COMPLETED:
        run.status = RunStatus.WORKER_FAILED
    if not tallies:
        tallies = [Tally.empty(datagrams=datagrams)]
    tally = merge_tallies(tallies)
    measured_s = run.measured_s()
    if run.until_stop is not None and tally.intervals:  # a worker told late ended later
        measured_s = max(measured_s, tally.intervals[-1].t)
    elif spec.load.requests is not None and run.status == RunStatus.COMPLETED and tally.intervals:
        # Every client reached --requests: each worker closed its window as its last client
        # retired (its last row ends there), not after the drain and the hand-over that
        # came before this line: those are no part of the window.
        measured_s = min(measured_s, tally.intervals[-1].t)
    return DriveOutcome(
        tally, run.status, measured_s, len(orders), failed,
        window=run.window, nodes=nodes, silent_workers=sorted(run.silent),
        until_stop=run.until_stop, warmup=run.warmup_outcome(),
    )  # fmt: skip


async def _run_workers(
    backend: WorkerBackend, orders: list[WorkOrder], run: _Run
) -> tuple[dict[int, Tally], list[int]]:
    tallies: dict[int, Tally] = {}
    failed: list[int] = []
    waiting = len(orders)
    all_connected = trio.Event()

    def arrived() -> None:
        nonlocal waiting
        waiting -= 1
        if waiting == 0:
            run.open_window()
            all_connected.set()

    heard: dict[int, int] = {}  # each worker's last message, monotonic ns
    scopes: dict[int, trio.CancelScope] = {}

    async def handle(i: int, link: WorkerLink) -> None:
        with trio.CancelScope() as scopes[i]:  # cancelled alone when it falls silent
            await receive_all(i, link)

    async def receive_all(i: int, link: WorkerLink) -> None:
        """Connected, Interval*, Done; or Done alone from a worker stopped while connecting."""
        connected = False
        try:
            while True:
                message = await link.receive()
                heard[i] = time.monotonic_ns()
                if isinstance(message, Connected) and not connected:
                    run.connections += message.connections
                    connected = True
                    arrived()
                    await all_connected.wait()
                    assert run.window is not None
                    link.go(run.window)
                elif isinstance(message, Interval) and connected:
                    run.on_interval(message.row, i)
                elif isinstance(message, WarmupInterval) and connected:
                    run.on_warmup_interval(message.row, i)
                elif isinstance(message, Draining) and connected:
                    run.on_draining(message.turn, message.progress, i)
                elif isinstance(message, Done):
                    tallies[i] = message.tally
                    run.reported(i)
                    if message.tally.faults:  # a protocol failed: every worker stops
                        run.request_stop(RunStatus.WORKER_FAILED)
                    if not connected:
                        arrived()
                    return
                else:
                    raise ProtocolError(f"worker {i} sent {message!r} out of turn")
        except (EOFError, OSError, ProtocolError):
            failed.append(i)
            run.reported(i)
            if not connected:
                arrived()

    async def forward_stop(links: list[WorkerLink], handlers: trio.CancelScope) -> None:
        """Pass a stop on, then give the workers a grace to report (shorter once hurried)."""
        await run.stop.wait()
        for link in links:
            link.stop()
        with trio.move_on_after(backend.stop_grace_s):
            await run.hurry.wait()
            backend.stop_grace_s = HURRY_GRACE_S
            await trio.sleep(HURRY_GRACE_S)
        handlers.cancel()

    async def watch_silence() -> None:
        """Fail a worker that sent nothing for the interval, the drain and a grace past
        the window's end: the run ends with the others' measurements."""
        await all_connected.wait()
        assert run.window is not None
        quiet_ns = int((run.load.interval_s + run.drain_s + SILENCE_GRACE_S) * 1e9)
        while True:
            left = [i for i in scopes if i not in tallies and i not in failed]
            if not left:
                return
            due = {i: max(heard.get(i, 0), run.window.measure_end_ns) + quiet_ns for i in left}
            now = time.monotonic_ns()
            for i in (i for i, at in due.items() if at <= now):
                log.warning("worker %d sent nothing for %.1f s: failed", i, quiet_ns / 1e9)
                failed.append(i)
                run.silent.append(i)
                run.reported(i)
                scopes[i].cancel()
            await trio.sleep(max(0.0, min(1.0, (min(due.values()) - now) / 1e9)))

    async with backend.start(orders) as links, trio.open_nursery() as outer:

        def end_at(end_ns: int) -> None:
            for link in links:
                link.end_at(end_ns)

        def start_at(start_ns: int) -> None:
            for link in links:
                link.start_at(start_ns)

        run.end_at, run.start_at = end_at, start_at
        async with trio.open_nursery() as handlers:
            outer.start_soon(forward_stop, links, handlers.cancel_scope)
            outer.start_soon(watch_silence)
            for i, link in enumerate(links):
                handlers.start_soon(handle, i, link)
        outer.cancel_scope.cancel()
        if len(tallies) < len(orders):  # what reported is leaving; the silent had their grace
            backend.stop_grace_s = min(backend.stop_grace_s, EXIT_GRACE_S)
    # A worker that never reported (cut off by the grace) is as good as failed.
    failed = sorted({*failed, *(i for i in range(len(orders)) if i not in tallies)})
    return tallies, failed
