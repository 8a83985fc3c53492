"""One run, checked: :class:`RunSpec`, from the options as given and the machine (pure).

:func:`validate_run` checks every option and combination with one-line
:class:`ConfigError`\\ s that name the user's flags; nothing downstream checks input
again, it may assert. What it needs to know about the machine (usable CPUs, core
count, the content of ``--send-file``) is read by :mod:`sockbench.machine` and passed
in, so every check is a pure function of its arguments.

The spec keeps the options as given (``load``, ``request``, ``server_options``,
``generator``, ``output``) beside what they decide: the transport, the server
(:data:`Server`), the protocol and the :class:`Sizing`. The result document's
``config`` is :meth:`RunSpec.to_json`, the one place the spec becomes a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sockbench.core.kinds import ExpectKind, ServerBehaviour, Workload
from sockbench.core.machine import Machine
from sockbench.core.protocols import ProtocolOptions, uses_key_options
from sockbench.core.spec import rules
from sockbench.core.spec.generator import Generator
from sockbench.core.spec.load import Load
from sockbench.core.spec.option import NONE, CommandName, Names, parse_record
from sockbench.core.spec.output import Output
from sockbench.core.spec.request import ProtocolChoice, Request
from sockbench.core.spec.server import (
    DEFAULT_MODEL,
    BuiltIn,
    Command,
    Server,
    ServerOptions,
    Target,
    server_command,
)
from sockbench.core.spec.sizing import Sizing, size
from sockbench.core.spec.tls import TlsOptions, TlsSettings, tls_settings
from sockbench.endpoints import Endpoint, Proto, parse_target
from sockbench.errors import ConfigError

#: The records ``run`` takes its options from, in the order ``run --help`` lists them.
RUN_RECORDS = (Load, Request, ServerOptions, TlsOptions, Generator, Output)


@dataclass(frozen=True)
class RunOptions:
    """A run's options as given, one record per group, and which were given (by name: an
    option given its default was given, and is refused where it does not apply)."""

    load: Load = field(default_factory=Load)
    request: Request = field(default_factory=Request)
    server_options: ServerOptions = field(default_factory=ServerOptions)
    generator: Generator = field(default_factory=Generator)
    output: Output = field(default_factory=Output)
    tls: TlsOptions = field(default_factory=TlsOptions)
    given: frozenset[str] = frozenset()


def parse_run(
    values: Mapping[str, object],
    names: Names,
    command: CommandName = "run",
    spelled: Mapping[str, str] = NONE,
) -> RunOptions:
    """The options of a run from values keyed by option name (missing: the default).

    ``command`` "compare" parses the options its cells share; its own are its caller's.
    """
    return RunOptions(
        parse_record(Load, values, command, names, spelled),
        parse_record(Request, values, command, names, spelled),
        parse_record(ServerOptions, values, command, names, spelled),
        parse_record(Generator, values, command, names, spelled),
        parse_record(Output, values, command, names, spelled),
        parse_record(TlsOptions, values, command, names, spelled),
        frozenset(values),
    )


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run.

    The trade-off: the options as given stay beside what they decide (``load.timeout_s``
    None beside ``sizing.timeout_s`` 10.0), which costs two fields where one would do, so
    that the result records what was asked as it always has and nothing downstream
    decides again: the engine reads only the decisions.
    """

    proto: Proto
    server: Server
    protocol: ProtocolChoice
    sizing: Sizing
    load: Load
    request: Request
    server_options: ServerOptions
    generator: Generator
    output: Output
    machine: Machine  # the facts it was checked and sized against
    tls: TlsSettings | None = None  # a tls:// target, or a built-in model with --server-tls

    @property
    def server_name(self) -> str | None:
        """The model's or the command's name; None for a target."""
        if isinstance(self.server, BuiltIn):
            return self.server.model
        if isinstance(self.server, Command):
            return self.server.name
        return None

    def with_workers(self, workers: int) -> RunSpec:
        """The same run over ``workers`` workers (a cluster's ``auto``, once known)."""
        return replace(self, sizing=replace(self.sizing, workers=workers))

    def trusting(self, ca_pem: str) -> RunSpec:
        """The same run, its TLS clients trusting ``ca_pem`` (a built-in model's own CA)."""
        assert self.tls is not None
        if self.tls.ca_pem is not None or not self.tls.verify:  # --tls-ca, --tls-insecure
            return self
        return replace(self, tls=self.tls.trusting(ca_pem))

    def with_server_logs(self, prefix: str) -> RunSpec:
        """The same run, with a command's stdout and stderr at ``prefix`` + their names."""
        assert isinstance(self.server, Command)
        return replace(self, server=replace(self.server, logs=prefix))

    def to_json(self) -> dict[str, Any]:
        """The result's ``config``: its keys, their order and values are a schema
        (docs/result.schema.json); later versions add keys, never change these."""
        load, sizing, protocol = self.load, self.sizing, self.protocol.options
        command = self.server if isinstance(self.server, Command) else None
        doc: dict[str, Any] = {
            "proto": self.proto.value,
            "clients": load.clients,
            "duration_s": sizing.duration_s,
            "warmup_s": load.warmup_max_s,
            "ramp_s": load.ramp_s,
            "connect_rate": load.connect_rate,
            "payload": self.request.payload,
            "timeout_s": sizing.timeout_s,
            "target": self.server.endpoint.url() if isinstance(self.server, Target) else None,
            "server_model": self.server_name,
            "workers": sizing.workers,
            "source_ips": list(sizing.source_ips),
            "server_threads": self.server_options.server_threads,
            "server_processes": sizing.server_processes,
            "server_cpus": list(sizing.server_cpus),
            "client_cpus": list(sizing.client_cpus),
            "mode": load.mode.value,
            "rate": load.rate,
            "arrival": load.arrival.value,
            "seed": load.seed,
            "pipeline": load.pipeline,
            "requests": load.requests,
            "interval_s": load.interval_s,
            "request": _text(protocol.request),
            "expect": ExpectKind(protocol.expect).value,
            "expect_value": _text(protocol.expect_value),
            "batch": self.generator.batch,
            "busy_poll": self.generator.busy_poll,
            "socket_buffer": self.generator.socket_buffer,
            "drain_s": load.drain_s,
            "cluster": self.generator.cluster,
            "json_path": self.output.json_path,
            "out_dir": self.output.out_dir,
            "external": _command_json(command) if command else None,
            "server_logs": command.logs if command else None,
            "protocol": self.protocol.name,
        }
        if uses_key_options(self.protocol.name):  # else the key/value mix does not apply
            doc.update(rules.key_value_json(protocol))
        if self.protocol.name == "http":
            http = protocol.http
            doc["http"] = {
                "method": http.method,
                "paths": list(http.paths),
                "headers": [f"{name}: {value}" for name, value in http.headers],
                "body": _text(http.body),
            }
        doc["checks"] = list(self.output.checks)
        doc["percentiles"] = list(self.output.percentiles)
        if load.bitrate is not None:  # given: `rate` is the datagrams/s derived from it
            doc["bitrate"] = load.bitrate
        if load.mode is Workload.STREAM:
            doc["direction"] = load.direction.value
        if self.tls is not None:
            doc["tls"] = self.tls.to_json()
            doc["server_tls"] = isinstance(self.server, BuiltIn) and self.server.tls
        return doc


