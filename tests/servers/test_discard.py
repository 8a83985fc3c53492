"""The sink's discard path, on a real socket pair: splice, and the read it falls back to."""

from __future__ import annotations

import socket

import pytest

from sockbench.core.sink_report import decode_report
from sockbench.servers.discard import DISCARD_READ, Discarder, discard_blocking

pytestmark = pytest.mark.e2e  # real sockets: `make unit` skips it


@pytest.mark.parametrize("splice", [True, False], ids=["splice", "read"])
@pytest.mark.parametrize("family", [socket.AF_UNIX, socket.AF_INET])
def test_discard_counts_every_byte_until_eof(splice: bool, family: int) -> None:
    a, b = _pair(family)
    discarder = Discarder()
    if not splice:
        discarder.close()  # what a machine without os.splice gets
    sent = b"x" * (3 * DISCARD_READ + 123)
    with a, b:
        a.sendall(sent)
        a.shutdown(socket.SHUT_WR)
        total = 0
        while n := discarder.discard(b.fileno()):
            assert n <= DISCARD_READ
            total += n
    discarder.close()
    assert total == len(sent)


def test_discard_raises_blocking_on_an_empty_non_blocking_socket() -> None:
    a, b = socket.socketpair()
    discarder = Discarder()
    with a, b:
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            discarder.discard(b.fileno())
    discarder.close()


def test_discard_blocking_answers_the_half_close_with_the_count() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"y" * 100_000)
        a.shutdown(socket.SHUT_WR)
        discard_blocking(b)
        report = decode_report(a.recv(1024))
    assert report is not None and report[1] == 100_000 and report[0] >= 1


def _pair(family: int) -> tuple[socket.socket, socket.socket]:
    if family == socket.AF_UNIX:
        return socket.socketpair()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        a = socket.create_connection(listener.getsockname())
        b, _ = listener.accept()
    return a, b
