"""Run options, converted and checked once, against facts about the machine (pure).

:func:`validate_run` turns the values of the options declared in
:mod:`sockbench.options` into a :class:`RunConfig`, checking every option and every
combination with one-line :class:`ConfigError`\\ s that name the user's flags.
Nothing downstream checks input again; it may assert. What this module needs to
know about the machine (usable CPUs, core count, the content of ``--send-file``)
is read by :mod:`sockbench.machine` and passed in, so every check here is a pure
function of its arguments and is unit-tested without touching the machine.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sockbench.core import bounds
from sockbench.core.checks import parse_check
from sockbench.core.datagrams import SEQ_SIZE
from sockbench.core.expect import parse_escapes
from sockbench.core.kinds import ExpectKind, Workload
from sockbench.core.machine import Machine
from sockbench.core.protocols import uses_key_options
from sockbench.core.protocols.mix import check_key_options, parse_ratio
from sockbench.core.units import DEFAULT_PERCENTILES
from sockbench.endpoints import Endpoint, Proto, parse_bind, parse_proto, parse_target
from sockbench.errors import ConfigError
from sockbench.options import convert_all
from sockbench.servers.behaviour import ServerBehaviour
from sockbench.servers.external import ExternalCommand, external_command
from sockbench.servers.host import check_options
from sockbench.servers.spec import DEFAULT_MODEL, DEFAULT_THREADS, ServerSpec

UDP_MAX_PAYLOAD = 65507  # 65535 - 8 (UDP header) - 20 (IPv4 header)
DEFAULT_DURATION_S = 10.0
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
MAX_DURATION_WITH_REQUESTS_S = 3600.0  # --requests alone still stops by itself
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


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run. ``target`` None means: start ``server_model`` locally."""

    proto: Proto
    clients: int = 1
    duration_s: float = DEFAULT_DURATION_S
    warmup_s: float = 2.0
    ramp_s: float = 0.0  # clients (closed loop) or the rate (--rate) rise over this, unmeasured
    connect_rate: float | None = None  # new connections per second, at most
    payload: int = 64
    timeout_s: float = DATAGRAM_TIMEOUT_S
    target: Endpoint | None = None
    server_model: str | None = DEFAULT_MODEL
    workers: int = 1
    source_ips: tuple[str, ...] = ()
    server_threads: int = DEFAULT_THREADS
    server_processes: int = 0
    server_cpus: tuple[int, ...] = ()
    client_cpus: tuple[int, ...] = ()
    mode: Workload = Workload.ECHO
    rate: float | None = None
    pipeline: int = 1
    requests: int | None = None
    interval_s: float = 1.0
    request: bytes | None = None  # None: echo a generated payload
    expect: ExpectKind = ExpectKind.ECHO
    expect_value: bytes | int | None = None
    batch: bool = True  # every echo-mode client through one pump per worker (clients.pump)
    busy_poll: bool = False  # the pump spins instead of waiting: lowest latency, one core
    drain_s: float | None = None  # follow the window's open requests this long (None: timeout)
    cluster: str | None = None  # "ray" or "ray:HOST:PORT": workers are Ray actors over its nodes
    json_path: str | None = None
    out_dir: str | None = "results"
    external: ExternalCommand | None = None  # a user's command instead of server_model
    server_logs: str | None = None  # path prefix of its stdout/stderr; None: the run folder
    protocol: str = "echo"  # docs/protocols.md: echo, redis, memcache, line, ... or a plugin
    ratio: tuple[int, int] = (1, 10)  # redis/memcache: SETs:GETs
    key_space: int = 10_000_000
    key_pattern: str = "R"
    value_size: int = 32
    checks: tuple[str, ...] = ()  # --check expressions, each parsed once here
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES

    @property
    def server_spec(self) -> ServerSpec | None:
        """The built-in server to start, None for an external ``target`` or command."""
        if self.target is not None or self.server_model is None or self.external is not None:
            return None
        behaviour = ServerBehaviour.SINK if self.mode is Workload.STREAM else ServerBehaviour.ECHO
        return ServerSpec(
            self.server_model,
            behaviour,
            self.server_threads,
            self.server_processes,
            self.server_cpus,
        )

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["proto"] = self.proto.value
        doc["target"] = self.target.url() if self.target else None
        for key, value in doc.items():
            if isinstance(value, bytes):
                doc[key] = value.decode("latin-1")
            elif isinstance(value, tuple):
                doc[key] = list(value)
            elif isinstance(value, Workload | ExpectKind):
                doc[key] = value.value
        if not uses_key_options(self.protocol):  # the key/value mix does not apply
            for key in KEY_OPTIONS:
                del doc[key]
        return doc


