"""``sockbench serve``: one built-in model, where it binds (pure)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from sockbench.core.kinds import ServerBehaviour
from sockbench.core.machine import Machine
from sockbench.core.spec.generator import ALLOW_REMOTE
from sockbench.core.spec.load import Load
from sockbench.core.spec.option import (
    NONE,
    SERVE,
    Names,
    check_names,
    choice_of,
    field_of,
    filled,
    option,
    optional,
    parse_record,
    values_of,
)
from sockbench.core.spec.output import Output
from sockbench.core.spec.rules import check_server_tls
from sockbench.core.spec.server import DEFAULT_MODEL, BuiltIn, ServerOptions
from sockbench.core.spec.tls import TlsOptions
from sockbench.endpoints import Endpoint, Proto, parse_bind
from sockbench.errors import ConfigError


@dataclass(frozen=True)
class ServeOptions:
    bind: str | None = option(
        None, "--bind", metavar="HOST:PORT|PATH",
        help="HOST:PORT, or a Unix socket path",
        parse=optional(filled(
            "HOST:PORT or a Unix socket path, or leave --bind out for the default "
            "(127.0.0.1:9000; a socket in $XDG_RUNTIME_DIR for unix)"
        )),
        commands=SERVE, default_help="127.0.0.1:9000; unix: $XDG_RUNTIME_DIR/sockbench-unix.sock",
    )  # fmt: skip
    behaviour: ServerBehaviour = option(
        ServerBehaviour.ECHO, "--behaviour",
        help="echo, sink (read and discard), or source (a sink that also writes a stream: "
        "the server of run --reverse/--bidir)",
        parse=choice_of(ServerBehaviour), choices=values_of(ServerBehaviour), commands=SERVE,
    )  # fmt: skip
    allow_remote: bool = field_of(ALLOW_REMOTE)


#: The records ``serve`` takes its options from, in the order ``serve --help`` lists them.
SERVE_RECORDS = (Load, ServerOptions, ServeOptions, TlsOptions, Output)


@dataclass(frozen=True)
class ServeSpec:
    server: BuiltIn
    bind: Endpoint
    output: Output


def validate_serve(
    values: Mapping[str, object], machine: Machine, names: Names, spelled: Mapping[str, str] = NONE
) -> ServeSpec:
    """``sockbench serve``'s options: the server to run and where it binds."""
    check_names(values, SERVE_RECORDS, "serve")
    load = parse_record(Load, values, "serve", names, spelled)
    chosen = parse_record(ServerOptions, values, "serve", names, spelled)
    serve = parse_record(ServeOptions, values, "serve", names, spelled)
    proto = load.proto or Proto.TCP
    endpoint = parse_bind(serve.bind or default_bind(proto, machine), proto)
    check_bind(endpoint, allow_remote=serve.allow_remote)
    tls = parse_record(TlsOptions, values, "serve", names, spelled).server_tls
    check_server_tls(tls, chosen.server_model or DEFAULT_MODEL, proto)
    server = BuiltIn(
        chosen.server_model or DEFAULT_MODEL,
        serve.behaviour,
        chosen.server_threads,
        chosen.server_processes,
        tls=tls,
    )
    return ServeSpec(server, endpoint, parse_record(Output, values, "serve", names, spelled))


def check_bind(endpoint: Endpoint, *, allow_remote: bool) -> None:
    """A server binds loopback unless ``--allow-remote``: an echo server other hosts reach
    (over UDP, a reflector that answers forged sources) is not a benchmark's to open."""
    if endpoint.proto.is_unix or allow_remote:
        return
    address = ipaddress.ip_address(endpoint.host)
    if not address.is_loopback:
        where = "every interface" if address.is_unspecified else "a non-loopback address"
        raise ConfigError(
            f"--bind {endpoint.host} listens on {where}, where other hosts reach it; bind "
            "127.0.0.1 or ::1, or pass --allow-remote if you mean to serve them"
        )


def default_bind(proto: Proto, machine: Machine) -> str:
    """Where ``serve`` listens without --bind: a TCP/UDP port, or a socket file in the
    user's runtime directory (never the current one, which a name like HOST:PORT would
    litter)."""
    if proto.is_unix:
        return f"{machine.runtime_dir.rstrip('/')}/sockbench-{proto.value}.sock"
    return "127.0.0.1:9000"
