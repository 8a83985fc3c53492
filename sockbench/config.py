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
    mode: str = "echo"
    rate: float | None = None
    pipeline: int = 1
    requests: int | None = None
    interval_s: float = 1.0
    request: bytes | None = None  # None: echo a generated payload
    expect: str = "echo"  # echo | exact | size | until
    expect_value: bytes | int | None = None
    seed: int = 0  # of the open-loop schedule's phases
    batch: bool = True  # closed-loop ping-pong through one pump per worker (batch_client)
    busy_poll: bool = False  # the pump spins instead of waiting: lowest latency, one core
    json_path: str | None = None
    out_dir: str | None = "results"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["proto"] = self.proto.value
        doc["target"] = self.target.url() if self.target else None
        for key, value in doc.items():
            if isinstance(value, bytes):
                doc[key] = value.decode("latin-1")
            elif isinstance(value, tuple):
                doc[key] = list(value)
        extra = doc.pop("extra")
        doc.update(extra)
        return doc


# Of the 28,232 ephemeral ports Linux has per address pair. Filling a pair far past a third
# makes connect()'s free-port search the bottleneck: 50k clients over 5 addresses set up in
# 3.9 s, over 2 in 16.7 s (benchmarks/scale.py).
PORTS_PER_SOURCE = 10_000


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
            raise ConfigError(
                f"malformed --source-ips {text!r}; expected A.B.C.D-A.B.C.E"
            ) from None
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


MODES = ("echo", "churn", "stream")


def _check_workload(
    proto: Proto,
    mode: str,
    rate: float | None,
    pipeline: int,
    requests: int | None,
    interval_s: float,
    request: bytes | None,
    expect: str,
) -> None:
    if mode not in MODES:
        raise ConfigError(f"unknown --mode {mode!r}; choose one of {', '.join(MODES)}")
    if rate is not None and not rate > 0:
        raise ConfigError(f"--rate must be greater than 0, got {rate:g}")
    if pipeline < 1:
        raise ConfigError(f"--pipeline must be at least 1, got {pipeline}")
    if pipeline > 1 and (rate is None or not proto.is_stream or mode != "echo"):
        raise ConfigError("--pipeline needs --rate and a stream protocol (tcp or unix)")
    if requests is not None and requests < 1:
        raise ConfigError(f"--requests must be at least 1, got {requests}")
    if not interval_s > 0:
        raise ConfigError(f"--interval must be greater than 0, got {interval_s:g}")
    if mode == "churn" and not proto.is_stream:
        raise ConfigError("--mode churn opens a connection per request: it needs tcp or unix")
    if mode == "stream":
        if not proto.is_stream and rate is None:
            raise ConfigError("--mode stream over datagrams sends at a fixed rate: give --rate")
        if proto.is_stream and rate is not None:
            raise ConfigError("--mode stream over tcp/unix sends as fast as it can; drop --rate")
        if request is not None or expect != "echo":
            raise ConfigError("--mode stream is one-way: --send/--expect do not apply")
    if mode == "churn" and rate is not None:
        raise ConfigError("--mode churn is closed-loop; drop --rate")
    if not proto.is_stream and (request is not None or expect != "echo"):
        raise ConfigError("--send/--expect apply to stream protocols (tcp, unix)")


MAX_DURATION_WITH_REQUESTS_S = 3600.0  # --requests alone still stops by itself


def parse_exchange(
    send: str | None,
    send_file: str | None,
    expect: str | None,
    expect_size: int | None,
    expect_until: str | None,
) -> tuple[bytes | None, str, bytes | int | None]:
    """``(request, expect kind, expect value)`` from --send/--send-file and the --expect options.

    Without --send the request is a generated payload echoed back; with it and no
    expectation, the reply must echo the request.
    """
    from sockbench.core.expect import parse_escapes

    if send is not None and send_file is not None:
        raise ConfigError("give --send or --send-file, not both")
    request: bytes | None = None
    if send is not None:
        request = parse_escapes(send)
    elif send_file is not None:
        try:
            with open(send_file, "rb") as f:
                request = f.read()
        except OSError as exc:
            raise ConfigError(f"cannot read --send-file {send_file}: {exc.strerror}") from None
    if request is not None and not request:
        raise ConfigError("the request given by --send/--send-file is empty")
    given = [
        (k, v)
        for k, v in (("exact", expect), ("size", expect_size), ("until", expect_until))
        if v is not None
    ]
    if len(given) > 1:
        raise ConfigError("give only one of --expect, --expect-size and --expect-until")
    if not given:
        return request, "echo", None
    if request is None:
        raise ConfigError("--expect/--expect-size/--expect-until need --send or --send-file")
    kind, value = given[0]
    if kind == "size":
        assert isinstance(value, int)
        if value < 1:
            raise ConfigError(f"--expect-size must be at least 1, got {value}")
        return request, kind, value
    assert isinstance(value, str)
    parsed = parse_escapes(value)
    if not parsed:
        raise ConfigError(f"--expect{'-until' if kind == 'until' else ''} must not be empty")
    return request, kind, parsed


def parse_cpus(text: str, what: str) -> tuple[int, ...]:
    """``0``, ``0-3`` or ``0,2,4-5`` -> CPU numbers, checked against this machine."""
    if not text.strip():
        return ()
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            first, sep, last = part.strip().partition("-")
            cpus.update(range(int(first), int(last if sep else first) + 1))
    except ValueError:
        raise ConfigError(f"malformed {what} {text!r}; expected like 0, 0-3 or 0,2") from None
    available = os.sched_getaffinity(0)
    if not cpus or not cpus <= available:
        raise ConfigError(
            f"{what} {text!r} names CPUs this process cannot use; available: "
            f"{','.join(str(c) for c in sorted(available))}"
        )
    return tuple(sorted(cpus))


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
    mode: str = "echo",
    rate: float | None = None,
    pipeline: int = 1,
    requests: int | None = None,
    interval_s: float = 1.0,
    request: bytes | None = None,
    expect: str = "echo",
    expect_value: bytes | int | None = None,
    server_threads: int = 64,
    server_processes: int = 0,
    server_cpus: tuple[int, ...] = (),
    client_cpus: tuple[int, ...] = (),
    batch: bool = True,
    busy_poll: bool = False,
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
    _check_workload(chosen, mode, rate, pipeline, requests, interval_s, request, expect)
    if server_threads < 1:
        raise ConfigError(f"--server-threads must be at least 1, got {server_threads}")
    if server_processes < 0:
        raise ConfigError(f"--server-processes cannot be negative, got {server_processes}")
    if server_model == "prefork" and server_processes == 0 and endpoint is None:
        # Each process may hold about MAX_CLIENTS_PER_WORKER connections (descriptor limit).
        server_processes = max(os.cpu_count() or 1, -(-clients // MAX_CLIENTS_PER_WORKER))
    return RunConfig(
        mode=mode,
        rate=rate,
        pipeline=pipeline,
        requests=requests,
        interval_s=interval_s,
        request=request,
        expect=expect,
        expect_value=expect_value,
        server_threads=server_threads,
        server_processes=server_processes,
        server_cpus=server_cpus,
        client_cpus=client_cpus,
        batch=batch,
        busy_poll=busy_poll,
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