def validate_run(
    values: Mapping[str, object], machine: Machine, *, files: Mapping[str, bytes] | None = None
) -> RunConfig:
    """Check every option of ``run`` and their combinations; raise :class:`ConfigError`.

    ``values`` are keyed by option name (missing ones take their declared default);
    ``files`` holds the content of the ``--send-file`` named in them.
    """
    v = convert_all("run", dict(values))
    endpoint = (
        parse_target(str(v["target"]), allow_remote=bool(v["allow_remote"]))
        if v["target"]
        else None
    )
    proto = _resolve_proto(str(v["proto"] or ""), endpoint)
    clients, payload = int(v["clients"]), int(v["payload"])  # type: ignore[call-overload]
    _check_payload(proto, payload)
    request, expect, expect_value = parse_exchange(
        v["send"], _file(v["send_file"], files), v["expect_reply"], v["expect_size"],
        v["expect_until"],
    )  # fmt: skip
    _check_limits(v, proto, request)
    mode = Workload(str(v["mode"]).strip().lower())
    rate, pipeline = v["rate"], int(v["pipeline"])  # type: ignore[call-overload]
    assert rate is None or isinstance(rate, float)
    _check_workload(proto, mode, rate, pipeline, request, expect)
    _check_ramp(v["ramp_s"], v["connect_rate"], clients, mode, rate)
    protocol = check_protocol(
        str(v["protocol"] or ""), proto, mode, request, expect, v, rate, pipeline
    )
    timeout = v["timeout_s"] or default_timeout(proto, clients)
    _check_drain(v["drain_s"], timeout)
    server_cpus, client_cpus = resolve_pinning(
        str(v["server_cpus"]), str(v["client_cpus"]), machine.usable_cpus
    )
    external = _external(v, proto, endpoint)
    model = None if endpoint else str(v["server_model"] or DEFAULT_MODEL).strip().lower()
    if external is not None:
        model = external.name
    processes = int(v["server_processes"])  # type: ignore[call-overload]
    if model == "prefork" and processes == 0:
        # One per core, and enough that each holds its share under the descriptor limit.
        processes = max(machine.cpu_count, processes_for(clients, machine))
    for expr in v["checks"]:  # type: ignore[attr-defined]
        check = parse_check(str(expr))
        if check.needs_datagrams and proto.is_stream:
            raise ConfigError(f"--check {expr!r}: loss is measured over udp and unix-dgram")
        if check.needs_rate and rate is None:
            raise ConfigError(f"--check {expr!r}: achieved compares with --rate; give one")
    if v["json_stdout"]:
        if v["json_path"] not in (None, "-"):
            raise ConfigError("give -J or --json PATH, not both")
        v["json_path"] = "-"
    requests = v["requests"]
    duration = v["duration_s"]
    if duration is None:
        duration = MAX_DURATION_WITH_REQUESTS_S if requests is not None else DEFAULT_DURATION_S
    derived: dict[str, object] = {
        "proto": proto,
        "target": endpoint,
        "server_model": model,
        "server_processes": processes,
        "server_cpus": server_cpus,
        "client_cpus": client_cpus,
        "duration_s": duration,
        "timeout_s": timeout,
        "mode": mode,
        "request": request,
        "expect": expect,
        "expect_value": expect_value,
        "cluster": parse_cluster(v["cluster"]),
        "workers": workers_for(
            str(v["workers"]),
            clients,
            client_cpus,
            machine,
            force=bool(v.get("force")),
            cluster=bool(v["cluster"]),
        ),
        "source_ips": parse_source_ips(
            str(v["source_ips"]), clients, endpoint, bool(v["allow_remote"]), proto
        ),
        "out_dir": v["out_dir"] or None,
        "external": external,
        **protocol,
    }
    # Every other field is an option's converted value under the same name.
    plain = {f.name: v[f.name] for f in fields(RunConfig) if f.name in v}
    config = RunConfig(**{**plain, **derived})  # type: ignore[arg-type]
    if config.server_spec is not None:
        check_options(config.server_spec, proto)  # unknown, unavailable, wrong protocol
    return config


