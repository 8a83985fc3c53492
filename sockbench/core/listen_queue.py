"""The target's accept queue: its backlog, and the handshake packets it dropped (pure).

A TCP server's listening socket holds the connections the kernel has set up until the
server accepts them, up to its backlog (``listen()``'s argument, capped by
``net.core.somaxconn``). With that queue full, the kernel drops the handshake's SYN, or
its last ACK (and the data behind it), and counts a drop against the listening socket;
each is sent again after a timeout: a SYN 1 s later, then 2 s after that. A server past
its knee at accepting therefore shows as connects (or first replies) that take a second
or more, and no error anywhere. The drop count tells that apart from a slow server; it
counts packets, not connections: one connection may be dropped several times, and the
listener also discards (and counts) the retries of a handshake it holds while the queue
is full, so the count reads at or above the kernel's ``ListenDrops`` for the same socket.

The kernel keeps the count per listening socket (``sk_drops``, with the queue's length
and backlog) and gives it to a ``sock_diag`` dump over netlink (``INET_DIAG_SKMEMINFO``);
``/proc/net/tcp`` shows the queue but not the drops. This module builds the dump's
request and reads its reply, as bytes; :mod:`sockbench.engine.io.kernel_drops` sends it.

The trade-off, as for a UDP target (:mod:`sockbench.core.socket_drops`): the count is read
before the load and after it, so it is the run's, warm-up included, and costs nothing
while measuring; only a target in this machine's network namespace is seen (every target
a load may go to: loopback).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from sockbench.core.socket_drops import MEMINFO_DROPS, drops_between

# Linux's numbers (netlink is Linux's alone): no socket module in the pure core.
AF_INET, AF_INET6, IPPROTO_TCP = 2, 10, 6
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLMSG_ERROR = 2
NLMSG_DONE = 3
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_TCP_LISTEN = 10
_INET_DIAG_SKMEMINFO = 7

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
# inet_diag_req_v2: family, protocol, extensions wanted, pad, states; an empty socket id
# (a dump of every socket in those states: the port is matched here, not by a filter).
_REQUEST = struct.Struct("=BBBxI48x")
# inet_diag_msg: family, state, timer, retransmits; the socket id (ports big-endian,
# addresses, interface, cookie); expires, rqueue, wqueue, uid, inode.
_MESSAGE = struct.Struct("=BBBB2s2s16s16sI8sIIIII")
_ATTRIBUTE = struct.Struct("=HH")  # rtattr: length, type
_ERRNO = struct.Struct("=i")
_DROPS = struct.Struct(f"={MEMINFO_DROPS + 1}I")


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket, as the kernel's dump gave it."""

    family: int
    address: str
    port: int
    queued: int  # connections set up and waiting for accept() now
    backlog: int  # the most that may wait
    drops: int  # handshake packets dropped over the socket's life (its queue full)


@dataclass(frozen=True)
class AcceptQueue:
    """The listening sockets that take a target's connections: several with
    ``SO_REUSEPORT``, each with its own queue."""

    sockets: int
    backlog: int  # each socket's (the smallest, where they differ)
    drops: int  # summed


def dump_request(family: int, sequence: int = 1) -> bytes:
    """A netlink request for every listening TCP socket of ``family``, with its
    memory counters (which carry the drops)."""
    body = _REQUEST.pack(family, IPPROTO_TCP, 1 << (_INET_DIAG_SKMEMINFO - 1), 1 << _TCP_LISTEN)
    flags = _NLM_F_REQUEST | _NLM_F_DUMP
    return _HEADER.pack(_HEADER.size + len(body), SOCK_DIAG_BY_FAMILY, flags, sequence, 0) + body


def _align(n: int) -> int:
    return (n + 3) & ~3


