"""The sizing policy: what the options leave open, decided with the machine (pure).

Separate from the checks between options (:mod:`.rules`): those refuse what cannot
run; this decides numbers the user may leave to sockbench (generator processes, a
prefork server's processes, timeouts, the run's length, CPU pinning, source addresses)
from the transport, the client count and the :class:`Machine` facts it is given, so
every decision is unit-tested with made-up machines.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from sockbench.core import bounds
from sockbench.core.machine import Machine
from sockbench.core.spec.generator import Generator
from sockbench.core.spec.load import Load
from sockbench.core.spec.server import ServerOptions
from sockbench.endpoints import Endpoint, Proto
from sockbench.errors import ConfigError

DEFAULT_DURATION_S = 10.0
MAX_DURATION_WITH_REQUESTS_S = 3600.0  # --requests alone still stops by itself
# A stream timeout is a give-up, not a measurement: it only has to be longer than any
# reply that still counts. 10 s covers a server queueing 50,000 clients (Little's law:
# 50k clients at ~47k req/s wait ~1.1 s each) where 1 s turned queueing into errors.
STREAM_TIMEOUT_S = 10.0
# Past 25,000 clients the default grows with them (Little's law: clients / throughput),
# as if server and generator together answered no more than this many requests/s: on
# this busy 2-core VM, 100,000 clients got 9,263 req/s, p99 9.2 s (benchmarks/scale.py).
LITTLE_RPS_FLOOR = 2_500
# A datagram has no connection to give up on: past this it counts as lost.
DATAGRAM_TIMEOUT_S = 1.0
# The share of a process's descriptor limit its connections may take: SO_REUSEPORT's
# hash spreads a prefork server's connections unevenly, and a process has its own files.
DESCRIPTOR_SHARE = 0.75
CLIENTS_PER_EXTRA_WORKER = 500
# --workers auto past bounds.WORKERS_PER_CPU when the descriptor limit needs them (holding
# connections rather than pushing requests), up to this many per CPU: 600,000 clients here.
HOLDING_WORKERS_PER_CPU = 20
# Of the 28,232 ephemeral ports Linux has per address pair. Filling a pair far past a third
# makes connect()'s free-port search the bottleneck: 50k clients over 5 addresses set up in
# 3.9 s, over 2 in 16.7 s (benchmarks/scale.py).
PORTS_PER_SOURCE = 10_000
#: Keywords of --server-cpus/--client-cpus besides a CPU list.
AUTO = "auto"
NO_PIN = ("none", "off", "")
#: ``--workers auto`` with ``--cluster``: one per CPU of the cluster, known once joined.
CLUSTER_AUTO_WORKERS = 0


@dataclass(frozen=True)
class SpinCores:
    """The cores an open-loop generator has to spin on, and how they were counted."""

    count: int
    counted: str  # from what, for the warning past them: "--client-cpus"


@dataclass(frozen=True)
class Sizing:
    """What a run uses where the options left it open (or gave it as ``auto``)."""

    duration_s: float
    timeout_s: float
    workers: int  # CLUSTER_AUTO_WORKERS until a cluster says how many CPUs it has
    server_processes: int
    server_cpus: tuple[int, ...]
    client_cpus: tuple[int, ...]
    source_ips: tuple[str, ...]
    spin_cores: SpinCores | None = None  # open loop on this machine: the cores it spins on


def run_length(duration_s: float | None, requests: int | None) -> float:
    """--duration's default: 10 s, or an hour when --requests is to stop the run."""
    if duration_s is not None:
        return duration_s
    return MAX_DURATION_WITH_REQUESTS_S if requests is not None else DEFAULT_DURATION_S


def default_timeout(proto: Proto, clients: int) -> float:
    """--timeout's default: a datagram's loss timeout; a stream's give-up, longer with
    many clients so queueing (Little's law) is measured as latency, not errors."""
    if not proto.is_stream:
        return DATAGRAM_TIMEOUT_S
    return max(STREAM_TIMEOUT_S, float(math.ceil(clients / LITTLE_RPS_FLOOR)))


def clients_per_process(machine: Machine) -> int:
    """How many connections one process (a generator worker, a prefork server process)
    is given: :data:`DESCRIPTOR_SHARE` of its hard descriptor limit (15,000 of 20,000)."""
    return max(1, int(machine.nofile_limit * DESCRIPTOR_SHARE))


