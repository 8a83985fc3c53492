"""Which process serves a target: the owner of its listening (or bound) socket, read from
the kernel's socket tables.

Load goes only to loopback or to Unix socket paths, so a target's server always runs on
this machine, and where this user may see its sockets (its own processes; every one as
root), a run can sample that server's CPU as it samples a server it started. Whether the
server was the limit (a core's worth of CPU while the rate stalled) is then in the result
for any target, not only the built-in models and ``--server-cmd``.

The trade-off: the tables list a socket once, under one of the processes that hold it (a
prefork server's master and workers share theirs), so from that one the parents are
climbed for as long as each holds the socket too, and the last is sampled with its
descendants (the master with its workers). Workers that each listen on a socket of their
own (``SO_REUSEPORT``) are found through their one parent. A socket counts where it is
bound to the target's address or to a wildcard one. A target served inside this process
or one of its ancestors (a test's echo thread) is not sampled: its CPU is the
generator's own.
"""

from __future__ import annotations

import os
from typing import Any

import psutil

from sockbench.endpoints import Endpoint, Proto


def holders(kind: str, where: int | str, host: str | None = None) -> list[int]:
    """Pids of the processes bound to ``where`` (a port, or a Unix path for ``unix``) on
    ``host`` (None: any address), listening for TCP; this user's or every one's as root;
    empty where the tables cannot be read. A socket several processes share is listed
    once, under one of them."""
    try:
        conns = psutil.net_connections(kind)
    except (psutil.Error, OSError):
        return []
    return sorted({c.pid for c in conns if c.pid and _serves(c, kind, where, host)})


#: Addresses a socket bound to serves every local address from (IPv4, IPv6 and both).
WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def _serves(conn: Any, kind: str, where: int | str, host: str | None = None) -> bool:
    """Whether ``conn`` is the socket a target at ``where`` (a port, or a Unix path) on
    ``host`` (None: any) is served from: bound there, and listening where it is TCP."""
    if kind == "unix":
        return bool(conn.laddr == where)
    if not conn.laddr or conn.laddr.port != where:
        return False
    if host is not None and conn.laddr.ip not in WILDCARDS | {host}:
        return False
    return kind == "udp" or conn.status == psutil.CONN_LISTEN


def _holds(pid: int, kind: str, where: int | str, host: str | None) -> bool:
    """Whether process ``pid`` itself has the socket among its descriptors."""
    try:
        conns = psutil.Process(pid).net_connections(kind)
    except psutil.Error:
        return False
    return any(_serves(c, kind, where, host) for c in conns)


def target_process(endpoint: Endpoint) -> int | None:
    """The process serving ``endpoint``: one holding its socket, then its parents for as
    long as they hold it too (a worker's master), or the one parent of several that each
    hold a socket of their own (``SO_REUSEPORT`` workers); None where none is visible,
    or where that is this process or one of its ancestors."""
    where: int | str = endpoint.port
    kind, host = ("udp" if endpoint.proto is Proto.UDP else "tcp"), endpoint.host
    if endpoint.proto.is_unix:
        kind, where = "unix", endpoint.path
    try:
        roots = {_master(pid, kind, where, host) for pid in holders(kind, where, host)}
        if len(roots) > 1:  # workers with sockets of their own: their parent, if one
            parents = {psutil.Process(pid).ppid() for pid in roots}
            if len(parents) == 1 and min(parents) > 1:
                roots = parents
        ours = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    except psutil.Error:
        return None
    found = min(roots, default=None)
    return None if found is None or found in ours else found


def _master(pid: int, kind: str, where: int | str, host: str) -> int:
    """``pid``'s furthest ancestor through parents that hold the socket too."""
    while (parent := psutil.Process(pid).ppid()) > 1 and _holds(parent, kind, where, host):
        pid = parent
    return pid


def describe(pid: int) -> str:
    """``redis-server (pid 1234)``; ``pid 1234`` once its name cannot be read."""
    try:
        return f"{psutil.Process(pid).name()} (pid {pid})"
    except psutil.Error:
        return f"pid {pid}"
