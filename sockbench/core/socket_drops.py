"""Where datagrams were dropped: the kernel's count at each end's socket (pure).

A UDP datagram that finds its receiver's socket buffer full is dropped by the kernel and
counted against that socket. The ledger (:mod:`sockbench.core.datagrams`) sees only that
no reply came, so past the knee its ``lost`` mixes three places: the target's socket
(the target reads slower than it is sent to), the generator's own sockets (the replies
came faster than it read them: the loss is the generator's) and the rest (the target
read a request and sent nothing in time). The kernel's counts tell the first two apart.

The trade-off: each end's count covers its socket's whole life, not the window. The
generator's sockets are read once, as each closes (``SO_MEMINFO``: a syscall per
socket, none while measuring), so their count takes in the warm-up and the drain; a
count at the window's start would stall it by a syscall per client. The target's
socket is read from ``/proc/net/udp`` before the load and after it, so its count is the
run's; only a target in this machine's network namespace is there, and only its
unconnected sockets on the target's port are counted (a server that connects a socket
per peer is missed: the count is then a floor).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

#: ``SO_MEMINFO``'s array: the index of ``SK_MEMINFO_DROPS`` (Linux 4.12 and later).
MEMINFO_DROPS = 8
#: ``/proc/net/udp``: the columns after the slot number (``sl``).
_LOCAL, _REMOTE = 1, 2


def proc_table(host: str) -> str:
    """The ``/proc/net`` table that lists a socket bound to ``host``: udp or udp6."""
    return "udp6" if ipaddress.ip_address(host).version == 6 else "udp"


def proc_address(host: str) -> str:
    """``host`` as ``/proc/net/udp`` writes it: each 32-bit word of the address in
    hexadecimal, in the kernel's (little-endian) byte order."""
    packed = ipaddress.ip_address(host).packed
    words = (packed[i : i + 4] for i in range(0, len(packed), 4))
    return "".join(f"{int.from_bytes(word, 'little'):08X}" for word in words)


def listener_drops(table: str, host: str, port: int) -> int | None:
    """Drops counted at the unconnected sockets bound to ``port`` on ``host`` or on
    every address, summed over the lines of ``table`` (a ``/proc/net/udp`` text); None
    when no such socket is listed (the target is not in this namespace, or gone)."""
    address = proc_address(host)
    wanted = {address, "0" * len(address)}
    suffix = f":{port:04X}"
    found = None
    for line in table.splitlines()[1:]:
        cols = line.split()
        if len(cols) <= _REMOTE + 1 or not cols[_LOCAL].endswith(suffix):
            continue
        if cols[_LOCAL][: -len(suffix)] in wanted and cols[_REMOTE].endswith(":0000"):
            found = (found or 0) + int(cols[-1])
    return found


def drops_between(before: int | None, after: int | None) -> int | None:
    """The drops of a run from the counts before and after it; None when either is
    unknown, or the count went down (the socket was replaced: a server restarted)."""
    if before is None or after is None or after < before:
        return None
    return after - before


def generator_drops(doc: Mapping[str, Any]) -> int:
    """What the kernel dropped at the generator's own sockets in a result: replies to its
    datagrams, and a ``--reverse`` UDP flow's datagrams (0: none, or not counted)."""
    reverse = (doc.get("stream") or {}).get("reverse") or {}
    echo = (doc.get("datagrams") or {}).get("generator_drops") or 0
    return int(echo) + int(reverse.get("generator_drops") or 0)


def loss_advice(datagrams: Mapping[str, Any]) -> str:
    """What to do about lost datagrams, from where the kernel dropped them (a result's
    ``datagrams``): the generator's sockets, the target's, or neither."""
    generator, target = datagrams.get("generator_drops") or 0, datagrams.get("target_drops")
    if generator:
        return (
            f"the generator's own sockets dropped {generator:,} replies, their buffers full: "
            "add --workers (and --client-cpus), lower --rate, or give its sockets room for "
            "bursts (--socket-buffer)"
        )
    if target:
        return (
            f"the target's socket dropped {target:,} datagrams over the run, its receive "
            "buffer full (it read slower than it was sent to): lower --rate, or give the "
            "target more room (net.core.rmem_default) or more readers"
        )
    if target == 0:
        return (
            "neither the target's socket nor the generator's dropped any: the target read "
            "them and did not answer within --timeout (or its replies were dropped on the "
            "way): check the target"
        )
    return (
        "lost datagrams were dropped by the target or a socket buffer: lower --rate, or "
        "check the target"
    )