def processes_for(clients: int, machine: Machine) -> int:
    """The fewest processes that hold ``clients`` connections under the descriptor limit."""
    return -(-clients // clients_per_process(machine))


def prefork_processes(asked: int, clients: int, machine: Machine) -> int:
    """The prefork model's processes: as asked, or (0) one per core and enough that each
    holds its share of the clients under the descriptor limit."""
    return asked or max(machine.cpu_count, processes_for(clients, machine))


def parse_cpus(text: str, what: str, usable: frozenset[int] | set[int]) -> tuple[int, ...]:
    """``0``, ``0-3`` or ``0,2,4-5`` -> CPU numbers, each one this process may use."""
    if not text.strip():
        return ()
    cpus: set[int] = set()
    highest = max(usable, default=-1)
    unusable = False
    try:
        for part in text.split(","):
            first, sep, last = part.strip().partition("-")
            low, high = int(first), int(last if sep else first)
            # Bounded before expanding: "0-10**30" must be refused, not materialized.
            unusable = unusable or low < 0 or high > highest
            cpus.update(range(max(low, 0), min(high, highest) + 1))
    except ValueError:
        raise ConfigError(f"malformed {what} {text!r}; expected like 0, 0-3 or 0,2") from None
    if unusable or not cpus or not cpus <= usable:
        raise ConfigError(
            f"{what} {text!r} names CPUs this process cannot use; available: "
            f"{','.join(str(c) for c in sorted(usable))}"
        )
    return tuple(sorted(cpus))


def resolve_pinning(
    server: str, client: str, usable: frozenset[int] | set[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The server's and the generator's CPU sets from ``--server-cpus``/``--client-cpus``.

    Each is ``auto``, ``none`` or a list like ``0-3,5``. Two ``auto``\\ s split the CPUs
    this process may use (lower half to the server, at least one each) when there are
    two or more; one ``auto`` takes the CPUs the other side leaves; ``none`` leaves that
    side unpinned (and an ``auto`` opposite it too). Explicit sets must not overlap.
    """
    s, c = server.strip().lower(), client.strip().lower()
    if s in NO_PIN or c in NO_PIN:
        return (
            () if s in NO_PIN or s == AUTO else parse_cpus(server, "--server-cpus", usable),
            () if c in NO_PIN or c == AUTO else parse_cpus(client, "--client-cpus", usable),
        )
    if s == AUTO and c == AUTO:
        cpus = sorted(usable)
        if len(cpus) < 2:
            return (), ()
        half = len(cpus) // 2
        return tuple(cpus[:half]), tuple(cpus[half:])
    server_cpus = () if s == AUTO else parse_cpus(server, "--server-cpus", usable)
    client_cpus = () if c == AUTO else parse_cpus(client, "--client-cpus", usable)
    if s == AUTO:
        server_cpus = tuple(sorted(set(usable) - set(client_cpus)))
        if not server_cpus:
            raise ConfigError(
                f"--client-cpus {client} leaves no CPU for the server; name fewer, "
                "or pass --server-cpus none to let them share"
            )
    if c == AUTO:
        client_cpus = tuple(sorted(set(usable) - set(server_cpus)))
        if not client_cpus:
            raise ConfigError(
                f"--server-cpus {server} leaves no CPU for the load generator; name fewer, "
                "or pass --client-cpus none to let them share"
            )
    shared = set(server_cpus) & set(client_cpus)
    if shared:
        raise ConfigError(
            f"--server-cpus and --client-cpus share CPU(s) {','.join(map(str, sorted(shared)))}; "
            "give disjoint sets, or 'none' for one side"
        )
    return server_cpus, client_cpus


def parse_source_ips(
    text: str,
    clients: int,
    target: Endpoint | None,
    allow_remote: bool = False,
    proto: Proto | None = None,
) -> tuple[str, ...]:
    """``auto``, ``127.0.0.2-127.0.0.9`` or ``127.0.0.2,127.0.0.3``: addresses clients bind to.

    A TCP connection is unique per (source address, source port, destination), so one
    source address gives at most ~28k connections to one server port. ``auto`` spreads
    clients over as many addresses of 127.0.0.0/8 as that needs, for loopback targets.
    """
    text = text.strip()
    proto = target.proto if target is not None else proto
    if proto is not None and proto.is_unix:
        if text not in ("", "auto"):
            raise ConfigError("--source-ips applies to tcp and udp, not Unix sockets")
        return ()
    if text in ("", "auto"):
        needed = -(-clients // PORTS_PER_SOURCE)
        if needed <= 1:
            return ()
        if target is not None and not ipaddress.ip_address(target.host).is_loopback:
            return ()
        if target is not None and ":" in target.host:
            raise ConfigError(
                f"--clients {clients} needs {needed} source addresses, and ::1 has only one; "
                "use an IPv4 loopback target"
            )
        base = ipaddress.IPv4Address("127.0.0.1")
        return tuple(str(base + i) for i in range(needed))
    ips: list[str] = []
    for part in text.split(","):
        first, sep, last = part.strip().partition("-")
        try:
            start = ipaddress.ip_address(first)
            end = ipaddress.ip_address(last) if sep else start
        except ValueError:
            raise ConfigError(
                f"malformed --source-ips {text!r}; expected A.B.C.D-A.B.C.E"
            ) from None
        why = (
            "mixes IPv4 and IPv6" if start.version != end.version
            else "ends before it starts" if int(end) < int(start)
            else "holds over 1,025 addresses" if int(end) - int(start) > 1024
            else ""
        )  # fmt: skip
        if why:
            raise ConfigError(f"--source-ips range {part.strip()!r} {why}")
        for n in range(int(start), int(end) + 1):
            addr = ipaddress.ip_address(n) if start.version == 4 else ipaddress.IPv6Address(n)
            if not addr.is_loopback and not allow_remote:
                raise ConfigError(
                    f"--source-ips {addr} is not a loopback address; sockbench only loads "
                    "from 127.0.0.0/8 and ::1 unless you pass --allow-remote"
                )
            ips.append(str(addr))
    # The embedded server listens on 127.0.0.1: an IPv6 source cannot reach it.
    family = 6 if target is not None and ":" in (target.host or "") else 4
    for ip in ips:
        if ipaddress.ip_address(ip).version != family:
            where = target.url() if target is not None else "the embedded server (127.0.0.1)"
            raise ConfigError(
                f"--source-ips {ip} is IPv{6 if family == 4 else 4} and {where} is "
                f"IPv{family}: a client cannot connect across families; give IPv{family} "
                "source addresses"
            )
    return tuple(ips)


def auto_workers(clients: int, cpus: int, per_worker: int) -> int:
    """Enough workers to stay under the descriptor limit (``per_worker`` connections
    each), and to use the spare cores.

    Half the cores are left to the server under test, which usually runs on the same
    machine; a worker is only worth its start-up cost with a few hundred clients.
    """
    needed = -(-clients // per_worker)
    useful = min(max(1, cpus // 2), max(1, clients // CLIENTS_PER_EXTRA_WORKER))
    return max(needed, useful)


def server_here(target: Endpoint | None) -> bool:
    """Whether the server under test runs on this machine: one sockbench starts (a
    built-in model or ``--server-cmd``), or a ``--target`` on loopback or a Unix socket."""
    if target is None or target.proto.is_unix:
        return True
    return ipaddress.ip_address(target.host).is_loopback


def spin_cores(
    usable_cpus: frozenset[int],
    server_cpus: tuple[int, ...],
    client_cpus: tuple[int, ...],
    *,
    shared_with_server: bool,
) -> SpinCores:
    """The cores an open-loop generator may spin on: ``--workers auto`` starts no more
    open-loop workers than this, and a ``--workers N`` past it is warned about.

    The trade-off: a closed-loop worker sleeps while its replies travel, so more workers
    than cores still overlap; an open-loop worker wakes for every due send, so two on one
    core take turns and each sends late by the other's turn (more workers than cores made
    100k req/s worse, issue 32). So the rule counts cores, not clients, and errs low:

    - ``--client-cpus``: those, all of them (the user set them apart for the generator);
    - else the affinity mask, less the ``--server-cpus`` when the server is pinned apart
      (if that leaves any);
    - else less one core when the server runs on this machine unpinned (built-in,
      ``--server-cmd``, or a loopback or Unix ``--target``): its share is not known, and
      one core is the least it answers with; a remote ``--target`` takes none.

    Always at least one.
    """
    mask = len(usable_cpus)
    if client_cpus:
        return SpinCores(len(client_cpus), "--client-cpus")
    rest = len(set(usable_cpus) - set(server_cpus))
    if server_cpus and rest:
        return SpinCores(rest, f"the affinity mask's {mask} CPUs less --server-cpus")
    if shared_with_server and mask > 1:
        return SpinCores(
            mask - 1, f"the affinity mask's {mask} CPUs less one for the server on this machine"
        )
    return SpinCores(max(1, mask), "the affinity mask")


def workers_for(
    asked: int | None,
    clients: int,
    client_cpus: tuple[int, ...],
    machine: Machine,
    *,
    force: bool = False,
    cluster: bool = False,
    open_loop: SpinCores | None = None,
) -> int:
    """``--workers``: a number, or None for ``auto``. A pinned generator has its CPUs to
    itself, so ``auto`` may use all of them rather than half the machine's; over a
    cluster, ``auto`` is :data:`CLUSTER_AUTO_WORKERS` until the cluster says how many CPUs
    it has. In open loop (``open_loop``: its :func:`spin_cores`), ``auto`` starts no more
    workers than those cores unless the descriptor limit needs more to hold the clients.
    At most ``bounds.WORKERS_PER_CPU`` per usable CPU unless ``force`` (not over a
    cluster, whose CPUs are not this machine's)."""
    usable = len(client_cpus) or len(machine.usable_cpus)
    if asked is None:
        if cluster:
            return CLUSTER_AUTO_WORKERS
        cpus = 2 * len(client_cpus) if client_cpus else machine.cpu_count
        workers = auto_workers(clients, cpus, clients_per_process(machine))
        if open_loop is not None:
            workers = max(processes_for(clients, machine), min(workers, open_loop.count))
        if workers != processes_for(clients, machine) or force:
            return bounds.check_workers(workers, usable, force=force)
        # More than the per-CPU cap only because the descriptors need them: holding the
        # connections is the point (a predicted warning says what it costs), up to a bound.
        limit = HOLDING_WORKERS_PER_CPU * max(1, usable)
        if workers > limit:
            raise ConfigError(
                f"--clients {clients:,} needs {workers} generator processes "
                f"({clients_per_process(machine):,} connections each under the descriptor "
                f"limit {machine.nofile_limit:,}), more than {limit} "
                f"({HOLDING_WORKERS_PER_CPU} per CPU on {usable}): they would mostly wait "
                "for a core; raise the hard limit (ulimit -Hn), or pass --force to run them "
                "anyway"
            )
        return workers
    if asked > clients:
        raise ConfigError(f"--workers {asked} is more than --clients {clients}")
    return asked if cluster else bounds.check_workers(asked, usable, force=force)


def size(
    load: Load,
    server: ServerOptions,
    generator: Generator,
    proto: Proto,
    target: Endpoint | None,
    machine: Machine,
    *,
    prefork: bool,
) -> Sizing:
    """Every number the options left to sockbench, for this machine. ``prefork``: the
    server is the built-in prefork model, whose processes follow the clients."""
    server_cpus, client_cpus = resolve_pinning(
        server.server_cpus, generator.client_cpus, machine.usable_cpus
    )
    processes = server.server_processes
    if prefork:
        processes = prefork_processes(processes, load.clients, machine)
    cores = None
    if load.rate and generator.cluster is None:
        cores = spin_cores(
            machine.usable_cpus, server_cpus, client_cpus, shared_with_server=server_here(target)
        )
    workers = workers_for(
        generator.workers, load.clients, client_cpus, machine,
        force=generator.force, cluster=generator.cluster is not None, open_loop=cores,
    )  # fmt: skip
    return Sizing(
        duration_s=run_length(load.duration_s, load.requests),
        timeout_s=load.timeout_s or default_timeout(proto, load.clients),
        workers=workers,
        server_processes=processes,
        server_cpus=server_cpus,
        client_cpus=client_cpus,
        source_ips=parse_source_ips(
            generator.source_ips, load.clients, target, generator.allow_remote, proto
        ),
        spin_cores=cores,
    )
