"""The kernel's counts of datagrams dropped at a full socket buffer (I/O: a getsockopt,
a ``/proc`` read); what they mean is :mod:`sockbench.core.socket_drops`."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

from sockbench.core.socket_drops import MEMINFO_DROPS, listener_drops, proc_table

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
