"""File-descriptor budget: every client socket is a descriptor."""

from __future__ import annotations

import resource

from sockbench.errors import ConfigError

RESERVED_FDS = 64  # stdio, epoll, pipes, result files, the server handshake...


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def check_descriptors(clients: int, per_client: int = 1) -> None:
    """Refuse, before opening anything, a run that would run out of descriptors."""
    available = raise_nofile_limit()
    needed = clients * per_client + RESERVED_FDS
    if needed > available:
        raise ConfigError(
            f"--clients {clients} needs about {needed} file descriptors but this process may "
            f"open only {available}; raise the hard limit (ulimit -Hn) or use fewer clients"
        )
