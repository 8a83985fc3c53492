"""Warnings a run's settings predict, said before any load (pure).

Each names the limit, why the run will hit it, and what to change. They take the
run's :class:`~sockbench.core.spec.run.RunSpec`, which holds the :class:`Machine` facts
it was checked against, so they are tested with made-up machines, and the same function
serves the CLI (printed before load) and the engine (kept in the result). What a finished
run shows (:func:`measured_warnings`) reads its result document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sockbench.core.kinds import Workload
from sockbench.core.machine import Machine
from sockbench.core.spec.run import RunSpec
from sockbench.core.spec.server import BuiltIn, Target
from sockbench.core.units import format_size
from sockbench.core.warning import RunWarning, WarningKind
from sockbench.endpoints import Proto

SERVER_RESERVED_FDS = 16  # a server's own descriptors: listener, pipes, epoll, stdio
#: A port stays in TIME_WAIT this long after its connection closes (Linux: 60 s).
TIME_WAIT_S = 60
PORTS_PER_ADDRESS = 28_232  # Linux's default ephemeral range, per source address


def predicted_warnings(spec: RunSpec) -> list[RunWarning]:
    """What ``spec`` will run into on the machine it was checked against."""
    machine = spec.machine
    warnings = [
        *_server_warnings(spec, machine),
        *_port_warnings(spec, machine),
        *_queue_warnings(spec),
        *_worker_warnings(spec, machine),
        *_tls_warnings(spec),
        *_socket_buffer_warnings(spec, machine),
    ]
    if machine.load_average >= machine.cpu_count:
        warnings.append(
            RunWarning(
                WarningKind.BUSY_MACHINE,
                f"the machine is busy before the run (load average {machine.load_average:.1f} "
                f"on {machine.cpu_count} cores): other processes take CPU from the server and "
                "the generator, so numbers come out lower and noisier",
                "run on an idle machine, or pin with --server-cpus/--client-cpus",
            )
        )
    return warnings


def _socket_buffer_warnings(spec: RunSpec, machine: Machine) -> list[RunWarning]:
    """--socket-buffer above what the kernel lets a socket ask for: it gets the cap."""
    asked, most = spec.generator.socket_buffer, machine.socket_buffer_max
    if asked is None or most is None or asked <= most:
        return []
    return [
        RunWarning(
            WarningKind.SOCKET_BUFFER_CAPPED,
            f"--socket-buffer {format_size(asked)} is over what the kernel lets a socket ask "
            f"for ({format_size(most)}, net.core.rmem_max/wmem_max): each client socket gets "
            f"{format_size(2 * most)}, not {format_size(2 * asked)}",
            f"raise both (sysctl -w net.core.rmem_max={asked} net.core.wmem_max={asked}), "
            "or ask for less",
        )
    ]


def _tls_warnings(spec: RunSpec) -> list[RunWarning]:
    """--tls-insecure, said before any load (and kept in the result)."""
    if spec.tls is None or spec.tls.verify:
        return []
    return [
        RunWarning(
            WarningKind.TLS_NOT_VERIFIED,
            "TLS certificates are NOT verified (--tls-insecure): a wrong, expired or forged "
            "certificate goes unnoticed, and the handshakes skip verification's cost",
            "give the server's CA with --tls-ca to verify, and measure, as real clients do",
        )
    ]


def _server_warnings(spec: RunSpec, machine: Machine) -> list[RunWarning]:
    """A server this run starts (a model, or your command) and the clients it must hold."""
    server, clients = spec.server, spec.load.clients
    if isinstance(server, Target) or spec.load.mode == Workload.CHURN:
        return []
    name = server.model if isinstance(server, BuiltIn) else server.name
    warnings = []
    processes = server.processes if isinstance(server, BuiltIn) and name == "prefork" else 1
    per_process = -(-clients // max(processes, 1))
    room = machine.nofile_limit - SERVER_RESERVED_FDS
    if per_process > room:
        needed = -(-clients // room)
        warnings.append(
            RunWarning(
                WarningKind.DESCRIPTOR_LIMIT,
                f"the {name} server may hold about {room:,} connections per process "
                f"(descriptor limit {machine.nofile_limit:,}) and --clients {clients:,} puts "
                f"{per_process:,} on {'each' if processes > 1 else 'one'}: the last ones wait "
                "to be accepted, and time out unless a descriptor frees",
                f"use --server prefork --server-processes {needed}, or raise the hard "
                "limit (ulimit -Hn)",
            )
        )
    threads = server.threads if isinstance(server, BuiltIn) else 0
    if name == "threadpool" and threads < clients and spec.proto.is_stream:
        warnings.append(
            RunWarning(
                WarningKind.THREADPOOL_QUEUE,
                f"the threadpool server serves {threads} connections at once and "
                f"--clients {clients} opens {clients}: the other {clients - threads} wait in "
                "its queue; one that waits through the whole window is counted starved and "
                "makes the run not valid, a shorter wait is latency, and past --timeout an "
                "error",
                f"give --server-threads {clients}, or use fewer --clients",
            )
        )
    return warnings


#: Requests per second a server on a small, busy machine answers at least (Little's law
#: below; the same floor as the default --timeout's, sizing.LITTLE_RPS_FLOOR).
PLAUSIBLE_RPS = 2_500
#: Generator processes per CPU beyond which they mostly wait for one (bounds.WORKERS_PER_CPU).
WORKERS_PER_CPU = 4


def _queue_warnings(spec: RunSpec) -> list[RunWarning]:
    """Little's law before load: in closed loop every client waits for its reply, so
    answering all within --timeout takes clients / timeout requests per second."""
    clients, timeout = spec.load.clients, spec.sizing.timeout_s
    closed_loop = not spec.load.rate and spec.load.mode == Workload.ECHO
    if not (closed_loop and timeout and spec.proto.is_stream):
        return []
    needed = clients / timeout
    if needed <= PLAUSIBLE_RPS:
        return []
    return [
        RunWarning(
            WarningKind.LITTLES_LAW,
            f"--clients {clients:,} in closed loop each wait for a reply: answering all "
            f"within --timeout {timeout:g} s takes {needed:,.0f} req/s (Little's law: "
            "clients / time each waits); a slower server turns its queue into timeouts",
            f"raise --timeout (to {clients / PLAUSIBLE_RPS:.0f}s, say), lower --clients, "
            "or hold the connections at a --rate",
        )
    ]


def _worker_warnings(spec: RunSpec, machine: Machine) -> list[RunWarning]:
    workers = spec.sizing.workers or 1
    cpus = len(spec.sizing.client_cpus) or len(machine.usable_cpus) or 1
    if spec.generator.cluster:
        return []
    if workers <= WORKERS_PER_CPU * cpus:
        return _open_loop_worker_warnings(spec, machine)
    per = -(-spec.load.clients // workers)
    return [
        RunWarning(
            WarningKind.WORKERS_SHARE_CPUS,
            f"{workers} generator processes share {cpus} CPU(s): each may hold about "
            f"{per:,} connections (descriptor limit {machine.nofile_limit:,}), so it takes "
            "that many; they take turns on the cores, and latencies include the wait for one",
            "fine for holding connections; to measure latency use fewer --clients, more "
            "cores, or a higher hard descriptor limit (ulimit -Hn)",
        )
    ]


def _open_loop_worker_warnings(spec: RunSpec, machine: Machine) -> list[RunWarning]:
    """More open-loop workers than the cores they may spin on (sizing.spin_cores): asked
    for, or needed by the descriptor limit to hold the clients."""
    cores, workers = spec.sizing.spin_cores, spec.sizing.workers
    if cores is None or workers <= cores.count:
        return []
    if spec.generator.workers is None:  # auto went past the cores only for descriptors
        why = (
            f"--workers auto needs {workers} to hold --clients {spec.load.clients:,} under the "
            f"descriptor limit {machine.nofile_limit:,}"
        )
        advice = "raise the hard descriptor limit (ulimit -Hn), or use fewer --clients"
    else:
        why = f"--workers {workers} asked for them"
        advice = (
            f"use --workers {cores.count} (auto stops there), or give the generator more "
            "cores (--client-cpus, with the server pinned apart by --server-cpus)"
        )
    return [
        RunWarning(
            WarningKind.WORKERS_PAST_CORES,
            f"{workers} open-loop generator processes and {cores.count} core(s) for them to "
            f"spin on ({cores.counted}): {why}; an open-loop worker wakes for every due "
            "send, so workers that share a core take turns and send late by each other's "
            "turns (the scheduler lag shows it)",
            advice,
        )
    ]


def _port_warnings(spec: RunSpec, machine: Machine) -> list[RunWarning]:
    if spec.proto != Proto.TCP:
        return []
    clients = spec.load.clients
    sources = max(1, len(spec.sizing.source_ips))
    ports = machine.ephemeral_ports * sources
    if clients <= ports:
        return []
    return [
        RunWarning(
            WarningKind.EPHEMERAL_PORTS,
            f"--clients {clients:,} needs {clients:,} source ports to one server address, and "
            f"{sources} source address(es) give {ports:,} (ports "
            f"{machine.port_range[0]}-{machine.port_range[1]})",
            "spread clients over more addresses with --source-ips 127.0.0.2-127.0.0.9, or "
            "widen net.ipv4.ip_local_port_range",
        )
    ]


def measured_warnings(spec: RunSpec, totals: Mapping[str, Any]) -> list[RunWarning]:
    """Limits a finished run shows in its ``totals``: the queue clients wait in, ports
    held in TIME_WAIT."""
    warnings = []
    rps, clients, timeout = totals.get("throughput_rps"), spec.load.clients, spec.sizing.timeout_s
    closed_loop = not spec.load.rate and spec.load.mode == Workload.ECHO
    if closed_loop and rps:
        wait = clients / rps  # Little's law: requests in flight = throughput x time each
        if wait >= timeout / 2:
            warnings.append(
                RunWarning(
                    WarningKind.LITTLES_LAW,
                    f"{clients:,} clients at {rps:,.0f} req/s wait about {wait:.2f} s per "
                    f"request (Little's law: clients / throughput), close to --timeout "
                    f"{timeout:g} s: slower replies count as errors, not latencies",
                    f"raise --timeout (to {max(10.0, 4 * wait):.0f}s, say) or lower --clients",
                )
            )
    warnings.extend(_time_wait_warnings(len(spec.sizing.source_ips), totals))
    return warnings


def _time_wait_warnings(source_ips: int, totals: Mapping[str, Any]) -> list[RunWarning]:
    """Ports a churn run leaves in TIME_WAIT, against the ports its addresses have.

    Only when none ran out: running out is its own warning (``no_ephemeral_port``). A
    run that leaves more than there are and still connects is one the kernel let reuse
    TIME_WAIT ports (``net.ipv4.tcp_tw_reuse``, on by default for loopback only).
    """
    per_s = totals.get("connections_per_s")
    sources = max(1, source_ips)
    ports = PORTS_PER_ADDRESS * sources
    held = (per_s or 0) * TIME_WAIT_S
    ran_out = any(
        (totals.get(kind) or {}).get("no_ephemeral_port") for kind in ("errors", "warmup_errors")
    )
    if ran_out or held <= 0.5 * ports:
        return []
    share = f"{held / ports:.1f}× the" if held > ports else f"{held / ports:.0%} of the"
    addresses = f"{sources} source address{'es' if sources > 1 else ''}"
    why = (
        "none ran out because the kernel reused ports still in TIME_WAIT "
        "(net.ipv4.tcp_tw_reuse, on for loopback by default); without that reuse, or "
        "off loopback, connects would fail with EADDRNOTAVAIL"
        if held > ports
        else "a faster target, or a longer run, would run out"
    )
    return [
        RunWarning(
            WarningKind.EPHEMERAL_PORTS,
            f"{per_s:,.0f} new connections/s leave {held:,.0f} ports in TIME_WAIT "
            f"({TIME_WAIT_S} s each), {share} {ports:,} ephemeral ports of {addresses}: {why}",
            "spread clients over more addresses with --source-ips 127.0.0.2-127.0.0.9, "
            "or lower the connection rate",
        )
    ]
