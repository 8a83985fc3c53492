"""Test clients and probes for the server-model tests (loopback and Unix paths only)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import trio

from sockbench.endpoints import Endpoint, Proto
from sockbench.servers.registry import MODELS, unavailable_reason

CLIENT_DEADLINE_S = 30.0
DATAGRAM_TRIES = 5
DATAGRAM_WAIT_S = 1.0


def model_params() -> list[object]:
    """Every registered model; the unavailable ones (uvloop not installed) skip with the reason."""
    import pytest

    params: list[object] = []
    for name, info in MODELS.items():
        reason = unavailable_reason(info)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def bind_for(proto: Proto, directory: Path, name: str = "server.sock") -> Endpoint:
    if proto.is_unix:
        return Endpoint(proto, path=str(directory / name))
    return Endpoint(proto, "127.0.0.1", 0)


def message(client: int, index: int) -> bytes:
    """Distinct content per client and message; one larger message exercises partial sends."""
    head = f"client {client} message {index}|".encode()
    size = 20_000 if index == 1 else 1 + (client * 7 + index * 13) % 300
    body = bytes((client + index + k) % 251 for k in range(size))
    return head + body


async def connect_stream(endpoint: Endpoint) -> trio.SocketStream:
    sock = trio.socket.socket(endpoint.family, socket.SOCK_STREAM)
    try:
        await sock.connect(endpoint.sockaddr)
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)


async def receive_exactly(stream: trio.SocketStream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = await stream.receive_some(size - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


async def stream_client(endpoint: Endpoint, client: int, messages: int, errors: list[str]) -> None:
    async with await connect_stream(endpoint) as stream:
        for index in range(messages):
            sent = message(client, index)
            await stream.send_all(sent)
            got = await receive_exactly(stream, len(sent))
            if got != sent:
                errors.append(f"client {client} message {index}: {len(got)} bytes differ")
                return


async def datagram_socket(
    endpoint: Endpoint, directory: Path, client: int
) -> trio.socket.SocketType:
    sock = trio.socket.socket(endpoint.family, socket.SOCK_DGRAM)
    if endpoint.proto is Proto.UNIX_DGRAM:
        await sock.bind(str(directory / f"c{client}.sock"))
    return sock


async def datagram_exchange(
    sock: trio.socket.SocketType, endpoint: Endpoint, sent: bytes
) -> bytes | None:
    """Send and wait for the reply equal to ``sent``, resending on loss (datagrams may drop)."""
    for _ in range(DATAGRAM_TRIES):
        await sock.sendto(sent, endpoint.sockaddr)
        with trio.move_on_after(DATAGRAM_WAIT_S):
            while True:
                got, _ = await sock.recvfrom(65536)
                if got == sent:
                    return got
                # else: a late reply to an earlier try of another message: keep waiting
    return None


async def datagram_client(
    endpoint: Endpoint, directory: Path, client: int, messages: int, errors: list[str]
) -> None:
    with await datagram_socket(endpoint, directory, client) as sock:
        for index in range(messages):
            sent = message(client, index)[:8000]
            if await datagram_exchange(sock, endpoint, sent) is None:
                errors.append(f"client {client} message {index}: no correct echo")
                return


async def run_echo_clients(
    endpoint: Endpoint, directory: Path, clients: int = 200, messages: int = 3
) -> list[str]:
    """Run ``clients`` concurrent clients; return the errors (empty when every echo was exact)."""
    errors: list[str] = []

    async def one(client: int) -> None:
        try:
            if endpoint.proto.is_stream:
                await stream_client(endpoint, client, messages, errors)
            else:
                await datagram_client(endpoint, directory, client, messages, errors)
        except OSError as exc:
            errors.append(f"client {client}: {exc!r}")

    with trio.fail_after(CLIENT_DEADLINE_S):
        async with trio.open_nursery() as nursery:
            for client in range(clients):
                nursery.start_soon(one, client)
    for leftover in directory.glob("c*.sock"):
        leftover.unlink()
    return errors


def process_tree(pid: int) -> list[psutil.Process]:
    proc = psutil.Process(pid)
    return [proc, *proc.children(recursive=True)]


def fd_count(pid: int) -> int:
    """Open fds of the server and every worker process it forked."""
    return sum(len(os.listdir(f"/proc/{p.pid}/fd")) for p in process_tree(pid))


def thread_count(pid: int) -> int:
    return sum(p.num_threads() for p in process_tree(pid))


def settles_to(
    probe: Callable[[], int], target: int, timeout: float = 5.0, *, at_most: bool = False
) -> int:
    """Poll ``probe`` until it returns ``target`` (``at_most``: ``target`` or less) or
    ``timeout`` passes; return the last value."""
    deadline = time.monotonic() + timeout
    value = probe()
    while (value > target if at_most else value != target) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = probe()
    return value
