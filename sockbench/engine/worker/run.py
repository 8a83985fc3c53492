"""One worker: a trio loop that owns a share of the clients.

The boundary is narrow on purpose. A worker takes a picklable :class:`WorkOrder`
and talks to its coordinator through a :class:`Control`: it reports how many
clients connected, receives the measurement :class:`Window` (absolute
``time.monotonic_ns`` values, which every process on the host shares), and hands
back a :class:`~sockbench.core.tally.Tally`. The same worker runs in-process, in a
child process, or, behind another Control, on another host.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Protocol

import trio

from sockbench.core.exchange import RequestWindow
from sockbench.core.expect import ReplyMatcher
from sockbench.core.intervals import IntervalRow
from sockbench.core.progress import DrainProgress
from sockbench.core.protocols import ProtocolAdapter
from sockbench.core.schedule import RateSchedule, due_between
from sockbench.core.spec.run import RunSpec
from sockbench.core.tally import Tally
from sockbench.endpoints import Endpoint
from sockbench.engine.clients import driver_for
from sockbench.engine.clients.context import ClientContext
from sockbench.engine.clients.gate import StartGate
from sockbench.engine.clients.pump import Pump
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.io.collector import frozen_heap
from sockbench.engine.io.timing import LOOP
from sockbench.engine.io.tls import TlsClient
from sockbench.engine.worker.ramp import start_schedule
from sockbench.engine.worker.workload import reply_matcher, request_bytes

CONNECT_CONCURRENCY = 256  # connects in flight per worker: a SYN burst the backlog can take
#: How often the per-request samples are folded in (WorkerRecorder.keep_up): the most of
#: them a buffer holds, at 8 bytes each.
KEEP_UP_S = 0.1


@dataclass(frozen=True)
class WorkOrder:
    """A worker's share of a run. It pickles to a worker process with the spec, which
    builds the protocol once there (the process boundary forces it: a plugin's code
    does not travel); in this process the spec's protocol is the one already built."""

    spec: RunSpec
    endpoint: Endpoint
    clients: int
    index: int = 0
    reply_dir: str | None = None
    first_client: int = 0

    def source_for(self, client: int) -> str | None:
        """The source address of this worker's ``client``-th client (round robin)."""
        ips = self.spec.sizing.source_ips
        return ips[(self.first_client + client) % len(ips)] if ips else None


@dataclass(frozen=True)
class Window:
    """The run's clock, shared by all workers: warm-up from ``start_ns``, then measurement."""

    start_ns: int
    measure_start_ns: int
    measure_end_ns: int


class WindowMove:
    """An earlier start (``--warmup auto``) or end (``--until``) of the window that the
    coordinator may ask for once, in the worker's clock; set from the worker's trio loop."""

    def __init__(self) -> None:
        self.at_ns: int | None = None
        self.moved = trio.Event()

    def move(self, at_ns: int) -> None:
        self.at_ns = at_ns
        self.moved.set()


class Control(Protocol):
    """The coordinator, as a worker sees it."""

    stop: trio.Event
    start: WindowMove
    end: WindowMove

    async def connected(self, connections: int) -> Window:
        """Report that every client tried to connect; wait for the common window."""
        ...

    def interval(self, row: IntervalRow) -> None:
        """One interval of this worker's time series is complete (for live progress)."""
        ...

    def warmup_interval(self, row: IntervalRow) -> None:
        """``--warmup auto``: one interval of the warm-up is complete (for its rule)."""
        ...

    def draining(self, turn: int, progress: DrainProgress) -> None:
        """The drain's ``turn``-th interval (1, 2, ...): where it stands (live progress)."""
        ...


@dataclass(frozen=True)
class _Shared:
    """What every client of a worker uses, built once (each costs O(payload) or O(clients))."""

    request: bytes
    matcher: ReplyMatcher
    rates: RateSchedule | None
    protocol: ProtocolAdapter | None  # None: echo, --send/--expect (the matchers' fast paths)

    @classmethod
    def build(cls, spec: RunSpec) -> _Shared:
        load = spec.load
        ramp_ns = int(load.ramp_s * 1e9)
        rates = (
            RateSchedule(load.rate, load.clients, load.seed, ramp_ns, load.arrival)
            if load.rate
            else None
        )
        if spec.protocol.name == "echo":
            return cls(request_bytes(spec.protocol), reply_matcher(spec.protocol), rates, None)
        protocol = spec.protocol.adapter()
        request = protocol.fixed if protocol.fixed is not None else b""
        return cls(request, reply_matcher(spec.protocol), rates, protocol)


