"""The pump's first connects come from a pool of connector tasks, as many as connects may
be in flight: with fewer connectors than clients, each takes several clients in turn, and
every client still connects once, is counted at the gate, and has its requests counted."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import pytest
import trio

from sockbench.core.intervals import IntervalRow
from sockbench.core.progress import DrainProgress
from sockbench.endpoints import Endpoint, Proto
from sockbench.engine.clients.pump import Pump
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.worker import run as worker
from sockbench.engine.worker.run import Window, WindowMove, WorkOrder, run_worker
from sockbench.machine import build_run_spec
from tests.support.runs import BASE

pytestmark = pytest.mark.e2e  # real sockets

CLIENTS = 9
CONNECTORS = 2
REQUESTS = 300


class _Control:
    """The coordinator for one in-process worker: the window opens once all tried."""

    def __init__(self) -> None:
        self.stop = trio.Event()
        self.start = WindowMove()
        self.end = WindowMove()
        self.connections = -1

    async def connected(self, connections: int) -> Window:
        self.connections = connections
        now = time.monotonic_ns()
        return Window(now, now, now + 30 * 10**9)

    def interval(self, row: IntervalRow) -> None:
        pass

    def warmup_interval(self, row: IntervalRow) -> None:
        pass

    def draining(self, turn: int, progress: DrainProgress) -> None:
        pass


async def _echo(stream: trio.SocketStream) -> None:
    async for data in stream:
        await stream.send_all(data)


async def _udp_echo(sock: trio.socket.SocketType) -> None:
    while True:
        data, peer = await sock.recvfrom(65536)
        await sock.sendto(data, peer)


async def _run(proto: Proto, options: dict[str, Any]) -> tuple[WorkerRecorder, _Control]:
    async with trio.open_nursery() as nursery:
        if proto is Proto.TCP:
            serve = partial(trio.serve_tcp, _echo, 0, host="127.0.0.1")
            listeners = await nursery.start(serve)
            port = listeners[0].socket.getsockname()[1]
        else:
            sock = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
            await sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            nursery.start_soon(_udp_echo, sock)
        target = f"{proto.value}://127.0.0.1:{port}"
        config = build_run_spec(
            {**BASE, "target": target, "server_model": None, "proto": "",
             "clients": CLIENTS, "requests": REQUESTS, "warmup_s": 0.0, **options}
        )  # fmt: skip
        order = WorkOrder(config, Endpoint(proto, "127.0.0.1", port), CLIENTS)
        control = _Control()
        recorder = await run_worker(order, control)
        nursery.cancel_scope.cancel()
    return recorder, control


@pytest.mark.parametrize(
    "options",
    [{}, {"rate": 3000.0}, {"connect_rate": 200.0}, {"ramp_s": 0.05}, {"pipeline": 3}],
    ids=["closed-loop", "open-loop", "connect-rate", "ramp", "pipeline"],
)
@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UDP], ids=["tcp", "udp"])
def test_fewer_connectors_than_clients_connect_and_count_every_client(
    monkeypatch: pytest.MonkeyPatch, proto: Proto, options: dict[str, Any]
) -> None:
    if proto is Proto.UDP and "pipeline" in options:
        pytest.skip("--pipeline is for streams")
    monkeypatch.setattr(worker, "CONNECT_CONCURRENCY", CONNECTORS)
    pools: list[int] = []
    made = Pump.__init__

    def spy(self: Pump, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        pools.append(self.connectors)

    monkeypatch.setattr(Pump, "__init__", spy)
    recorder, control = trio.run(_run, proto, options)
    assert pools == [CONNECTORS]
    if "ramp_s" not in options:  # ramped, the window opens before anyone connects
        assert control.connections == CLIENTS
    assert recorder.connections == CLIENTS
    assert recorder.connect.histogram.get_total_count() == CLIENTS
    assert not recorder.errors and not recorder.failures
    assert recorder.requests == REQUESTS == recorder.window.issued
