"""The kernel's counts of what it dropped for want of room (I/O: a getsockopt, a ``/proc``
read, a netlink dump): datagrams at a full socket buffer (what they mean is
:mod:`sockbench.core.socket_drops`), connections at a full accept queue
(:mod:`sockbench.core.listen_queue`)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from sockbench.core import listen_queue
from sockbench.core.listen_queue import (
    AF_INET,
    AF_INET6,
    NETLINK_SOCK_DIAG,
    AcceptQueue,
    Listener,
    dump_request,
    parse_dump,
)
from sockbench.core.socket_drops import MEMINFO_DROPS, listener_drops, proc_table
from sockbench.endpoints import Endpoint, Proto

SO_MEMINFO = getattr(socket, "SO_MEMINFO", 55)  # Linux; the constant is not in Python's
_MEMINFO = struct.Struct(f"{MEMINFO_DROPS + 1}I")
PROC_NET = Path("/proc/net")


def receive_drops(sock: socket.socket) -> int:
    """What the kernel dropped at ``sock`` for want of room, over its life (0 where the
    kernel does not say: not Linux, a closed socket, a Unix datagram socket's sender is
    made to wait instead)."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, _MEMINFO.size)
    except OSError:
        return 0
    if len(raw) < _MEMINFO.size:
        return 0
    return int(_MEMINFO.unpack_from(raw)[MEMINFO_DROPS])


def target_drops(host: str, port: int) -> int | None:
    """The drops at a UDP target's socket on this machine (None: not found, or no
    ``/proc``)."""
    try:
        table = (PROC_NET / proc_table(host)).read_text()
    except (OSError, ValueError):
        return None
    return listener_drops(table, host, port)


@dataclass(frozen=True)
class TargetCounts:
    """What the kernel counts at a target's socket on this machine, read at one moment
    (the runner reads it before the run and after): a UDP target's datagram drops, a TCP
    target's accept queue; None where not known (another protocol, not on this machine)."""

    datagram_drops: int | None = None
    accept_queue: AcceptQueue | None = None


def target_counts(endpoint: Endpoint) -> TargetCounts:
    """The kernel's counts at ``endpoint``'s socket now."""
    if endpoint.proto is Proto.UDP:
        return TargetCounts(datagram_drops=target_drops(endpoint.host, endpoint.port))
    if endpoint.proto is Proto.TCP:
        return TargetCounts(accept_queue=accept_queue(endpoint.host, endpoint.port))
    return TargetCounts()


# A dump's reply comes in datagrams of a page or so; a machine with this many of them
# full of listening sockets is not one a load test runs on.
_DUMP_READS = 256


def accept_queue(host: str, port: int) -> AcceptQueue | None:
    """The accept queue of a TCP target on this machine: its backlog and its drops over
    the sockets' lives (None: no socket listens there, or the kernel would not say)."""
    listeners: list[Listener] = []
    for family in (AF_INET, AF_INET6):
        found = _listening(family)
        if found is None:
            return None
        listeners += found
    return listen_queue.accept_queue(listeners, host, port)


def _listening(family: int) -> list[Listener] | None:
    """Every listening TCP socket of ``family``, from one sock_diag dump (bounded: a
    second at most, and ``_DUMP_READS`` datagrams)."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as link:
            link.settimeout(1.0)
            link.send(dump_request(family))
            found: list[Listener] = []
            for _ in range(_DUMP_READS):
                listeners, done = parse_dump(link.recv(65536))
                found += listeners
                if done:
                    return found
    except (OSError, ValueError, AttributeError):  # AttributeError: no AF_NETLINK (not Linux)
        return None
    return None
