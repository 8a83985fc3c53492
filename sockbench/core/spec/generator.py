"""The load generator: its processes, addresses, CPUs and drivers, as asked (pure).

``workers``, ``source_ips`` and ``client_cpus`` are what the user asked for; the numbers
a run uses are decided with the machine by :mod:`sockbench.core.spec.sizing`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sockbench.core import bounds
from sockbench.core.spec.option import (
    RUN_COMPARE,
    RUN_SERVE,
    Option,
    declare,
    field_of,
    option,
    optional,
    switch,
    text,
)
from sockbench.core.units import parse_seconds, parse_size
from sockbench.errors import ConfigError

#: ``--workers auto``
AUTO = "auto"


def _workers(value: object, flag: str) -> int | None:
    """A number of workers, or None for ``auto``."""
    if value is None or (isinstance(value, str) and value.strip().lower() == AUTO):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        workers = value
    else:
        try:
            workers = int(str(value))
        except ValueError:
            raise ConfigError(f"{flag} must be a number or 'auto', got {value!r}") from None
    if workers < 1:
        raise ConfigError(f"{flag} must be at least 1, got {workers}")
    return workers


def _cluster(value: object, flag: str) -> str | None:
    """``ray`` (the running cluster) or ``ray:HOST:PORT``; None or '' is none."""
    given = str(value or "").strip()
    if not given:
        return None
    kind, colon, address = given.partition(":")
    if kind != "ray":
        raise ConfigError(f"{flag} must be 'ray' or 'ray:HOST:PORT', got {given!r}")
    if colon and not address:  # not 'ray': that one joins this host's cluster, on purpose
        raise ConfigError(
            f"{flag} 'ray:' names no head: give ray:HOST:PORT, or ray for the cluster "
            "started on this host"
        )
    if address:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{flag} {given!r}: expected ray:HOST:PORT, e.g. ray:10.0.0.5:6379")
    return given


SOCKET_BUFFER_MAX = 1 << 30  # setsockopt takes an int; no kernel grants more than this


def _socket_buffer(value: float, flag: str) -> None:
    if value > SOCKET_BUFFER_MAX:
        raise ConfigError(f"{flag} {int(value):,} is over 1 GiB; give at most 1G")


#: run's target and serve's --bind (:mod:`sockbench.core.spec.serve`): one declaration.
ALLOW_REMOTE: Option[bool] = declare(
    False, "--allow-remote",
    help="allow a non-loopback target, or serve --bind on an address other hosts reach "
    "(you must own them)",
    parse=switch, commands=RUN_SERVE,
)  # fmt: skip


@dataclass(frozen=True)
class Generator:
    workers: int | None = option(
        None, "--workers", "-t", metavar="N|auto",
        help="generator processes, or 'auto' (from cores and clients; with --rate, no more "
        "than the cores it may spin on); with --cluster, the total over the cluster "
        "('auto': one per CPU it offers)",
        parse=_workers, commands=RUN_COMPARE, default_help="auto",
    )  # fmt: skip
    source_ips: str = option(
        AUTO, "--source-ips", metavar="IPS",
        help="addresses clients bind to: auto, 127.0.0.2-127.0.0.9, a,b",
        parse=text, commas=True,
    )  # fmt: skip
    client_cpus: str = option(
        "none", "--client-cpus", metavar="CPUS",
        help="pin the load generator to CPUs; auto (those the server leaves) or none",
        parse=text, commands=RUN_COMPARE, defaults={"compare": "auto"}, commas=True,
    )  # fmt: skip
    # Every echo-mode client through one pump per worker (engine.clients.pump).
    batch: bool = option(
        True, "--batch",
        help="serve all of a worker's echo clients from one epoll pump; --no-batch: a task "
        "per client (the reference driver)",
        parse=switch,
    )  # fmt: skip
    busy_poll: bool = option(
        False, "--busy-poll",
        help="the pump spins instead of sleeping: lowest latency, a full core", parse=switch,
    )  # fmt: skip
    socket_buffer: int | None = option(
        None, "--socket-buffer", metavar="BYTES",
        help="each client socket's buffers, both ways (SO_RCVBUF and SO_SNDBUF, iperf3's "
        "-w): 256k, 4M; the kernel doubles it, up to net.core.rmem_max/wmem_max",
        parse=optional(parse_size), minimum=1, bound=_socket_buffer, commands=RUN_COMPARE,
        default_help="the kernel's",
    )  # fmt: skip
    allow_remote: bool = field_of(ALLOW_REMOTE)
    force: bool = option(
        False, "--force", help="allow more than 4 workers per CPU", parse=switch,
        commands=RUN_COMPARE,
    )  # fmt: skip
    # Workers are Ray actors over the cluster's nodes.
    cluster: str | None = option(
        None, "--cluster", help="workers on a Ray cluster: ray (the running one) or ray:HOST:PORT",
        parse=_cluster, commands=RUN_COMPARE, metavar="ray[:HOST:PORT]",
    )  # fmt: skip
    # Joining is bounded: an unreachable or wrong head is one line, not a hang.
    cluster_timeout_s: float = option(
        10.0, "--cluster-timeout",
        help="give up joining the --cluster after this long (one line, exit 2): 10s, 1m",
        parse=parse_seconds, positive=True, bound=bounds.seconds_within(bounds.MAX_TIMEOUT_S),
        commands=RUN_COMPARE,
    )  # fmt: skip
