"""The accept queue's dump, as bytes: the request built, the reply read, the target's
listening sockets chosen, and the run's drops (pure; the real kernel is in
tests/engine/test_kernel_drops.py)."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from sockbench.core.listen_queue import (
    AF_INET,
    AF_INET6,
    NLMSG_DONE,
    NLMSG_ERROR,
    SOCK_DIAG_BY_FAMILY,
    AcceptQueue,
    Listener,
    accept_queue,
    dump_request,
    parse_dump,
    run_section,
)

LISTEN, ESTABLISHED = 10, 1


def _header(kind: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, 2, 1, 0) + body


def _socket(
    family: int, address: str, port: int, queued: int, backlog: int, drops: int | None,
    state: int = LISTEN,
) -> bytes:  # fmt: skip
    """One inet_diag_msg as the kernel writes it, its memory counters attached."""
    packed = ipaddress.ip_address(address).packed.ljust(16, b"\0")
    body = struct.pack(
        "=BBBB2s2s16s16sI8sIIIII", family, state, 0, 0, port.to_bytes(2, "big"), b"\0\0",
        packed, bytes(16), 0, bytes(8), 0, queued, backlog, 0, 1234,
    )  # fmt: skip
    body += struct.pack("=HH", 8, 99) + bytes(4)  # an attribute of another kind first
    if drops is not None:
        meminfo = struct.pack("=9I", *([7] * 8), drops)
        body += struct.pack("=HH", 4 + len(meminfo), 7) + meminfo
    return _header(SOCK_DIAG_BY_FAMILY, body)


DONE = _header(NLMSG_DONE, struct.pack("=i", 0))


def test_the_request_asks_for_every_listening_tcp_socket_with_its_counters() -> None:
    request = dump_request(AF_INET6, sequence=7)
    length, kind, flags, sequence, pid = struct.unpack_from("=IHHII", request)
    assert (length, kind, flags, sequence, pid) == (len(request), SOCK_DIAG_BY_FAMILY, 0x301, 7, 0)
    family, protocol, extensions, states = struct.unpack_from("=BBBxI", request, 16)
    assert (family, protocol, extensions, states) == (AF_INET6, 6, 1 << 6, 1 << LISTEN)
    assert len(request) == 16 + 56 and request[24:] == bytes(48)  # an empty socket id: all


def test_a_reply_of_several_messages_reads_each_listener() -> None:
    data = (
        _socket(AF_INET, "127.0.0.1", 8080, 2, 8, 13)
        + _socket(AF_INET6, "::", 443, 0, 4096, 0)
        + _socket(AF_INET, "127.0.0.1", 9, 0, 0, 1, state=ESTABLISHED)  # not listening
        + _socket(AF_INET, "127.0.0.1", 10, 0, 5, None)  # no counters: skipped
    )
    assert parse_dump(data) == (
        [
            Listener(AF_INET, "127.0.0.1", 8080, 2, 8, 13),
            Listener(AF_INET6, "::", 443, 0, 4096, 0),
        ],
        False,
    )
    assert parse_dump(data + DONE)[1] is True
    assert parse_dump(DONE) == ([], True)


def test_an_error_or_a_cut_message_is_not_read_as_no_listener() -> None:
    with pytest.raises(ValueError, match="errno 1"):
        parse_dump(_header(NLMSG_ERROR, struct.pack("=i", -1)))
    whole = _socket(AF_INET, "127.0.0.1", 8080, 0, 8, 0)
    with pytest.raises(ValueError, match="truncated"):
        parse_dump(whole[:-4])


def _listener(address: str, port: int = 80, backlog: int = 8, drops: int = 0) -> Listener:
    family = AF_INET6 if ":" in address else AF_INET
    return Listener(family, address, port, 0, backlog, drops)


@pytest.mark.parametrize(
    ("listeners", "host", "expected"),
    [
        ([_listener("127.0.0.1", drops=3)], "127.0.0.1", AcceptQueue(1, 8, 3)),
        ([_listener("0.0.0.0", drops=3)], "127.0.0.1", AcceptQueue(1, 8, 3)),
        ([_listener("127.0.0.2")], "127.0.0.1", None),  # another address
        ([_listener("127.0.0.1", port=81)], "127.0.0.1", None),  # another port
        ([_listener("::", drops=2)], "127.0.0.1", AcceptQueue(1, 8, 2)),  # dual-stack
        ([_listener("::ffff:127.0.0.1", drops=2)], "127.0.0.1", AcceptQueue(1, 8, 2)),
        ([_listener("::1", drops=2)], "::1", AcceptQueue(1, 8, 2)),
        ([_listener("0.0.0.0")], "::1", None),  # IPv4 takes no IPv6
        # The target's own family is preferred to a dual-stack socket, as the kernel does.
        ([_listener("::", drops=9), _listener("0.0.0.0", drops=1)], "127.0.0.1",
         AcceptQueue(1, 8, 1)),
        # SO_REUSEPORT: each socket its own queue; the drops add up.
        ([_listener("127.0.0.1", backlog=8, drops=1), _listener("127.0.0.1", backlog=16, drops=2)],
         "127.0.0.1", AcceptQueue(2, 8, 3)),
    ],
)  # fmt: skip
def test_the_target_s_queue_is_the_sockets_that_take_its_connections(
    listeners: list[Listener], host: str, expected: AcceptQueue | None
) -> None:
    assert accept_queue(listeners, host, 80) == expected


def test_the_run_s_drops_are_the_difference() -> None:
    before, after = AcceptQueue(1, 8, 5), AcceptQueue(1, 8, 12)
    assert run_section(before, after) == {"backlog": 8, "sockets": 1, "drops": 7}
    # A count that went down: the socket was replaced (a server restarted): not known.
    assert run_section(after, before) == {"backlog": 8, "sockets": 1}
    assert run_section(before, None) == {"backlog": 8, "sockets": 1}  # gone by the end
    assert run_section(None, after) == {"backlog": 8, "sockets": 1}
    assert run_section(None, None) is None  # never seen: not on this machine