def _contexts(
    order: WorkOrder,
    shared: _Shared,
    recorder: WorkerRecorder,
    gate: StartGate,
    limiter: trio.CapacityLimiter,
) -> list[ClientContext]:
    spec = order.spec
    rates = shared.rates
    starts = start_schedule(spec.load, order.clients)
    tls = TlsClient.of(spec.tls) if spec.tls is not None and order.endpoint.tls else None
    return [
        ClientContext(
            order.endpoint,
            shared.request,
            shared.matcher,
            spec.sizing.timeout_s,
            recorder,
            gate,
            limiter,
            index=i,
            source=order.source_for(i),
            reply_dir=order.reply_dir,
            schedule=rates.client(order.first_client + i) if rates is not None else None,
            pipeline=spec.load.pipeline,
            protocol=shared.protocol,
            first_client=order.first_client,
            start_ns=starts.start_ns(i),
            connect_timeout_s=spec.load.connect_timeout_s,
            tls=tls,
            socket_buffer=spec.generator.socket_buffer,
        )
        for i in range(order.clients)
    ]


def _worker_label(order: WorkOrder) -> str:
    """`` (worker 1: clients 15,001-30,000 of 30,000)`` where the run has several workers."""
    everyone = order.spec.load.clients
    if order.clients >= everyone:
        return ""
    first = order.first_client + 1
    return (
        f" (worker {order.index}: clients {first:,}-{first + order.clients - 1:,} of {everyone:,})"
    )


def _pumped(spec: RunSpec) -> bool:
    """Whether one pump serves every client: every echo-mode workload (``--batch``).

    Stream or datagram sockets, closed or open loop, ``--pipeline``, protocols: all go
    through :class:`Pump`. ``--no-batch`` runs the reference driver, a task per client;
    churn and stream modes have drivers of their own.
    """
    return spec.generator.batch and spec.load.mode == "echo"


async def run_worker(order: WorkOrder, control: Control) -> WorkerRecorder:
    """Connect this worker's clients, load the target for the window, then drain.

    At the window's end no new request is issued; every request issued (or due) in
    it is followed until it ends or the drain (``--drain``, default ``--timeout``)
    runs out, and what is still open then is counted by the exchanges as they close.
    """
    with ExitStack() as heap:
        return await _run_worker(order, control, heap)


