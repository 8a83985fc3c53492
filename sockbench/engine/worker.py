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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import trio

from sockbench.config import RunConfig
from sockbench.core.intervals import IntervalRow
from sockbench.core.protocols import Exchange
from sockbench.core.schedule import RateSchedule
from sockbench.endpoints import Endpoint
from sockbench.engine import datagram_client, open_loop, stream_client
from sockbench.engine.batch_client import BatchedClients
from sockbench.engine.bulk_client import tcp_bulk_client, udp_bulk_client
from sockbench.engine.churn_client import churn_client
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats
from sockbench.engine.protocol_pump import ProtocolClients
from sockbench.engine.workload import build_exchange, request_bytes

CONNECT_CONCURRENCY = 256  # connects in flight per worker: a SYN burst the backlog can take


@dataclass(frozen=True)
class WorkOrder:
    config: RunConfig
    endpoint: Endpoint
    clients: int
    index: int = 0
    reply_dir: str | None = None
    first_client: int = 0

    def source_for(self, client: int) -> str | None:
        """The source address of this worker's ``client``-th client (round robin)."""
        ips = self.config.source_ips
        return ips[(self.first_client + client) % len(ips)] if ips else None


@dataclass(frozen=True)
class Window:
    """The run's clock, shared by all workers: warm-up from ``start_ns``, then measurement."""

    start_ns: int
    measure_start_ns: int
    measure_end_ns: int


class Control(Protocol):
    """The coordinator, as a worker sees it."""

    stop: trio.Event

    async def connected(self, connections: int) -> Window:
        """Report that every client tried to connect; wait for the common window."""
        ...

    def interval(self, row: IntervalRow) -> None:
        """One interval of this worker's time series is complete (for live progress)."""
        ...


@dataclass(frozen=True)
class _Shared:
    """What every client of a worker uses, built once (each costs O(payload) or O(clients))."""

    request: bytes
    exchange: Exchange
    rates: RateSchedule | None

    @classmethod
    def build(cls, config: RunConfig, exchange: Exchange) -> _Shared:
        rates = RateSchedule(config.rate, config.clients) if config.rate else None
        return cls(request_bytes(config), exchange, rates)


def _client(
    order: WorkOrder,
    i: int,
    stats: LiveStats,
    gate: StartGate,
    limiter: trio.CapacityLimiter,
    shared: _Shared,
) -> Callable[[], Awaitable[None]]:
    """The task that runs client ``i`` of this worker, chosen by mode, proto and rate."""
    config = order.config
    endpoint = order.endpoint
    source = order.source_for(i)
    request = shared.request
    rates = shared.rates
    schedule = rates.client(order.first_client + i) if rates is not None else None
    stream = endpoint.proto.is_stream
    if config.mode == "churn":
        return partial(churn_client, endpoint, request, config.timeout_s, stats, gate, source)
    if config.mode == "stream":
        if stream:
            return partial(tcp_bulk_client, i, endpoint, request, stats, gate, limiter, source)
        assert schedule is not None
        return partial(
            udp_bulk_client, i, endpoint, request, schedule, stats, gate, order.reply_dir, source
        )
    if schedule is not None:
        if stream:
            return partial(
                open_loop.stream_client, endpoint, shared.exchange, order.first_client + i,
                schedule, config.pipeline, config.timeout_s, stats, gate, limiter, source,
            )  # fmt: skip
        return partial(
            open_loop.datagram_client, endpoint, config.payload, schedule, config.timeout_s,
            stats, gate, order.reply_dir, source,
        )  # fmt: skip
    if stream:
        return partial(
            stream_client.closed_loop_client, endpoint, shared.exchange, order.first_client + i,
            config.timeout_s, stats, gate, limiter, source,
        )  # fmt: skip
    return partial(
        datagram_client.echo_client, endpoint, config.payload, config.timeout_s, stats, gate,
        order.reply_dir, source,
    )  # fmt: skip


def _batched(
    order: WorkOrder,
    exchange: Exchange,
    stats: LiveStats,
    gate: StartGate,
    limiter: trio.CapacityLimiter,
) -> BatchedClients | None:
    """One pump for all clients, when the workload is closed-loop over a stream socket.

    Replies of one known size to one fixed request take the fastest pump; every other
    protocol (parsed replies, varying requests, setup, closed-loop pipelining) the
    protocol pump.
    """
    config = order.config
    if not (config.batch and config.mode == "echo" and config.rate is None):
        return None
    if not order.endpoint.proto.is_stream:
        return None
    simple = exchange.kind is None and exchange.setup is None and config.pipeline == 1
    if simple and exchange.fixed is not None and exchange.reply_size:
        return BatchedClients(
            order.endpoint, exchange.fixed, exchange.expected, exchange.reply_size,
            config.timeout_s, stats, gate, limiter, busy_poll=config.busy_poll,
        )  # fmt: skip
    return ProtocolClients(
        order.endpoint, exchange, config.pipeline, order.first_client, config.timeout_s, stats,
        gate, limiter, busy_poll=config.busy_poll,
    )  # fmt: skip


async def run_worker(order: WorkOrder, control: Control) -> LiveStats:
    """Connect this worker's clients, then load the target until the window ends or a stop."""
    config = order.config
    share = None
    if config.requests is not None:
        share = max(1, config.requests * order.clients // config.clients)
    per_client = order.clients if config.mode == "stream" else 0
    stats = LiveStats(per_client, request_limit=share)
    gate = StartGate(order.clients)
    limiter = trio.CapacityLimiter(CONNECT_CONCURRENCY)
    async with trio.open_nursery() as root:
        root.start_soon(_cancel_on, control.stop, root.cancel_scope)
        root.start_soon(_cancel_on, stats.done, root.cancel_scope)
        async with trio.open_nursery() as clients:
            exchange = build_exchange(config)
            stats.track_kinds(exchange.kinds)
            batched = _batched(order, exchange, stats, gate, limiter)
            if batched is not None:
                clients.start_soon(batched.run, [order.source_for(i) for i in range(order.clients)])
            else:
                shared = _Shared.build(config, exchange)
                for i in range(order.clients):
                    clients.start_soon(_client(order, i, stats, gate, limiter, shared))
            await gate.all_attempted.wait()
            window = await control.connected(stats.connections)
            stats.start_ns = window.start_ns
            stats.measure_start_ns = window.measure_start_ns
            stats.measure_end_ns = window.measure_end_ns
            gate.go.set()
            clients.start_soon(_cut_intervals, stats, control, int(config.interval_s * 1e9))
            await trio.sleep(max(0, window.measure_end_ns - time.monotonic_ns()) / 1e9)
            clients.cancel_scope.cancel()
        root.cancel_scope.cancel()
    # The last interval: cut short by a stop, or the one the ticker was about to cut.
    row = stats.cut_interval(min(time.monotonic_ns(), stats.measure_end_ns))
    if row is not None:
        control.interval(row)
    return stats


async def _cut_intervals(stats: LiveStats, control: Control, interval_ns: int) -> None:
    """Cut the time series on the grid ``measure_start + k * interval``."""
    await trio.sleep(max(0, stats.measure_start_ns - time.monotonic_ns()) / 1e9)
    stats.start_intervals(interval_ns)
    end = stats.measure_start_ns + interval_ns
    while end <= stats.measure_end_ns:
        await trio.sleep(max(0, end - time.monotonic_ns()) / 1e9)
        row = stats.cut_interval(end)
        if row is not None:
            control.interval(row)
        end += interval_ns


async def _cancel_on(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