def _external(
    v: Mapping[str, object], proto: Proto, endpoint: Endpoint | None
) -> ExternalCommand | None:
    """``--server-cmd`` (named by ``--server-name``, else after its program), checked."""
    if v["server_cmd"] is None:
        for key, flag in (("ready_line", "--ready-line"), ("server_name", "--server-name")):
            if v[key] is not None:
                raise ConfigError(f"{flag} applies to --server-cmd")
        return None
    if endpoint is not None:
        raise ConfigError("give --target or --server-cmd, not both")
    name = v["server_name"]
    external = external_command(
        None if name is None else str(name),
        str(v["server_cmd"]),
        ready_line=None if v["ready_line"] is None else str(v["ready_line"]),
        ready_timeout_s=float(v["ready_timeout_s"]),  # type: ignore[arg-type]
    )
    external.check(proto)
    return external


def validate_serve(values: Mapping[str, object], machine: Machine) -> tuple[ServerSpec, Endpoint]:
    """``sockbench serve``'s options: the server to run and where it binds."""
    v = convert_all("serve", dict(values))
    proto = parse_proto(str(v["proto"]))
    endpoint = parse_bind(str(v["bind"] or default_bind(proto, machine)), proto)
    spec = ServerSpec(
        str(v["model"]).strip().lower(),
        ServerBehaviour(str(v["behaviour"]).strip().lower()),
        int(v["server_threads"]),  # type: ignore[call-overload]
        int(v["server_processes"]),  # type: ignore[call-overload]
    )
    check_options(spec, endpoint.proto)
    return spec, endpoint


def default_bind(proto: Proto, machine: Machine) -> str:
    """Where ``serve`` listens without --bind: a TCP/UDP port, or a socket file in the
    user's runtime directory (never the current one, which a name like HOST:PORT would
    litter)."""
    if proto.is_unix:
        return f"{machine.runtime_dir.rstrip('/')}/sockbench-{proto.value}.sock"
    return "127.0.0.1:9000"


def _file(path: object, files: Mapping[str, bytes] | None) -> bytes | None:
    if path is None:
        return None
    assert files is not None and str(path) in files, "sockbench.machine reads --send-file"
    return files[str(path)]


def _check_limits(v: Mapping[str, object], proto: Proto, request: bytes | None) -> None:
    """The upper bounds and finiteness of sizes, counts and seconds (core.bounds)."""
    bounds.check_clients(int(v["clients"]))  # type: ignore[call-overload]
    if v["duration_s"] is not None:
        bounds.check_seconds(float(v["duration_s"]), "--duration", maximum=bounds.MAX_RUN_S)  # type: ignore[arg-type]
    warmup = float(v["warmup_s"])  # type: ignore[arg-type]
    bounds.check_seconds(warmup, "--warmup", maximum=bounds.MAX_RUN_S, zero_ok=True)
    if v["timeout_s"] is not None:  # None: the transport's default
        timeout = float(v["timeout_s"])  # type: ignore[arg-type]
        bounds.check_seconds(timeout, "--timeout", maximum=bounds.MAX_TIMEOUT_S)
    interval = float(v["interval_s"])  # type: ignore[arg-type]
    bounds.check_seconds(
        interval, "--interval", minimum=bounds.MIN_INTERVAL_S, maximum=bounds.MAX_RUN_S
    )
    if v["rate"] is not None:
        bounds.check_rate(float(v["rate"]))  # type: ignore[arg-type]
    datagram = not proto.is_stream
    bounds.check_message_size(int(v["payload"]), "--payload", datagram=datagram)  # type: ignore[call-overload]
    if request is not None:
        bounds.check_message_size(len(request), "--send", datagram=datagram)
    if v["expect_size"] is not None:
        bounds.check_message_size(int(v["expect_size"]), "--expect-size", datagram=False)  # type: ignore[call-overload]


def _resolve_proto(text: str, endpoint: Endpoint | None) -> Proto:
    """The target's scheme names the protocol; --proto must agree when given explicitly."""
    chosen = parse_proto(text) if text else (endpoint.proto if endpoint else Proto.TCP)
    if endpoint and endpoint.proto != chosen:
        raise ConfigError(
            f"--proto {chosen.value} does not match target {endpoint.url()}; "
            "drop --proto or fix one"
        )
    return chosen


