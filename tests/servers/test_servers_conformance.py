"""Every available server model × every transport, against real server processes on loopback."""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from pathlib import Path

import pytest
import trio
from servers_support import (
    DATAGRAM_WAIT_S,
    bind_for,
    connect_stream,
    datagram_socket,
    fd_count,
    message,
    model_params,
    run_echo_clients,
    settles_to,
    thread_count,
)

from sockbench.core.kinds import ServerBehaviour
from sockbench.core.sink_report import (
    REPORT_REQUEST,
    SOURCE_BYTE,
    decode_report,
    decode_source_report,
    encode_source_request,
    split_source_tail,
)
from sockbench.core.spec.server import BuiltIn
from sockbench.endpoints import Endpoint, Proto
from sockbench.servers.launcher import ServerProcess, open_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

PROCESSES = 2  # prefork workers: one per core of the test machine


@pytest.fixture(params=model_params())
def model(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(params=list(Proto), ids=[p.value for p in Proto])
def proto(request: pytest.FixtureRequest) -> Proto:
    chosen: Proto = request.param
    return chosen


def abort(stream: trio.SocketStream) -> None:
    """Close without a goodbye: RST for TCP (SO_LINGER 0)."""
    if stream.socket.family != socket.AF_UNIX:
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


def stop_cleanly(server: ServerProcess, bind: Endpoint) -> None:
    started = time.monotonic()
    assert server.stop() == 0, server.stderr_tail()
    assert time.monotonic() - started < 3.0
    if bind.proto.is_unix:
        assert not os.path.exists(bind.path), "the server left its socket file behind"


async def test_echo_200_concurrent_clients(model: str, proto: Proto, sock_dir: Path) -> None:
    with open_server(BuiltIn(model, processes=PROCESSES), bind_for(proto, sock_dir)) as server:
        errors = await run_echo_clients(server.endpoint, sock_dir, clients=200, messages=3)
        assert errors == []
        assert server.returncode() is None, server.stderr_tail()


async def test_no_leaks_and_clean_sigterm(model: str, proto: Proto, sock_dir: Path) -> None:
    bind = bind_for(proto, sock_dir)
    with open_server(BuiltIn(model, processes=PROCESSES), bind) as server:
        # Warm up first (loops and pools allocate on first use), and let the server
        # finish closing the warm-up connections before taking the baseline.
        initial = fd_count(server.pid)
        assert await run_echo_clients(server.endpoint, sock_dir, clients=5, messages=1) == []
        base_fds = settles_to(lambda: fd_count(server.pid), initial, timeout=2.0)
        base_threads = thread_count(server.pid)

        assert await run_echo_clients(server.endpoint, sock_dir, clients=200, messages=1) == []

        assert settles_to(lambda: fd_count(server.pid), base_fds) == base_fds
        if model != "threadpool":  # the pool keeps its workers, by design
            # At most: a warm-up connection's thread may still have been exiting when the
            # baseline was read (thread per connection), so fewer is no leak.
            threads = settles_to(lambda: thread_count(server.pid), base_threads, at_most=True)
            assert threads <= base_threads
        stop_cleanly(server, bind)


async def test_survives_misbehaving_clients(model: str, proto: Proto, sock_dir: Path) -> None:
    with open_server(BuiltIn(model, processes=PROCESSES), bind_for(proto, sock_dir)) as server:
        endpoint = server.endpoint
        if proto.is_stream:
            idle = await connect_stream(endpoint)  # connects, never sends
            half = await connect_stream(endpoint)
            await half.send_all(message(1, 0)[:10])  # half a message, then gone
            abort(half)
            flood = await connect_stream(endpoint)  # sends a lot, never reads
            with trio.move_on_after(0.3):
                await flood.send_all(b"x" * 1_000_000)
            abort(flood)
            errors = await run_echo_clients(endpoint, sock_dir, clients=3, messages=3)
            await idle.aclose()
        else:
            await misbehave_with_datagrams(endpoint, sock_dir)
            errors = await run_echo_clients(endpoint, sock_dir, clients=3, messages=3)
        assert errors == []
        assert server.returncode() is None, server.stderr_tail()


@pytest.mark.parametrize("proto", [Proto.TCP, Proto.UNIX], ids=lambda p: p.value)
async def test_a_lagging_reader_gets_exactly_its_bytes(
    model: str, proto: Proto, sock_dir: Path
) -> None:
    """Replies that wait for a client that reads late come back intact, in order.

    The server holds them while it serves others: a model that reuses a read
    buffer must not let those reads overwrite what it still has to send.
    """
    data = bytes(i * 7 % 251 for i in range(2_000_000))
    others_done = trio.Event()
    with open_server(BuiltIn(model, processes=PROCESSES), bind_for(proto, sock_dir)) as server:
        lagging = await connect_stream(server.endpoint)
        got = bytearray()

        async def read_after_others() -> None:
            await others_done.wait()
            while len(got) < len(data):
                chunk = await lagging.receive_some(65536)
                assert chunk, "the server closed the lagging connection"
                got.extend(chunk)

        with trio.fail_after(30):
            async with lagging, trio.open_nursery() as nursery:
                nursery.start_soon(lagging.send_all, data)
                nursery.start_soon(read_after_others)
                errors = await run_echo_clients(server.endpoint, sock_dir, clients=20, messages=3)
                others_done.set()
        assert errors == []
        assert got == data


async def misbehave_with_datagrams(endpoint: Endpoint, sock_dir: Path) -> None:
    # An empty datagram is a valid datagram.
    with await datagram_socket(endpoint, sock_dir, 900) as sock:
        await sock.sendto(b"", endpoint.sockaddr)
    # Gone before the reply: the server's sendto fails (ECONNREFUSED/ENOENT for Unix).
    with await datagram_socket(endpoint, sock_dir, 901) as sock:
        await sock.sendto(b"vanishing", endpoint.sockaddr)
    # Sends many and never reads: its queue fills, replies to it must be dropped,
    # not block the server.
    with await datagram_socket(endpoint, sock_dir, 902) as sock:
        for _ in range(50):
            with trio.move_on_after(0.2):
                await sock.sendto(b"never read", endpoint.sockaddr)
        if endpoint.proto is Proto.UNIX_DGRAM:
            # An unbound sender has no address to reply to.
            with trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as anonymous:
                await anonymous.sendto(b"who am i", endpoint.sockaddr)
        await trio.sleep(0.2)
    for leftover in sock_dir.glob("c9*.sock"):
        leftover.unlink()


async def test_sink_mode(model: str, proto: Proto, sock_dir: Path) -> None:
    # prefork workers share one unix-dgram socket, so one sender's datagrams
    # spread over workers: exact per-sender counts need a single worker.
    processes = 1 if model == "prefork" and proto is Proto.UNIX_DGRAM else PROCESSES
    with open_server(
        BuiltIn(model, behaviour=ServerBehaviour.SINK, processes=processes),
        bind_for(proto, sock_dir),
    ) as server:
        endpoint = server.endpoint
        if proto.is_stream:
            async with await connect_stream(endpoint) as stream:
                await stream.send_all(b"y" * 200_000)
                await stream.send_eof()  # asks for the count: every byte was read by now
                reply = b""
                with trio.fail_after(5):
                    while chunk := await stream.receive_some():
                        reply += chunk
                # Only the report comes back, then the sink closes.
                report = decode_report(reply)
                assert report is not None, reply
                reads, nbytes = report
                assert nbytes == 200_000 and 1 <= reads <= 200_000
        else:
            with await datagram_socket(endpoint, sock_dir, 0) as sock:
                sizes = [1 + 37 * i for i in range(25)]
                for size in sizes:
                    await sock.sendto(b"z" * size, endpoint.sockaddr)
                with trio.fail_after(5):
                    await sock.sendto(REPORT_REQUEST, endpoint.sockaddr)
                    reply, _ = await sock.recvfrom(1024)
                assert decode_report(reply) == (len(sizes), sum(sizes))
                with trio.fail_after(5):  # the report reset that sender's counters
                    await sock.sendto(REPORT_REQUEST, endpoint.sockaddr)
                    reply, _ = await sock.recvfrom(1024)
                assert decode_report(reply) == (0, 0)
        assert server.returncode() is None, server.stderr_tail()


async def test_source_mode(model: str, proto: Proto, sock_dir: Path) -> None:
    """A source sends until the half-close and reports what it sent and read: the client's
    count of stream bytes is the report's, exactly; a datagram flow is paced as asked."""
    processes = 1 if model == "prefork" and proto is Proto.UNIX_DGRAM else PROCESSES
    with open_server(
        BuiltIn(model, behaviour=ServerBehaviour.SOURCE, processes=processes),
        bind_for(proto, sock_dir),
    ) as server:
        endpoint = server.endpoint
        if proto.is_stream:
            async with await connect_stream(endpoint) as stream:
                await stream.send_all(b"y" * 100_000)  # both ways on one connection
                got = b""
                with trio.fail_after(5):
                    while len(got) < 1_000_000:
                        got += await stream.receive_some()
                    await stream.send_eof()
                    while chunk := await stream.receive_some():
                        got += chunk
                streamed, report = split_source_tail(got)
                assert report is not None, got[-100:]
                reads, nbytes, sent = report
                assert sent == streamed and set(got[:streamed]) == {ord(SOURCE_BYTE)}
                assert nbytes == 100_000 and 1 <= reads <= 100_000
        else:
            with await datagram_socket(endpoint, sock_dir, 0) as sock:
                await sock.sendto(encode_source_request(200, 100, 0.1), endpoint.sockaddr)
                received = 0
                with trio.fail_after(5):
                    while received < 20:
                        # The flow lasts 0.1 s: a quiet second means it ended short (below)
                        with trio.move_on_after(DATAGRAM_WAIT_S) as quiet:
                            data, _ = await sock.recvfrom(1024)
                        if quiet.cancelled_caught:
                            break
                        assert data == SOURCE_BYTE * 100
                        received += 1
                    await sock.sendto(b"z" * 7, endpoint.sockaddr)
                    await sock.sendto(REPORT_REQUEST, endpoint.sockaddr)
                    while (reply := (await sock.recvfrom(1024))[0]) == SOURCE_BYTE * 100:
                        received += 1
                # The report ends the flow first: its count holds every datagram sent, and
                # here every one sent arrives. A unix-dgram queue holds max_dgram_qlen
                # datagrams (10 by default), and the source drops what the kernel refuses,
                # so a client starved for 50 ms (a loaded CI) reads 10 to 19 of the 20.
                assert decode_source_report(reply) == (1, 7, received * 100)
                assert received >= (10 if proto is Proto.UNIX_DGRAM else 20)
        assert server.returncode() is None, server.stderr_tail()


@pytest.mark.parametrize("proto", [Proto.UNIX], ids=["unix"])
def test_sigint_stops_cleanly(model: str, proto: Proto, sock_dir: Path) -> None:
    bind = bind_for(proto, sock_dir)
    with open_server(BuiltIn(model, processes=PROCESSES), bind) as server:
        os.kill(server.pid, signal.SIGINT)
        deadline = time.monotonic() + 3.0
        while server.returncode() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.returncode() == 0, server.stderr_tail()
        assert not os.path.exists(bind.path)