async def _run_worker(order: WorkOrder, control: Control, heap: ExitStack) -> WorkerRecorder:
    spec, load = order.spec, order.spec.load
    share = None
    if load.requests is not None:
        share = max(1, load.requests * order.clients // load.clients)
    window = RequestWindow(int(spec.sizing.timeout_s * 1e9), share, clients=order.clients)
    recorder = WorkerRecorder(
        order.clients, window, open_loop=load.rate is not None,
        stream_payload=spec.request.payload if load.mode == "stream" else None,
        stream_direction=load.direction,
    )  # fmt: skip
    gate = StartGate(order.clients, ramped=load.ramps_clients, label=_worker_label(order))
    limiter = trio.CapacityLimiter(CONNECT_CONCURRENCY)
    drain_ns = None if load.drain_s is None else int(load.drain_s * 1e9)
    trio.lowlevel.add_instrument(LOOP)  # trio's waits are the loop's idle time too
    async with trio.open_nursery() as root:
        root.start_soon(_on_stop, control.stop, recorder, root.cancel_scope)
        # A protocol's fault stops this worker the same way (clients.context.ProtocolGuard).
        root.start_soon(_on_stop, recorder.faulted, recorder, root.cancel_scope)
        root.start_soon(_keep_up, recorder)
        async with trio.open_nursery() as clients:
            shared = _Shared.build(spec)
            if shared.protocol is not None:
                recorder.track_kinds(shared.protocol.kinds, shared.protocol.lookups)
            contexts = _contexts(order, shared, recorder, gate, limiter)
            stream_socket = order.endpoint.proto.is_stream
            if _pumped(spec) and contexts:
                clients.start_soon(Pump(contexts, busy_poll=spec.generator.busy_poll).run)
            else:
                drive = driver_for(load.mode, stream_socket, load.rate is not None, load.direction)
                for ctx in contexts:
                    clients.start_soon(drive, ctx)
            await gate.all_attempted.wait()
            # Set up: from here the collector's full passes no longer walk it all.
            heap.enter_context(frozen_heap())
            times = await control.connected(recorder.connections)
            recorder.start_ns = times.start_ns
            window.set_times(times.measure_start_ns, times.measure_end_ns, drain_ns)
            # Before any client goes: with --warmup 0 the first requests complete at once,
            # and a series begun later (in _cut_intervals) left them out of every row.
            recorder.start_intervals(int(load.interval_s * 1e9))
            gate.release(times.start_ns)
            busy_from = LOOP.mark()
            interval_ns = int(load.interval_s * 1e9)
            measuring = trio.CancelScope(deadline=_trio_time(times.measure_end_ns))
            if load.auto_warmup is not None:
                warm_start_ns = times.start_ns + int(load.ramp_s * 1e9)
                moving = _StartMove(control.start, window, measuring, drain_ns)
                clients.start_soon(_warm_up, recorder, control, moving, warm_start_ns, interval_ns)
            else:
                clients.start_soon(_cut_intervals, recorder, control, interval_ns)
            clients.start_soon(_follow_end, control.end, window, measuring, drain_ns)
            with measuring:
                await recorder.retired.wait()  # early: every client hit the --requests limit
            drain_start = min(time.monotonic_ns(), window.measure_end_ns)
            recorder.loop_busy = LOOP.busy_share(busy_from)
            if load.mode != "stream":
                # --mode stream learns its counts from the sinks' reports, in the drain:
                # its window closes after it (below), as the last row's.
                _close_window(recorder, control, drain_start)
                clients.start_soon(_report_drain, recorder, control, contexts, interval_ns)
            else:
                clients.start_soon(_report_stream_drain, recorder, control, interval_ns)
            try:
                with trio.move_on_at(_trio_time(window.drain_end_ns)):
                    await recorder.retired.wait()
            finally:  # a stop in the drain ends it too: how long it ran is still said
                recorder.drain_ns = max(0, time.monotonic_ns() - drain_start)
            clients.cancel_scope.cancel()
        root.cancel_scope.cancel()
    # Cut short by a stop: the window ends now.
    now = time.monotonic_ns()
    _close_window(recorder, control, min(now, recorder.measure_end_ns))
    recorder.close_drain(now)
    return recorder


def _close_window(recorder: WorkerRecorder, control: Control, end_ns: int) -> None:
    """The window's last row, and what was served in it; what ends later is the drain's."""
    row = recorder.close_window(end_ns)
    if row is not None:
        control.interval(row)


async def _report_drain(
    recorder: WorkerRecorder, control: Control, contexts: list[ClientContext], interval_ns: int
) -> None:
    """Every interval of the drain, where it stands, until it ends (the task is cancelled
    then): a drain past the knee lasts up to ``--timeout``, and a silent one looks hung."""
    window = recorder.window
    start = time.monotonic_ns()
    failed_before = sum(recorder.failures.values())
    schedules = [ctx.schedule for ctx in contexts if ctx.schedule is not None]
    window_starts = window.measure_start_ns - recorder.start_ns
    due = due_between(schedules, window_starts, window.measure_end_ns - recorder.start_ns)
    warm_due = due_between(schedules, 0, window_starts)
    if not recorder.open_loop:
        due = warm_due = None  # a closed loop sends nothing on a schedule
    turn = 0
    while True:
        turn += 1
        await trio.sleep_until(_trio_time(start + turn * interval_ns))
        unsent = warm_unsent = None
        if due is not None and warm_due is not None:
            unsent = max(0, min(due, window.limit) - window.issued)
            warm_unsent = max(0, warm_due - recorder.warmup_sent)
        progress = DrainProgress(
            answered=recorder.drained,
            failed=sum(recorder.failures.values()) - failed_before,
            in_flight=max(0, recorder.unended),
            unsent=unsent,
            ends_in_s=max(0, window.drain_end_ns - time.monotonic_ns()) / 1e9,
            warmup_unsent=warm_unsent,
        )
        control.draining(turn, progress)


async def _report_stream_drain(
    recorder: WorkerRecorder, control: Control, interval_ns: int
) -> None:
    """A stream's drain, every interval until it ends (the task is cancelled then): how
    many clients have the server's count (what the sink read, what the source sent) and
    how many still wait for it; the window's last row comes once they all have, or the
    drain ends (a server that does not report keeps the clients waiting to the end)."""
    window = recorder.window
    start = time.monotonic_ns()
    turn = 0
    while True:
        turn += 1
        await trio.sleep_until(_trio_time(start + turn * interval_ns))
        done = min(window.retired, window.clients)
        progress = DrainProgress(
            answered=done,
            failed=0,
            in_flight=window.clients - done,
            unsent=None,
            ends_in_s=max(0, window.drain_end_ns - time.monotonic_ns()) / 1e9,
            streams=True,
        )
        control.draining(turn, progress)


def tally_of(recorder: WorkerRecorder, order: WorkOrder) -> Tally:
    """What a worker hands back: stream mode moves bytes, not exchanges of requests; the
    datagrams counted are those the clients sent (a --reverse flow's are its reads')."""
    return recorder.tally(
        datagrams=not order.endpoint.proto.is_stream and order.spec.load.direction.sends,
        requests_issued=order.spec.load.mode != "stream",
    )


def _trio_time(monotonic_ns: int) -> float:
    return trio.current_time() + (monotonic_ns - time.monotonic_ns()) / 1e9


async def _keep_up(recorder: WorkerRecorder) -> None:
    """Fold the per-request samples in on a clock (core/histogram.NsRecorder), so a
    buffer holds at most a batch or ``KEEP_UP_S`` of them, whatever the clients do."""
    while True:
        await trio.sleep(KEEP_UP_S)
        recorder.keep_up()


async def _cut_intervals(stats: WorkerRecorder, control: Control, interval_ns: int) -> None:
    """Cut the time series on the grid ``measure_start + k * interval``.

    The last row is cut at the window's end (:func:`_close_window`); what ends in the
    drain is in a row of its own, never in the window's.
    """
    end = stats.measure_start_ns + interval_ns
    while end < stats.measure_end_ns:
        await trio.sleep(max(0, end - time.monotonic_ns()) / 1e9)
        if end >= stats.measure_end_ns:  # the window was moved to end here (--until)
            return
        row = stats.cut_interval(end)
        if row is not None:
            control.interval(row)
        end += interval_ns


class _StartMove:
    """``--warmup auto``: the coordinator's StartAt, applied as soon as it comes: the window
    (and its deadline) moves to start there and last as long as it would have; never
    before now, so what was issued in the warm-up stays the warm-up's."""

    def __init__(
        self, start: WindowMove, window: RequestWindow, measuring: trio.CancelScope,
        drain_ns: int | None,
    ) -> None:  # fmt: skip
        self.start = start
        self.window = window
        self.measuring = measuring
        self.drain_ns = drain_ns
        self.length_ns = window.measure_end_ns - window.measure_start_ns

    async def sleep_until(self, at_ns: int) -> None:
        """Sleep to ``at_ns`` (monotonic), moving the window meanwhile if asked to."""
        if not self.start.moved.is_set():
            with trio.move_on_at(_trio_time(at_ns)):
                await self.start.moved.wait()
            if self.start.moved.is_set():
                self._apply()
        await trio.sleep_until(_trio_time(at_ns))

    def _apply(self) -> None:
        assert self.start.at_ns is not None
        start_ns = max(self.start.at_ns, time.monotonic_ns())
        window = self.window
        if start_ns < window.measure_start_ns:
            window.set_times(start_ns, start_ns + self.length_ns, self.drain_ns)
            self.measuring.deadline = _trio_time(window.measure_end_ns)


async def _warm_up(
    stats: WorkerRecorder, control: Control, moving: _StartMove, start_ns: int, interval_ns: int
) -> None:
    """``--warmup auto``: cut the warm-up into rows on the grid ``start + k * interval``
    for the coordinator's rule until the window starts (where it was told to, on that
    grid, or at the maximum), then the window's rows."""
    await moving.sleep_until(start_ns)
    stats.start_warmup_rows(start_ns, interval_ns)
    end = start_ns + interval_ns
    while end <= stats.measure_start_ns:
        await moving.sleep_until(end)
        if end > stats.measure_start_ns:
            break
        control.warmup_interval(stats.cut_warmup(end))
        end += interval_ns
    await _cut_intervals(stats, control, interval_ns)


async def _follow_end(
    end: WindowMove, window: RequestWindow, measuring: trio.CancelScope, drain_ns: int | None
) -> None:
    """The coordinator ended the window earlier (``--until``): it ends there, as at its
    own end, and the drain follows; never before now (what was issued stays measured)."""
    await end.moved.wait()
    assert end.at_ns is not None
    end_ns = max(end.at_ns, time.monotonic_ns())
    if end_ns < window.measure_end_ns:
        window.set_times(window.measure_start_ns, end_ns, drain_ns)
        measuring.deadline = _trio_time(end_ns)


async def _on_stop(stop: trio.Event, recorder: WorkerRecorder, scope: trio.CancelScope) -> None:
    """Interrupted: requests still open stay counted as in flight, not timed out."""
    await stop.wait()
    recorder.interrupted = True
    scope.cancel()