def _check_payload(proto: Proto, payload: int) -> None:
    if proto.is_stream:
        return
    if payload < SEQ_SIZE:
        raise ConfigError(
            f"--payload {payload} is too small for datagrams: each carries an "
            f"{SEQ_SIZE}-byte sequence number"
        )
    if payload > UDP_MAX_PAYLOAD:
        raise ConfigError(
            f"--payload {payload} is over the datagram limit of {UDP_MAX_PAYLOAD} bytes"
        )


def clients_per_process(machine: Machine) -> int:
    """How many connections one process (a generator worker, a prefork server process)
    is given: :data:`DESCRIPTOR_SHARE` of its hard descriptor limit (15,000 of 20,000)."""
    return max(1, int(machine.nofile_limit * DESCRIPTOR_SHARE))


def processes_for(clients: int, machine: Machine) -> int:
    """The fewest processes that hold ``clients`` connections under the descriptor limit."""
    return -(-clients // clients_per_process(machine))


def default_timeout(proto: Proto, clients: int) -> float:
    """--timeout's default: a datagram's loss timeout; a stream's give-up, longer with
    many clients so queueing (Little's law) is measured as latency, not errors."""
    if not proto.is_stream:
        return DATAGRAM_TIMEOUT_S
    return max(STREAM_TIMEOUT_S, float(math.ceil(clients / LITTLE_RPS_FLOOR)))


def _check_ramp(
    ramp: object, connect_rate: object, clients: int, mode: Workload, rate: float | None
) -> None:
    """--ramp and --connect-rate: bounds, and a ramp the connect rate can keep up with."""
    ramp_s = float(ramp or 0.0)  # type: ignore[arg-type]
    bounds.check_seconds(ramp_s, "--ramp", maximum=bounds.MAX_RUN_S, zero_ok=True)
    if connect_rate is not None:
        bounds.check_rate(float(connect_rate), "--connect-rate")  # type: ignore[arg-type]
    if ramp_s and mode == Workload.CHURN:
        raise ConfigError("--ramp applies to --mode echo and stream; churn connects per request")
    if ramp_s and rate is None and connect_rate is not None:
        needed = clients / float(connect_rate)  # type: ignore[arg-type]
        if needed > ramp_s:
            raise ConfigError(
                f"--connect-rate {float(connect_rate):g} brings --clients {clients:,} up in "  # type: ignore[arg-type]
                f"{needed:g} s, longer than --ramp {ramp_s:g}; give --ramp {needed:g}s "
                "or more, or raise --connect-rate"
            )


def _check_drain(drain: object, timeout: object) -> None:
    if drain is not None and float(drain) > float(timeout):  # type: ignore[arg-type]
        raise ConfigError(
            f"--drain {drain:g} is longer than --timeout {timeout:g}: a request is followed "
            "at most --timeout after it was sent or due; lower --drain or raise --timeout"
        )


def _check_workload(
    proto: Proto,
    mode: Workload,
    rate: float | None,
    pipeline: int,
    request: bytes | None,
    expect: ExpectKind,
) -> None:
    if pipeline > 1 and (not proto.is_stream or mode != Workload.ECHO):
        raise ConfigError("--pipeline needs --mode echo over a stream protocol (tcp or unix)")
    if mode == Workload.CHURN and not proto.is_stream:
        raise ConfigError("--mode churn opens a connection per request: it needs tcp or unix")
    if mode == Workload.STREAM:
        if not proto.is_stream and rate is None:
            raise ConfigError("--mode stream over datagrams sends at a fixed rate: give --rate")
        if proto.is_stream and rate is not None:
            raise ConfigError("--mode stream over tcp/unix sends as fast as it can; drop --rate")
        if request is not None or expect != ExpectKind.ECHO:
            raise ConfigError("--mode stream is one-way: --send/--expect do not apply")
    if mode == Workload.CHURN and rate is not None:
        raise ConfigError("--mode churn is closed-loop; drop --rate")
    if not proto.is_stream and (request is not None or expect != ExpectKind.ECHO):
        raise ConfigError("--send/--expect apply to stream protocols (tcp, unix)")


KEY_OPTIONS = ("ratio", "key_space", "key_pattern", "value_size")


def check_protocol(
    protocol: str,
    proto: Proto,
    mode: Workload,
    request: bytes | None,
    expect: ExpectKind,
    v: Mapping[str, object],
    rate: float | None,
    pipeline: int,
) -> dict[str, object]:
    """The ``--protocol`` fields of a RunConfig. Building the protocol (which may import a
    plugin) is :func:`sockbench.machine.build_run_config`'s part of the checking."""
    protocol = protocol.strip() or "echo"
    if protocol != "echo":
        if not proto.is_stream or mode != Workload.ECHO:
            raise ConfigError("--protocol applies to --mode echo over tcp or unix")
        if expect != ExpectKind.ECHO:
            raise ConfigError(
                "--expect/--expect-size/--expect-until are the echo protocol's; "
                f"--protocol {protocol} checks its own replies"
            )
        if request is not None and uses_key_options(protocol):
            raise ConfigError(f"--protocol {protocol} makes its own requests; drop --send")
    fields: dict[str, object] = {"protocol": protocol}
    ratio = parse_ratio(str(v["ratio"]))
    key_space, key_pattern = int(v["key_space"]), str(v["key_pattern"]).strip().upper()  # type: ignore[call-overload]
    value_size = int(v["value_size"])  # type: ignore[call-overload]
    check_key_options(key_space, key_pattern, value_size)
    if uses_key_options(protocol):
        fields.update(
            ratio=ratio, key_space=key_space, key_pattern=key_pattern, value_size=value_size
        )
    return fields


def parse_exchange(
    send: object,
    send_file: bytes | None,
    expect: object,
    expect_size: object,
    expect_until: object,
) -> tuple[bytes | None, ExpectKind, bytes | int | None]:
    """``(request, expect kind, expect value)`` from --send/--send-file and the --expect options.

    Without --send the request is a generated payload echoed back; with it and no
    expectation, the reply must echo the request. ``send_file`` is the file's content.
    """
    if send is not None and send_file is not None:
        raise ConfigError("give --send or --send-file, not both")
    request = parse_escapes(str(send)) if send is not None else send_file
    if request is not None and not request:
        raise ConfigError("the request given by --send/--send-file is empty")
    given = [
        (k, v)
        for k, v in (
            (ExpectKind.EXACT, expect),
            (ExpectKind.SIZE, expect_size),
            (ExpectKind.UNTIL, expect_until),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise ConfigError("give only one of --expect, --expect-size and --expect-until")
    if not given:
        return request, ExpectKind.ECHO, None
    if request is None:
        raise ConfigError("--expect/--expect-size/--expect-until need --send or --send-file")
    kind, value = given[0]
    if kind == ExpectKind.SIZE:
        assert isinstance(value, int)
        return request, kind, value
    parsed = parse_escapes(str(value))
    if not parsed:
        raise ConfigError(
            f"--expect{'-until' if kind == ExpectKind.UNTIL else ''} must not be empty"
        )
    return request, kind, parsed


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


#: ``--workers auto`` with ``--cluster``: one per CPU of the cluster, known once joined.
CLUSTER_AUTO_WORKERS = 0


def workers_for(
    text: str,
    clients: int,
    client_cpus: tuple[int, ...],
    machine: Machine,
    *,
    force: bool = False,
    cluster: bool = False,
) -> int:
    """``--workers``: a number, or ``auto``. A pinned generator has its CPUs to itself, so
    ``auto`` may use all of them rather than half the machine's; over a cluster, ``auto``
    is :data:`CLUSTER_AUTO_WORKERS` until the cluster says how many CPUs it has. At most
    ``bounds.WORKERS_PER_CPU`` per usable CPU unless ``force`` (not over a cluster, whose
    CPUs are not this machine's)."""
    usable = len(client_cpus) or len(machine.usable_cpus)
    if text.strip().lower() == AUTO:
        if cluster:
            return CLUSTER_AUTO_WORKERS
        cpus = 2 * len(client_cpus) if client_cpus else machine.cpu_count
        workers = auto_workers(clients, cpus, clients_per_process(machine))
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
    try:
        workers = int(text)
    except ValueError:
        raise ConfigError(f"--workers must be a number or 'auto', got {text!r}") from None
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if workers > clients:
        raise ConfigError(f"--workers {workers} is more than --clients {clients}")
    return workers if cluster else bounds.check_workers(workers, usable, force=force)


def parse_cluster(value: object) -> str | None:
    """``--cluster``: ``ray`` (the running cluster) or ``ray:HOST:PORT``; None or '' is none."""
    text = str(value or "").strip()
    if not text:
        return None
    kind, _, address = text.partition(":")
    if kind != "ray":
        raise ConfigError(f"--cluster must be 'ray' or 'ray:HOST:PORT', got {text!r}")
    if address:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"--cluster {text!r}: expected ray:HOST:PORT, e.g. ray:10.0.0.5:6379")
    return text
