"""The checks between options: what cannot run together, refused in one line each (pure).

A single option's type and bounds are on its declaration (:mod:`.option`); what the
options leave open is the sizing policy's (:mod:`.sizing`). What is left is here:
combinations, and bounds that depend on another option (a payload's limit on the
transport, a drain's on the timeout).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sockbench.core import bounds
from sockbench.core.datagrams import SEQ_SIZE
from sockbench.core.expect import parse_escapes
from sockbench.core.kinds import Arrival, ExpectKind, Workload
from sockbench.core.metrics import KIND_PREFIX
from sockbench.core.protocols import ProtocolAdapter, builtin_name, is_builtin, speaks_its_own
from sockbench.core.protocols.http import HTTP_DEFAULTS, HttpOptions, http_options
from sockbench.core.protocols.mix import ProtocolOptions, check_key_options, command_key_patterns
from sockbench.core.spec.formats import ReportFormat
from sockbench.core.spec.load import Load
from sockbench.core.spec.option import given_options
from sockbench.core.spec.output import Output
from sockbench.core.spec.request import ProtocolChoice, Request
from sockbench.core.warmup import MIN_ROWS
from sockbench.endpoints import Endpoint, Proto
from sockbench.errors import ConfigError

if TYPE_CHECKING:
    from sockbench.core.checks import Check

UDP_MAX_PAYLOAD = 65507  # 65535 - 8 (UDP header) - 20 (IPv4 header)
Reply = tuple[bytes | None, ExpectKind, bytes | int | None]


def check_server_tls(server_tls: bool, model: str | None, proto: Proto) -> None:
    """``--server-tls`` makes a built-in model serve TLS over TCP, and nothing else."""
    if not server_tls:
        return
    if model is None:
        raise ConfigError(
            "--server-tls applies to a built-in model (--server); a --target or --server-cmd "
            "serves TLS on its own: give --target tls://HOST:PORT"
        )
    if proto is not Proto.TCP:
        raise ConfigError(f"--server-tls serves TLS over tcp, not {proto.value}")


def resolve_proto(given: Proto | None, endpoint: Endpoint | None) -> Proto:
    """The target's scheme names the protocol; --proto must agree when given explicitly."""
    chosen = given or (endpoint.proto if endpoint else Proto.TCP)
    if endpoint and endpoint.proto != chosen:
        raise ConfigError(
            f"--proto {chosen.value} does not match target {endpoint.url()}; "
            "drop --proto or fix one"
        )
    return chosen


def check_payload(proto: Proto, payload: int) -> None:
    if not proto.is_stream:
        if payload < SEQ_SIZE:
            raise ConfigError(
                f"--payload {payload} is too small for datagrams: each carries an "
                f"{SEQ_SIZE}-byte sequence number"
            )
        if payload > UDP_MAX_PAYLOAD:
            raise ConfigError(
                f"--payload {payload} is over the datagram limit of {UDP_MAX_PAYLOAD} bytes"
            )


