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
from dataclasses import dataclass
from typing import Protocol

import trio

from sockbench.config import RunConfig
from sockbench.endpoints import Endpoint
from sockbench.engine import datagram_client, stream_client
from sockbench.engine.gate import StartGate
from sockbench.engine.live import LiveStats


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
    """The measurement window on the shared monotonic clock; warm-up ends at its start."""

    measure_start_ns: int
    measure_end_ns: int


class Control(Protocol):
    """The coordinator, as a worker sees it."""

    stop: trio.Event

    async def connected(self, connections: int) -> Window:
        """Report that every client tried to connect; wait for the common window."""
        ...


def payload_bytes(size: int) -> bytes:
    """A deterministic, non-uniform payload, so a server that mangles bytes is caught."""
    return bytes((i * 7 + 13) % 256 for i in range(size))


async def run_worker(order: WorkOrder, control: Control) -> LiveStats:
    """Connect this worker's clients, then load the target until the window ends or a stop."""
    config = order.config
    stats = LiveStats()
    gate = StartGate(order.clients)
    limiter = trio.CapacityLimiter(config.connect_concurrency)
    payload = payload_bytes(config.payload)
    async with trio.open_nursery() as root:
        root.start_soon(_cancel_on, control.stop, root.cancel_scope)
        async with trio.open_nursery() as clients:
            for i in range(order.clients):
                if order.endpoint.proto.is_stream:
                    clients.start_soon(
                        stream_client.echo_client,
                        order.endpoint,
                        payload,
                        config.timeout_s,
                        stats,
                        gate,
                        limiter,
                        order.source_for(i),
                    )
                else:
                    clients.start_soon(
                        datagram_client.echo_client,
                        order.endpoint,
                        config.payload,
                        config.timeout_s,
                        stats,
                        gate,
                        order.reply_dir,
                        order.source_for(i),
                    )
            await gate.all_attempted.wait()
            window = await control.connected(stats.connections)
            stats.measure_start_ns = window.measure_start_ns
            stats.measure_end_ns = window.measure_end_ns
            gate.go.set()
            await trio.sleep(max(0, window.measure_end_ns - time.monotonic_ns()) / 1e9)
            clients.cancel_scope.cancel()
        root.cancel_scope.cancel()
    return stats


async def _cancel_on(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
