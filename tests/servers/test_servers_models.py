"""What makes each model itself: threadpool queueing, prefork workers, IPv6."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import trio
from servers_support import (
    bind_for,
    connect_stream,
    has_ipv6_loopback,
    model_params,
    receive_exactly,
    run_echo_clients,
)

from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint, Proto
from sockbench.servers.launcher import open_server
from sockbench.servers.sockets import BACKLOG

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


async def test_threadpool_queues_connections_beyond_its_workers() -> None:
    with open_server(
        BuiltIn("threadpool", threads=2), Endpoint(Proto.TCP, "127.0.0.1", 0)
    ) as server:
        first, second = [await connect_stream(server.endpoint) for _ in range(2)]
        for stream in (first, second):  # both hold a worker now
            await stream.send_all(b"hi")
            assert await receive_exactly(stream, 2) == b"hi"
        queued = await connect_stream(server.endpoint)
        await queued.send_all(b"waiting")
        with trio.move_on_after(0.5) as nothing_yet:
            await queued.receive_some()
        assert nothing_yet.cancelled_caught, "a third connection was served by two workers"
        await first.aclose()  # frees a worker, which takes the queued connection
        with trio.fail_after(3):
            assert await receive_exactly(queued, 7) == b"waiting"
        await second.aclose()
        await queued.aclose()


def test_prefork_runs_the_requested_workers_and_reaps_them() -> None:
    with open_server(
        BuiltIn("prefork", processes=3), Endpoint(Proto.TCP, "127.0.0.1", 0)
    ) as server:
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 3
        assert server.stop() == 0
    for worker in workers:
        assert not worker.is_running()


def test_prefork_defaults_to_one_worker_per_cpu() -> None:
    with open_server(BuiltIn("prefork"), Endpoint(Proto.UDP, "127.0.0.1", 0)) as server:
        assert len(psutil.Process(server.pid).children()) == os.cpu_count()


async def test_prefork_spreads_tcp_connections_over_workers() -> None:
    with open_server(
        BuiltIn("prefork", processes=2), Endpoint(Proto.TCP, "127.0.0.1", 0)
    ) as server:
        workers = psutil.Process(server.pid).children()
        streams = [await connect_stream(server.endpoint) for _ in range(40)]
        for stream in streams:
            await stream.send_all(b"x")
            assert await receive_exactly(stream, 1) == b"x"
        serving = [w for w in workers if w.net_connections(kind="tcp")]
        assert len(serving) == 2, "SO_REUSEPORT should hash 40 connections to both workers"
        for stream in streams:
            await stream.aclose()


def test_prefork_workers_die_with_their_parent() -> None:
    with open_server(
        BuiltIn("prefork", processes=2), Endpoint(Proto.TCP, "127.0.0.1", 0)
    ) as server:
        workers = psutil.Process(server.pid).children()
        os.kill(server.pid, signal.SIGKILL)
        _, alive = psutil.wait_procs(workers, timeout=3)
        assert alive == []


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no ::1 here")
@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UDP], ids=lambda p: p.value)
@pytest.mark.parametrize("model", model_params())
async def test_ipv6_loopback(model: str, proto: Proto, sock_dir: Path) -> None:
    with open_server(BuiltIn(model, processes=2), Endpoint(proto, "::1", 0)) as server:
        assert server.endpoint.host == "::1" and server.endpoint.family == socket.AF_INET6
        assert await run_echo_clients(server.endpoint, sock_dir, clients=10, messages=2) == []
        assert server.stop() == 0


@pytest.mark.parametrize("model", model_params())
def test_stop_is_prompt_with_connections_open(model: str) -> None:
    """Shutdown must not wait for clients to leave: every model closes their connections."""
    with open_server(BuiltIn(model, processes=2), Endpoint(Proto.TCP, "127.0.0.1", 0)) as server:
        address = ("127.0.0.1", server.endpoint.port)
        held = [socket.create_connection(address, timeout=2) for _ in range(5)]
        for conn in held:
            conn.sendall(b"x")
            assert conn.recv(1) == b"x"
        started = time.monotonic()
        assert server.stop() == 0, server.stderr_tail()
        assert time.monotonic() - started < 2.5
    for conn in held:
        assert conn.recv(1) == b""  # closed by the server
        conn.close()


def listen_queues(endpoint: Endpoint) -> list[int]:
    """The accept-queue sizes (ss's Send-Q) of every listening socket on ``endpoint``."""
    if endpoint.proto.is_unix:
        cmd = ["ss", "-Hlx", "src", endpoint.path]
    else:
        cmd = ["ss", "-Hltn", f"sport = :{endpoint.port}"]
    lines = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    return [int(line.split()[3 if endpoint.proto.is_unix else 2]) for line in lines if line.strip()]


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UNIX], ids=lambda p: p.value)
@pytest.mark.parametrize("model", model_params())
def test_listen_backlog_is_the_kernel_maximum(model: str, proto: Proto, sock_dir: Path) -> None:
    """No model may shrink the backlog (asyncio's create_server defaults to 100)."""
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    expected = min(BACKLOG, somaxconn)
    with open_server(BuiltIn(model, processes=2), bind_for(proto, sock_dir)) as server:
        queues = listen_queues(server.endpoint)
    # prefork: one listener per worker for TCP (the parent closed its own), one shared for Unix
    count = 2 if model == "prefork" and proto is Proto.TCP else 1
    assert queues == [expected] * count