def _text(value: bytes | int | None) -> str | int | None:
    """Bytes as the document stores them: latin-1 text, one character per byte."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _command_json(command: Command) -> dict[str, Any]:
    return {
        "name": command.name,
        "template": command.template,
        "ready_line": command.ready_line,
        "ready_timeout_s": command.ready_timeout_s,
    }


def validate_run(
    options: RunOptions,
    machine: Machine,
    *,
    send_file: bytes | None = None,
    http_files: tuple[bytes | None, bytes | None] = (None, None),
    tls_ca: str | None = None,
) -> RunSpec:
    """Check a run's options and their combinations; size what they leave open.

    ``send_file`` is the content of the file ``--send-file`` names, ``http_files`` those of
    ``--body-file`` and ``--http-paths-file``, ``tls_ca`` that of ``--tls-ca``. Raises
    :class:`ConfigError`; whether a built-in model can serve here, and a plugin protocol
    (and the --check thresholds that read its kinds), are checked at the option layer's
    edge (:mod:`sockbench.machine`), which knows the installed models and may import a
    plugin; a built-in protocol is built here, which runs no plugin's code.
    """
    load, request, chosen, generator, output = (
        options.load, options.request, options.server_options, options.generator,
        options.output,
    )  # fmt: skip
    endpoint = (
        parse_target(chosen.target, allow_remote=generator.allow_remote) if chosen.target else None
    )
    proto = rules.resolve_proto(load.proto, endpoint)
    rules.check_payload(proto, request.payload)
    load = rules.with_bitrate(load, proto, request.payload)
    reply = rules.reply_of(request, send_file)
    rules.check_sizes(proto, request.payload, reply[0])
    rules.check_workload(proto, load, reply)
    rules.check_histogram_formats(load, output)
    rules.check_direction(load)
    rules.check_ramp(load)
    rules.check_arrival(load)
    rules.check_until(load, output.percentiles)
    rules.check_warmup(load)
    rules.check_applies(request, options.given)
    rules.check_protocol(request, proto, load.mode, reply)
    rules.check_zipf(request, options.given)  # after its range: that error names the value
    command = _command(chosen, proto, endpoint)
    output = replace(output, json_path=rules.json_path(output), out_dir=output.out_dir or None)
    model = None if endpoint or command else (chosen.server_model or DEFAULT_MODEL)
    rules.check_server_speaks(request.protocol, model)
    rules.check_server_tls(options.tls.server_tls, model, proto)
    tls = tls_settings(
        options.tls, bool(endpoint and endpoint.tls) or options.tls.server_tls, tls_ca
    )
    sizing = size(load, chosen, generator, proto, endpoint, machine, prefork=model == "prefork")
    rules.check_drain(load.drain_s, sizing.timeout_s)
    rules.check_schedule(load, sizing.duration_s)
    server: Server
    if endpoint is not None:
        server = Target(endpoint)
    elif command is not None:
        server = command
    else:
        assert model is not None
        behaviour = _behaviour(load)
        server = BuiltIn(
            model, behaviour, chosen.server_threads, sizing.server_processes, sizing.server_cpus,
            tls=options.tls.server_tls,
        )  # fmt: skip
    sent, expect, expect_value = reply
    protocol = ProtocolChoice(
        request.protocol,
        ProtocolOptions(
            payload=request.payload, request=sent, expect=expect, expect_value=expect_value,
            http=rules.http_of(request, endpoint, http_files),
            **rules.key_value_options(request, load.clients, load.seed),
        ),
    )  # fmt: skip
    rules.check_thresholds(output.checks, proto, load.rate, protocol)
    return RunSpec(
        proto, server, protocol, sizing, load, request, chosen, generator, output, machine, tls
    )


def _behaviour(load: Load) -> ServerBehaviour:
    """What a built-in model does: echo; for a stream a sink, a source where it sends."""
    if load.mode is not Workload.STREAM:
        return ServerBehaviour.ECHO
    return ServerBehaviour.SOURCE if load.direction.reads else ServerBehaviour.SINK


def _command(chosen: ServerOptions, proto: Proto, endpoint: Endpoint | None) -> Command | None:
    """``--server-cmd`` (named by ``--server-name``, else after its program), checked."""
    if chosen.server_cmd is None:
        for given, flag in (
            (chosen.ready_line, "--ready-line"),
            (chosen.server_name, "--server-name"),
        ):
            if given is not None:
                raise ConfigError(f"{flag} applies to --server-cmd")
        return None
    if endpoint is not None:
        raise ConfigError("give --target or --server-cmd, not both")
    command = server_command(
        chosen.server_name,
        chosen.server_cmd,
        ready_line=chosen.ready_line,
        ready_timeout_s=chosen.ready_timeout_s,
    )
    command.check(proto)
    return command
