"""The kernel's drop counts, on real sockets: each end's own count, read two ways."""

from __future__ import annotations

import socket
import time

import pytest

from sockbench.engine.io.kernel_drops import accept_queue, receive_drops, target_drops

pytestmark = pytest.mark.e2e  # real sockets

ROOM = 4096  # SO_RCVBUF: the kernel doubles it and keeps a few small datagrams


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_full_socket_counts_what_it_dropped(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with (
        socket.socket(family, socket.SOCK_DGRAM) as server,
        socket.socket(family, socket.SOCK_DGRAM) as client,
    ):
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, ROOM)
        server.bind((host, 0))
        port = server.getsockname()[1]
        assert receive_drops(server) == 0 and target_drops(host, port) == 0
        client.connect((host, port))
        for _ in range(500):
            client.send(bytes(64))
        server.setblocking(False)
        kept = 0
        while True:
            try:
                server.recv(64)
            except BlockingIOError:
                break
            kept += 1
        assert 0 < kept < 500
        # Loopback delivers at the send: what did not fit was dropped, and counted.
        assert receive_drops(server) == 500 - kept
        assert target_drops(host, port) == 500 - kept  # the same count, from /proc/net
        assert receive_drops(client) == 0


def test_a_socket_not_on_this_machine_is_not_known() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert target_drops("127.0.0.1", port) is None  # closed: no longer listed
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.close()
    assert receive_drops(closed) == 0


@pytest.mark.parametrize(
    ("listen_on", "target"),
    [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("::", "127.0.0.1")],  # the last: dual-stack
)
def test_a_full_accept_queue_counts_what_it_dropped(listen_on: str, target: str) -> None:
    """Connects past a backlog nobody accepts: the dump's count is the listening
    socket's own (SO_MEMINFO), and the connections are all accounted for."""
    family = socket.AF_INET6 if ":" in listen_on else socket.AF_INET
    target_family = socket.AF_INET6 if ":" in target else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        if family == socket.AF_INET6:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind((listen_on, 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        queue = accept_queue(target, port)
        assert queue is not None and (queue.backlog, queue.sockets, queue.drops) == (1, 1, 0)
        clients = [socket.socket(target_family, socket.SOCK_STREAM) for _ in range(6)]
        try:
            for client in clients:
                client.setblocking(False)
                client.connect_ex((target, port))
            deadline = time.monotonic() + 5
            while not receive_drops(listener) and time.monotonic() < deadline:
                time.sleep(0.001)
            queue = accept_queue(target, port)
            assert queue is not None and queue.drops == receive_drops(listener) > 0
        finally:
            for client in clients:
                client.close()
    assert accept_queue(target, port) is None  # closed: no longer listed