def _drops(data: bytes, start: int, end: int) -> int | None:
    """The drop count among a message's attributes (``data[start:end]``)."""
    while start + _ATTRIBUTE.size <= end:
        length, kind = _ATTRIBUTE.unpack_from(data, start)
        if length < _ATTRIBUTE.size:
            return None
        if kind == _INET_DIAG_SKMEMINFO and length >= _ATTRIBUTE.size + _DROPS.size:
            return int(_DROPS.unpack_from(data, start + _ATTRIBUTE.size)[MEMINFO_DROPS])
        start += _align(length)
    return None


def _listener(data: bytes, start: int, end: int) -> Listener | None:
    if end - start < _MESSAGE.size:
        return None
    family, state, *_, sport, _dport, src, _dst, _if, _cookie, _exp, rq, wq, _uid, _ino = (
        _MESSAGE.unpack_from(data, start)
    )
    drops = _drops(data, start + _MESSAGE.size, end)
    if state != _TCP_LISTEN or drops is None or family not in (AF_INET, AF_INET6):
        return None
    address = ipaddress.ip_address(src[: 4 if family == AF_INET else 16])
    return Listener(family, str(address), int.from_bytes(sport, "big"), rq, wq, drops)


def parse_dump(data: bytes) -> tuple[list[Listener], bool]:
    """The listening sockets in one datagram of the dump's reply, and whether it was
    the last (``NLMSG_DONE``). ValueError: the kernel answered an error (its errno)."""
    found: list[Listener] = []
    at = 0
    while at + _HEADER.size <= len(data):
        length, kind, _flags, _seq, _pid = _HEADER.unpack_from(data, at)
        if length < _HEADER.size or at + length > len(data):
            raise ValueError("a truncated netlink message")
        if kind == NLMSG_DONE:
            return found, True
        if kind == NLMSG_ERROR:
            (errno,) = _ERRNO.unpack_from(data, at + _HEADER.size)
            raise ValueError(f"sock_diag answered errno {-errno}")
        if kind == SOCK_DIAG_BY_FAMILY:
            listener = _listener(data, at + _HEADER.size, at + length)
            if listener is not None:
                found.append(listener)
        at += _align(length)
    return found, False


def _serves(listener: Listener, host: str, port: int) -> bool:
    """Whether connections to ``host:port`` may land on ``listener``: its own address,
    or every address of its family (an IPv6 one takes IPv4 too, unless v6-only)."""
    if listener.port != port:
        return False
    target = ipaddress.ip_address(host)
    address = ipaddress.ip_address(listener.address)
    if address.version == target.version:
        return address == target or address.is_unspecified
    if isinstance(address, ipaddress.IPv6Address) and target.version == 4:
        return address.is_unspecified or address.ipv4_mapped == target
    return False


def accept_queue(listeners: Iterable[Listener], host: str, port: int) -> AcceptQueue | None:
    """The queue(s) that take connections to ``host:port``; None when no listening socket
    does (the target is not on this machine, or not listening). Those of the target's own
    family come first: the kernel prefers them to a dual-stack IPv6 socket."""
    serving = [each for each in listeners if _serves(each, host, port)]
    family = AF_INET6 if ipaddress.ip_address(host).version == 6 else AF_INET
    own = [each for each in serving if each.family == family]
    chosen = own or serving
    if not chosen:
        return None
    return AcceptQueue(
        sockets=len(chosen),
        backlog=min(each.backlog for each in chosen),
        drops=sum(each.drops for each in chosen),
    )


def run_section(before: AcceptQueue | None, after: AcceptQueue | None) -> dict[str, int] | None:
    """The result's ``accept_queue``: the backlog, and the drops of the run (absent when
    not known both times, or the count went down: the server was replaced); None when
    the target's listening socket was never seen."""
    seen = after or before
    if seen is None:
        return None
    section = {"backlog": seen.backlog, "sockets": seen.sockets}
    drops = drops_between(
        None if before is None else before.drops, None if after is None else after.drops
    )
    if drops is not None:
        section["drops"] = drops
    return section