def reply_of(request: Request, send_file: bytes | None) -> Reply:
    """``(request, expect kind, expect value)`` from --send/--send-file and the --expect options.

    Without --send the request is a generated payload echoed back; with it and no
    expectation, the reply must echo the request. ``send_file`` is the file's content.
    """
    if request.send is not None and send_file is not None:
        raise ConfigError("give --send or --send-file, not both")
    sent = parse_escapes(request.send) if request.send is not None else send_file
    if sent is not None and not sent:
        raise ConfigError("the request given by --send/--send-file is empty")
    given: list[tuple[ExpectKind, str | int]] = [
        (kind, value)
        for kind, value in (
            (ExpectKind.EXACT, request.expect_reply),
            (ExpectKind.SIZE, request.expect_size),
            (ExpectKind.UNTIL, request.expect_until),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise ConfigError("give only one of --expect, --expect-size and --expect-until")
    if not given:
        return sent, ExpectKind.ECHO, None
    if sent is None:
        raise ConfigError("--expect/--expect-size/--expect-until need --send or --send-file")
    kind, value = given[0]
    if isinstance(value, int):
        return sent, kind, value
    parsed = parse_escapes(value)
    if not parsed:
        raise ConfigError(
            f"--expect{'-until' if kind == ExpectKind.UNTIL else ''} must not be empty"
        )
    return sent, kind, parsed


def check_sizes(proto: Proto, payload: int, sent: bytes | None) -> None:
    """A message's bound depends on the transport: a datagram's, or the stream cap."""
    datagram = not proto.is_stream
    bounds.check_message_size(payload, "--payload", datagram=datagram)
    if sent is not None:
        bounds.check_message_size(len(sent), "--send", datagram=datagram)


def with_bitrate(load: Load, proto: Proto, payload: int) -> Load:
    """``--bitrate`` (bits/s, iperf3's ``-b``) as the run's ``--rate``: datagrams of
    ``--payload`` bytes per second, over all clients; ``load`` as it is without it."""
    bitrate = load.bitrate
    if bitrate is None:
        return load
    if load.mode != Workload.STREAM or proto.is_stream:
        raise ConfigError(
            "--bitrate paces --mode stream over datagrams (udp, unix-dgram); "
            "tcp/unix streams send as fast as they can, and --mode echo paces with --rate"
        )
    if load.rate is not None:
        raise ConfigError("give --rate (datagrams/s) or --bitrate (bits/s), not both")
    if not math.isfinite(bitrate):
        raise ConfigError(f"--bitrate must be a finite number of bits/s, got {bitrate}")
    rate = bitrate / 8 / payload
    if not bounds.MIN_RATE <= rate <= bounds.MAX_RATE:
        raise ConfigError(
            f"--bitrate {bitrate:g} with --payload {payload} is {rate:g} datagrams/s; "
            f"give one between {bounds.MIN_RATE:g} and {bounds.MAX_RATE:,.0f} datagrams/s "
            f"({bounds.MIN_RATE * 8 * payload:g} to {bounds.MAX_RATE * 8 * payload:g} bits/s "
            "at this payload)"
        )
    return replace(load, rate=rate)


def check_workload(proto: Proto, load: Load, reply: Reply) -> None:
    sent, expect, _ = reply
    mode, rate = load.mode, load.rate
    if load.pipeline > 1 and (not proto.is_stream or mode != Workload.ECHO):
        raise ConfigError("--pipeline needs --mode echo over a stream protocol (tcp or unix)")
    if mode == Workload.CHURN and not proto.is_stream:
        raise ConfigError("--mode churn opens a connection per request: it needs tcp or unix")
    if mode == Workload.STREAM:
        if load.requests is not None:
            raise ConfigError(
                "--requests stops after a count of requests, and --mode stream sends none "
                "(it moves bytes one way or both): give -d/--duration"
            )
        if not proto.is_stream and rate is None:
            raise ConfigError("--mode stream over datagrams sends at a fixed rate: give --rate")
        if proto.is_stream and rate is not None:
            raise ConfigError("--mode stream over tcp/unix sends as fast as it can; drop --rate")
        if sent is not None or expect != ExpectKind.ECHO:
            raise ConfigError("--mode stream is one-way: --send/--expect do not apply")
    if mode == Workload.CHURN and rate is not None:
        raise ConfigError("--mode churn is closed-loop; drop --rate")
    if not proto.is_stream and (sent is not None or expect != ExpectKind.ECHO):
        raise ConfigError("--send/--expect apply to stream protocols (tcp, unix)")


#: Why a stream (``--mode stream``) has no ``.hgrm`` (report/hgrm.py says it too).
STREAM_NO_HISTOGRAM = "a stream (--mode stream) times no requests, so it has no latency histogram"
#: A stream's run, or its saved result (``report -f hgrm``), asked for ``--format hgrm``.
HGRM_REFUSED = f"--format hgrm: {STREAM_NO_HISTOGRAM}; choose another --format"


def check_histogram_formats(load: Load, output: Output) -> None:
    """A stream times no requests: there is no latency histogram for hgrm to write."""
    if load.mode != Workload.STREAM:
        return
    if output.fmt == ReportFormat.HGRM:
        raise ConfigError(HGRM_REFUSED)
    for export in output.exports:
        if export.fmt == ReportFormat.HGRM:
            raise ConfigError(f"--export {export}: {STREAM_NO_HISTOGRAM}; export another format")


def check_direction(load: Load) -> None:
    """--reverse and --bidir turn a stream around; one of them, and only a stream."""
    if load.reverse and load.bidir:
        raise ConfigError("give --reverse (the server sends) or --bidir (both ways), not both")
    if load.direction.reads and load.mode != Workload.STREAM:
        flag = "--bidir" if load.bidir else "--reverse"
        raise ConfigError(
            f"{flag} applies to --mode stream (iperf3's -R/--bidir); add --mode stream"
        )


def check_ramp(load: Load) -> None:
    """A ramp applies to connections that stay, and the connect rate must keep up with it."""
    ramp_s, connect_rate = load.ramp_s, load.connect_rate
    if ramp_s and load.mode == Workload.CHURN:
        raise ConfigError("--ramp applies to --mode echo and stream; churn connects per request")
    if ramp_s and load.rate is None and connect_rate is not None:
        needed = load.clients / connect_rate
        if needed > ramp_s:
            raise ConfigError(
                f"--connect-rate {connect_rate:g} brings --clients {load.clients:,} up in "
                f"{needed:g} s, longer than --ramp {ramp_s:g}; give --ramp {needed:g}s "
                "or more, or raise --connect-rate"
            )


def check_arrival(load: Load) -> None:
    """--arrival spaces an open-loop schedule; closed loop sends as replies come back."""
    if load.arrival != Arrival.UNIFORM and load.rate is None:
        raise ConfigError(
            f"--arrival {load.arrival.value} spaces open-loop requests: give --rate "
            "(closed loop sends each request when the last reply came back)"
        )


def check_schedule(load: Load, window_s: float) -> None:
    """An open-loop window must have a request due in it: ``--rate`` × the window under
    one may schedule none, and a run with nothing due reads as a target that answered
    nothing (degraded), not as the input it was."""
    rate = load.rate
    if rate is None or rate * window_s >= 1:
        return
    if load.bitrate is None:
        flag, asked = "--rate", f"--rate {rate:g}"
    else:
        flag, asked = "--bitrate", f"--bitrate {load.bitrate:g} ({rate:.2g} datagrams/s)"
    raise ConfigError(
        f"{asked} over a {window_s:g} s window schedules {rate * window_s:.2g} requests, so "
        f"it may hold none; raise {flag} to one request a window or more, or give "
        f"--duration {math.ceil(1 / rate):g}s or more"
    )


def check_applies(request: Request, given: Collection[str]) -> None:
    """An option of some protocols' alone (its declaration's ``protocols``: ``--ratio``,
    ``--http-method``, ``--command``) given with another is refused, naming those it
    applies to: it would change nothing. ``given``: the options the user gave, so a
    default typed out (``--http-method GET`` with echo) is refused as well."""
    protocol = request.protocol
    name = builtin_name(protocol)  # length-prefixed:u16 is length-prefixed's
    for opt in given_options(request, given):
        applies = opt.protocols
        if applies is None or name in applies.names:
            continue
        if applies.plugins and not is_builtin(protocol):
            continue
        raise ConfigError(f"{opt.flag} applies to {applies}, not --protocol {protocol}")


def check_zipf(request: Request, given: Collection[str]) -> None:
    """``--zipf`` is key pattern Z's exponent: given where no key pattern is Z (memtier's
    ``--key-zipf-exp`` without ``--key-pattern Z``), it would change nothing, so it is
    refused rather than recorded as if it shaped the keys."""
    if not any(opt.name == "zipf" for opt in given_options(request, given)):
        return
    options = ProtocolOptions(**key_value_options(request, 1, 0))
    used = command_key_patterns(options) if options.commands else options.key_pattern.split(":")
    if "Z" not in used:
        flag = "--command-key-pattern" if options.commands else "--key-pattern"
        raise ConfigError(
            f"--zipf is --key-pattern Z's exponent, and no key pattern here is Z "
            f"({flag} {':'.join(used)}); give Z, or drop --zipf"
        )


def check_protocol(request: Request, proto: Proto, mode: Workload, reply: Reply) -> None:
    """--protocol and its key options. Building the protocol (which may import a plugin)
    is the option layer's edge's part of the checking (:mod:`sockbench.machine`)."""
    sent, expect, _ = reply
    protocol = request.protocol
    if protocol != "echo":
        if not proto.is_stream or mode != Workload.ECHO:
            raise ConfigError("--protocol applies to --mode echo over tcp or unix")
        if expect != ExpectKind.ECHO:
            raise ConfigError(
                "--expect/--expect-size/--expect-until are the echo protocol's; "
                f"--protocol {protocol} checks its own replies"
            )
        if sent is not None and speaks_its_own(protocol):
            raise ConfigError(f"--protocol {protocol} makes its own requests; drop --send")
    _one_per_template("--command-ratio", request.command_ratio, request.command)
    _one_per_template("--command-key-pattern", request.command_key_pattern, request.command)
    if request.command and request.multi_key != 1:
        raise ConfigError("--multi-key applies to the SET/GET mix, not to --command templates")
    if request.command and ":" in request.key_pattern:
        raise ConfigError("--command templates take one --key-pattern letter, not SET:GET")
    if any(n < 1 for n in request.command_ratio):
        raise ConfigError("--command-ratio must be at least 1 for each template")
    if request.key_maximum is not None and request.key_maximum < request.key_minimum:
        raise ConfigError(
            f"--key-maximum {request.key_maximum} is below --key-minimum {request.key_minimum}"
        )
    check_key_options(ProtocolOptions(**key_value_options(request, 1, 0)))


def _one_per_template(flag: str, given: tuple[object, ...], templates: tuple[str, ...]) -> None:
    """``flag`` pairs with the --command templates in order: none, or one for each."""
    if given and len(given) != len(templates):
        raise ConfigError(
            f"{flag} given {len(given)} times for {len(templates)} --command templates; "
            "give one per template, in order"
        )


def key_value_options(request: Request, clients: int, seed: int) -> dict[str, Any]:
    """What redis and memcache build their mix from (:class:`ProtocolOptions`' fields):
    ``--key-maximum``, where given, sets the key space from ``--key-minimum``."""
    low, high = request.value_size
    space = request.key_space
    if request.key_maximum is not None:
        space = request.key_maximum - request.key_minimum + 1
    return {
        "value_size": low, "value_size_max": high if high != low else 0,
        "key_space": space, "key_minimum": request.key_minimum,
        "key_pattern": request.key_pattern, "key_prefix": request.key_prefix,
        "zipf": request.zipf, "ratio": request.ratio, "multi_key": request.multi_key,
        "commands": request.command, "command_ratios": request.command_ratio,
        "command_key_patterns": request.command_key_pattern,
        "clients": clients, "seed": seed,
    }  # fmt: skip


def key_value_json(options: ProtocolOptions) -> dict[str, Any]:
    """The key/value options in a result's ``config``: the mix's always, the others where
    they are not their defaults (a result stays as it was for a plain mix)."""
    doc: dict[str, Any] = {
        "ratio": list(options.ratio), "key_space": options.key_space,
        "key_pattern": options.key_pattern, "value_size": options.value_size,
    }  # fmt: skip
    defaults = ProtocolOptions()
    if options.value_size_max:
        doc["value_size_max"] = options.value_size_max
    if options.key_minimum:
        doc["key_minimum"] = options.key_minimum
    if options.key_prefix != defaults.key_prefix:
        doc["key_prefix"] = options.key_prefix
    if "Z" in (*options.key_pattern, *options.command_key_patterns):
        doc["zipf"] = options.zipf
    if options.multi_key != 1:
        doc["multi_key"] = options.multi_key
    if options.commands:
        doc["commands"] = list(options.commands)
        doc["command_ratios"] = list(options.command_ratios or (1,) * len(options.commands))
        if options.command_key_patterns:
            doc["command_key_patterns"] = list(command_key_patterns(options))
    return doc


def check_server_speaks(protocol: str, model: str | None) -> None:
    """A built-in server model (``model``; None: a target or a command) only echoes:
    redis or memcache requests against it would measure an echo server, not a key/value
    store, so they are refused, as memtier_benchmark or redis-benchmark would fail there."""
    if model is not None and speaks_its_own(protocol):
        raise ConfigError(
            f"--protocol {protocol} needs a server that speaks it, and the built-in server "
            f"model {model} only echoes; give --target tcp://HOST:PORT of a running server "
            f"or --server-cmd 'CMD with {{port}}' (docs/protocols.md)"
        )


def http_of(
    request: Request, endpoint: Endpoint | None, files: tuple[bytes | None, bytes | None]
) -> HttpOptions:
    """--protocol http's request from its options (``files``: the content of --body-file
    and --http-paths-file); with another protocol they were refused (:func:`check_applies`)."""
    if request.protocol != "http":
        return HTTP_DEFAULTS
    body_file, paths_file = files
    for path, content, flag in (
        (request.body_file, body_file, "--body-file"),
        (request.http_paths_file, paths_file, "--http-paths-file"),
    ):
        if path is not None and content is None:  # compare reads no request files
            raise ConfigError(f"{flag} applies to run, sweep and search")
    if endpoint is None:
        host = "127.0.0.1"  # a server started here: its port is not known yet
    elif endpoint.proto.is_unix:
        host = "localhost"
    else:
        host = (
            f"[{endpoint.host}]:{endpoint.port}"
            if ":" in endpoint.host
            else (f"{endpoint.host}:{endpoint.port}")
        )
    return http_options(
        request.http_method, request.http_path, request.header, request.body, body_file, host,
        paths_file,
    )  # fmt: skip


def check_until(load: Load, percentiles: Sequence[float]) -> None:
    """--until stops a timed run on a recorded latency percentile."""
    until = load.until
    if until is None:
        return
    if load.requests is not None:
        raise ConfigError(
            "--until stops a timed run (--duration is its maximum); --requests stops on a "
            "count: give one of them"
        )
    if load.mode == Workload.STREAM:
        raise ConfigError("--until reads latency percentiles; --mode stream measures none")
    if until.percentile not in percentiles:
        listed = ",".join(f"{p:g}" for p in percentiles)
        raise ConfigError(
            f"--until {until}: p{until.percentile:g} is not recorded; add it to "
            f"--percentiles ({listed})"
        )


def check_warmup(load: Load) -> None:
    """--warmup auto reads the warm-up's replies, and needs room for its minimum."""
    auto = load.auto_warmup
    if auto is None:
        return
    if load.mode == Workload.STREAM:
        raise ConfigError(
            "--warmup auto reads the replies' throughput and p99; --mode stream has none: "
            "give a fixed --warmup"
        )
    least_s = MIN_ROWS * load.interval_s
    if auto.max_s < least_s:
        raise ConfigError(
            f"--warmup {auto}: the rule needs {MIN_ROWS} intervals ({least_s:g} s at "
            f"--interval {load.interval_s:g}s): raise the maximum to {least_s:g}s at least "
            "or shorten --interval"
        )


def check_drain(drain_s: float | None, timeout_s: float) -> None:
    if drain_s is not None and drain_s > timeout_s:
        raise ConfigError(
            f"--drain {drain_s:g} is longer than --timeout {timeout_s:g}: a request is "
            "followed at most --timeout after it was sent or due; lower --drain or raise "
            "--timeout"
        )


def check_thresholds(
    checks: Sequence[str], proto: Proto, rate: float | None, protocol: ProtocolChoice
) -> None:
    """Each --check parses, and measures what this run measures: over its transport, in
    its loop, of its protocol's kinds of request and keys. A plugin's kinds are known once
    it is built (:meth:`ProtocolChoice.known`): the option layer's edge checks again then."""
    from sockbench.core.checks import parse_check  # its metric registry imports numpy

    built = protocol.known() if checks else None
    for expr in checks:
        check = parse_check(expr)
        if check.needs_datagrams and proto.is_stream:
            raise ConfigError(
                f"--check {expr!r}: {check.metric} is measured over udp and unix-dgram"
            )
        if check.needs_tcp and proto is not Proto.TCP:
            raise ConfigError(f"--check {expr!r}: {check.metric} is measured over tcp")
        if check.needs_rate and rate is None:
            raise ConfigError(
                f"--check {expr!r}: {check.metric} is measured in open loop; give --rate"
            )
        if built is not None:
            _check_recorded(expr, check, protocol.name, built)


def _check_recorded(expr: str, check: Check, name: str, protocol: ProtocolAdapter) -> None:
    """``check`` reads a kind of request ``protocol`` has, and hits or misses only where
    its requests read keys; ``name``: the --protocol given."""
    kind, kinds = check.request_kind, protocol.kinds
    if kind and not kinds:
        whole = check.metric.removeprefix(f"{KIND_PREFIX}{kind}.")
        raise ConfigError(
            f"--check {expr!r}: --protocol {name} has one kind of request, and "
            f"{KIND_PREFIX}KIND.NAME reads one of several (redis's set and get); check "
            f"{whole} of every request instead"
        )
    if kind and kind not in kinds:
        raise ConfigError(
            f"--check {expr!r}: --protocol {name} has no kind of request {kind!r}; its "
            f"kinds are {', '.join(kinds)}"
        )
    if not check.needs_lookups:
        return
    reading = [k for k, keys in zip(kinds, protocol.lookups, strict=False) if keys]
    if not reading:
        raise ConfigError(
            f"--check {expr!r}: --protocol {name} counts no hits or misses here: they are "
            "counted for requests that read keys (the GETs of redis's and memcache's mix)"
        )
    if kind and kind not in reading:
        raise ConfigError(
            f"--check {expr!r}: {kind} requests read no keys, so count no hits or misses; "
            f"{', '.join(reading)} requests do"
        )


def json_path(output: Output) -> str | None:
    """``-J`` is ``--json -``; stdout holds one thing a program reads: N documents of
    ``--repeat`` are not one, nor is the JSON beside ``--format jsonl``'s lines (a report
    format beside the JSON moves to stderr: a program reads the JSON); no ``--export``
    writes the same file."""
    if not output.json_stdout:
        path = output.json_path
    elif output.json_path not in (None, "-"):
        raise ConfigError("give -J or --json PATH, not both")
    else:
        path = "-"
    if path == "-" and output.fmt == "jsonl":
        given = "-J" if output.json_stdout else "--json -"
        raise ConfigError(
            f"{given} and --format jsonl both write to stdout, and jsonl's last line is the "
            f"result JSON already: drop {given}, or give --json FILE"
        )
    for export in output.exports:
        if export.path == path:
            raise ConfigError(
                f"--json {path} and --export {export} write the same file; give each its own"
            )
    if path == "-" and output.repeat > 1:
        raise ConfigError(
            f"--repeat {output.repeat} writes {output.repeat} results, not one JSON on stdout: "
            "give --json FILE (FILE-1, FILE-2, ...) or --format jsonl"
        )
    return path
