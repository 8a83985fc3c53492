"""The kernel's drop counts, on real sockets: each end's own count, read two ways."""

from __future__ import annotations

import socket

import pytest

from sockbench.engine.io.kernel_drops import receive_drops, target_drops

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
