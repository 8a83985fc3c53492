"""Run options, validated once (pure).

The CLI builds a :class:`RunConfig`; nothing downstream checks input again.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from sockbench.core.datagrams import SEQ_SIZE
from sockbench.endpoints import Endpoint, Proto, parse_proto, parse_target
from sockbench.errors import ConfigError

UDP_MAX_PAYLOAD = 65507  # 65535 - 8 (UDP header) - 20 (IPv4 header)
DEFAULT_MODEL = "asyncio"


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run. ``target`` None means: start ``server_model`` locally."""

    proto: Proto
    clients: int = 1
    duration_s: float = 10.0
    warmup_s: float = 2.0
    payload: int = 64
    timeout_s: float = 1.0
    target: Endpoint | None = None
    server_model: str | None = DEFAULT_MODEL
    connect_concurrency: int = 256
    workers: int = 1
    source_ips: tuple[str, ...] = ()
    server_threads: int = 64
    server_processes: int = 0
    server_cpus: tuple[int, ...] = ()
    client_cpus: tuple[int, ...] = ()
    json_path: str | None = None
    out_dir: str | None = "results"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["proto"] = self.proto.value
        doc["target"] = self.target.url() if self.target else None
        extra = doc.pop("extra")
        doc.update(extra)
        return doc


PORTS_PER_SOURCE = 25_000  # of the 28,232 ephemeral ports Linux has per address pair


def parse_source_ips(
    text: str, clients: int, target: Endpoint | None, allow_remote: bool = False
) -> tuple[str, ...]:
    """``auto``, ``127.0.0.2-127.0.0.9`` or ``127.0.0.2,127.0.0.3``: addresses clients bind to.

    A TCP connection is unique per (source address, source port, destination), so one
    source address gives at most ~28k connections to one server port. ``auto`` spreads
    clients over as many addresses of 127.0.0.0/8 as that needs, for loopback targets.
    """
    text = text.strip()
    if target is not None and target.proto.is_unix:
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
        return tuple(f"127.0.0.{i}" for i in range(1, needed + 1))
    ips: list[str] = []
    for part in text.split(","):
        first, sep, last = part.strip().partition("-")
        try:
            start = ipaddress.ip_address(first)
            end = ipaddress.ip_address(last) if sep else start
        except ValueError:
            raise ConfigError(f"malformed --source-ips {text!r}; expected A.B.C.D-A.B.C.E") from None
        if start.version != end.version or int(end) < int(start) or int(end) - int(start) > 1024:
            raise ConfigError(f"malformed --source-ips range {part.strip()!r}")
        for n in range(int(start), int(end) + 1):
            addr = ipaddress.ip_address(n) if start.version == 4 else ipaddress.IPv6Address(n)
            if not addr.is_loopback and not allow_remote:
                raise ConfigError(
                    f"--source-ips {addr} is not a loopback address; sockbench only loads "
                    "from 127.0.0.0/8 and ::1 unless you pass --allow-remote"
                )
            ips.append(str(addr))
    return tuple(ips)


def build_run_config(
    *,
    proto: str,
    clients: int,
    duration_s: float,
    warmup_s: float,
    payload: int,
    timeout_s: float,
    target: str | None,
    server_model: str | None,
    allow_remote: bool = False,
    json_path: str | None = None,
    out_dir: str | None = "results",
    workers: str = "1",
    source_ips: str = "auto",
) -> RunConfig:
    """Check every option and their combinations; raise :class:`ConfigError` with one line."""
    endpoint = parse_target(target, allow_remote=allow_remote) if target else None
    # The target's scheme names the protocol; --proto must agree when given explicitly.
    chosen = parse_proto(proto) if proto else (endpoint.proto if endpoint else Proto.TCP)
    if endpoint and endpoint.proto != chosen:
        raise ConfigError(
            f"--proto {chosen.value} does not match target {endpoint.url()}; "
            "drop --proto or fix one"
        )
    if clients < 1:
        raise ConfigError(f"--clients must be at least 1, got {clients}")
    if not duration_s > 0:
        raise ConfigError(f"--duration must be greater than 0, got {duration_s:g}")
    if warmup_s < 0:
        raise ConfigError(f"--warmup cannot be negative, got {warmup_s:g}")
    if not timeout_s > 0:
        raise ConfigError(f"--timeout must be greater than 0, got {timeout_s:g}")
    if payload < 1:
        raise ConfigError(f"--payload must be at least 1 byte, got {payload}")
    if not chosen.is_stream:
        if payload < SEQ_SIZE:
            raise ConfigError(
                f"--payload {payload} is too small for datagrams: each carries an "
                f"{SEQ_SIZE}-byte sequence number"
            )
        if payload > UDP_MAX_PAYLOAD:
            raise ConfigError(
                f"--payload {payload} is over the datagram limit of {UDP_MAX_PAYLOAD} bytes"
            )
    return RunConfig(
        workers=parse_workers(workers, clients),
        source_ips=parse_source_ips(source_ips, clients, endpoint, allow_remote),
        proto=chosen,
        clients=clients,
        duration_s=duration_s,
        warmup_s=warmup_s,
        payload=payload,
        timeout_s=timeout_s,
        target=endpoint,
        server_model=None if endpoint else (server_model or DEFAULT_MODEL),
        json_path=json_path,
        out_dir=out_dir,
    )


MAX_CLIENTS_PER_WORKER = 15_000
CLIENTS_PER_EXTRA_WORKER = 500


def auto_workers(clients: int, cpus: int) -> int:
    """Enough workers to stay under the descriptor limit, and to use the spare cores.

    Half the cores are left to the server under test, which usually runs on the same
    machine; a worker is only worth its start-up cost with a few hundred clients.
    """
    needed = -(-clients // MAX_CLIENTS_PER_WORKER)
    useful = min(max(1, cpus // 2), max(1, clients // CLIENTS_PER_EXTRA_WORKER))
    return max(needed, useful)


def parse_workers(text: str, clients: int, cpus: int | None = None) -> int:
    if text.strip().lower() == "auto":
        return auto_workers(clients, cpus or os.cpu_count() or 1)
    try:
        workers = int(text)
    except ValueError:
        raise ConfigError(f"--workers must be a number or 'auto', got {text!r}") from None
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if workers > clients:
        raise ConfigError(f"--workers {workers} is more than --clients {clients}")
    return workers
