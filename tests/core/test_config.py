import re

import pytest

from sockbench.core.machine import Machine
from sockbench.core.spec.run import RunSpec
from sockbench.core.spec.serve import validate_serve
from sockbench.core.spec.server import BuiltIn, Target
from sockbench.core.units import format_size, parse_size
from sockbench.endpoints import Endpoint, Proto, parse_bind, parse_target
from sockbench.errors import ConfigError
from sockbench.machine import NAMES
from tests.support.specs import spec_of


@pytest.mark.parametrize(
    ("text", "size"),
    [("64", 64), ("1k", 1024), ("64KiB", 65536), ("2M", 2 * 1024**2), (" 8 kb ", 8192)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "k", "1.5.5k", "-3", "12q"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="malformed size"):
        parse_size(text)


def test_format_size() -> None:
    assert format_size(65536) == "64 KiB"
    assert format_size(100) == "100 B"


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("tcp://127.0.0.1:9000", Endpoint(Proto.TCP, "127.0.0.1", 9000)),
        ("udp://localhost:53", Endpoint(Proto.UDP, "127.0.0.1", 53)),
        ("tcp://[::1]:80", Endpoint(Proto.TCP, "::1", 80)),
        ("unix:///tmp/a.sock", Endpoint(Proto.UNIX, path="/tmp/a.sock")),
        ("unix-dgram:///tmp/b", Endpoint(Proto.UNIX_DGRAM, path="/tmp/b")),
    ],
)
def test_parse_target(text: str, endpoint: Endpoint) -> None:
    assert parse_target(text) == endpoint
    assert parse_target(endpoint.url()) == endpoint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1:9000", "malformed target"),
        ("sctp://127.0.0.1:9", "unknown protocol"),
        ("tcp://127.0.0.1", "expected HOST:PORT"),
        ("tcp://127.0.0.1:http", "not a number"),
        ("tcp://127.0.0.1:70000", "outside 0-65535"),
        ("tcp://127.0.0.1:0", "port 0"),
        ("tcp://10.1.2.3:80", "not a loopback address"),
        ("tcp://example.com:80", "numeric IP address"),
        ("unix://" + "/x" * 60, "limited to 107 bytes"),
    ],
)
def test_parse_target_rejects(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_target(text)


def test_remote_targets_need_explicit_permission() -> None:
    assert parse_target("tcp://10.1.2.3:80", allow_remote=True).host == "10.1.2.3"


def test_parse_bind() -> None:
    assert parse_bind("127.0.0.1:0", Proto.UDP) == Endpoint(Proto.UDP, "127.0.0.1", 0)
    assert parse_bind("tcp://[::1]:9", Proto.TCP) == Endpoint(Proto.TCP, "::1", 9)
    assert parse_bind("/tmp/s.sock", Proto.UNIX).path == "/tmp/s.sock"
    with pytest.raises(ConfigError, match="does not match"):
        parse_bind("udp://127.0.0.1:9", Proto.TCP)


MACHINE = Machine(usable_cpus=frozenset({0, 1, 2, 3}), cpu_count=4)


def _config(**kw: object) -> RunSpec:
    return spec_of({"clients": 10, "duration_s": 1.0, "warmup_s": 0.0, **kw}, MACHINE)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"clients": 0}, "--clients must be at least 1"),
        (
            {"clients": "lots"},
            "invalid value for '--clients': 'lots'; expected a whole number like 100, 10k",
        ),
        ({"duration_s": 0.0}, "--duration must be greater than 0"),
        ({"warmup_s": -1.0}, "--warmup cannot be negative"),
        ({"timeout_s": 0.0}, "--timeout must be greater than 0"),
        ({"proto": "udp", "payload": 65508}, "over the datagram limit of 65507"),
        ({"proto": "udp", "payload": 4}, "too small for datagrams"),
        ({"proto": "quic"}, "unknown --proto 'quic'"),
        ({"proto": "udp", "target": "tcp://127.0.0.1:9"}, "does not match target"),
        ({"mode": "flood"}, "unknown --mode 'flood'"),
        ({"fmt": "pdf"}, "unknown --format 'pdf'"),
        ({"rate": "0"}, "--rate must be greater than 0"),
        ({"server_threads": 0}, "--server-threads must be at least 1, got 0"),
        ({"server_processes": -1}, "--server-processes cannot be negative"),
        ({"server_cpus": "9"}, "--server-cpus '9' names CPUs this process cannot use"),
        ({"server_cpus": "0-1", "client_cpus": "1"}, "share CPU"),
        ({"workers": "11"}, "--workers 11 is more than --clients 10"),
        ({"server_model": "nginx"}, "unknown --server 'nginx'; choose one of threaded"),
        ({"send": "x", "send_file": "f"}, "give --send or --send-file, not both"),
        # stdout holds one thing a program reads: the JSON, or the jsonl stream ending in it
        ({"json_stdout": True, "fmt": "jsonl"}, "-J and --format jsonl both write to stdout"),
        ({"json_path": "-", "fmt": "jsonl"}, "--json - and --format jsonl both write to stdout"),
        ({"checks": ("kind.get.p99 < 1ms",)}, "--protocol echo has one kind of request"),
    ],
)
def test_config_rejects(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        spec_of({"clients": 10, **kw}, MACHINE, send_file=b"y" if "send_file" in kw else None)


def test_target_implies_proto_and_no_model() -> None:
    config = _config(proto="", target="udp://127.0.0.1:7")
    assert config.proto is Proto.UDP
    assert config.server == Target(Endpoint(Proto.UDP, "127.0.0.1", 7))
    assert config.server_name is None
    doc = config.to_json()
    assert doc["target"] == "udp://127.0.0.1:7"
    assert doc["proto"] == "udp"


def test_machine_facts_come_from_the_argument() -> None:
    config = _config(server_model="prefork", server_cpus="auto", client_cpus="auto", workers="auto")
    assert config.sizing.server_processes == 4  # one per core of the given machine
    assert (config.sizing.server_cpus, config.sizing.client_cpus) == ((0, 1), (2, 3))
    assert config.server == BuiltIn("prefork", processes=4, cpus=(0, 1))


def test_text_and_typed_values_give_the_same_config() -> None:
    typed = _config(payload=1024, rate=500.0, timeout_s=2.0)
    text = _config(payload="1k", rate="500", timeout_s="2")
    assert typed == text


def test_send_file_content_is_passed_in() -> None:
    config = spec_of({"send_file": "req.bin", "expect_size": "3"}, MACHINE, send_file=b"GET")
    options = config.protocol.options
    assert (options.request, options.expect, options.expect_value) == (b"GET", "size", 3)


def test_serve_options() -> None:
    serve = validate_serve({"server_model": "threadpool", "server_threads": "8"}, MACHINE, NAMES)
    assert serve.server == BuiltIn("threadpool", threads=8)
    assert serve.bind == Endpoint(Proto.TCP, "127.0.0.1", 9000)
    with pytest.raises(ConfigError, match="unknown --behaviour 'discard'"):
        validate_serve({"behaviour": "discard"}, MACHINE, NAMES)
    with pytest.raises(ConfigError, match="unknown --model 'nope'"):  # its old spelling
        validate_serve({"server_model": "nope"}, MACHINE, NAMES, {"server_model": "--model"})
    for behaviour in ("sink", "source"):  # a stream over TLS ends with close_notify
        tls = validate_serve({"server_tls": True, "behaviour": behaviour}, MACHINE, NAMES)
        assert tls.server.tls and tls.server.behaviour.value == behaviour


RAMP_MACHINE = Machine(frozenset({0, 1}), 2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ramp_s": "-1"}, "--ramp cannot be negative"),
        ({"ramp_s": "inf"}, "--ramp must be a finite number of seconds"),
        ({"connect_rate": "0"}, "--connect-rate must be greater than 0"),
        ({"connect_rate": "nan"}, "--connect-rate must be greater than 0, got nan"),
        ({"clients": 100, "ramp_s": "1s", "connect_rate": "10"},
         "--connect-rate 10 brings --clients 100 up in 10 s, longer than --ramp 1; give"),
        ({"mode": "churn", "ramp_s": "1s"}, "--ramp applies to --mode echo and stream"),
    ],
)  # fmt: skip
def test_ramp_options_are_checked_before_load(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        spec_of({"workers": "1", **options}, RAMP_MACHINE)


def test_ramp_options_reach_the_config() -> None:
    config = spec_of(
        {"clients": 100, "ramp_s": "2s", "connect_rate": "1k", "workers": "1"}, RAMP_MACHINE
    )
    assert (config.load.ramp_s, config.load.connect_rate) == (2.0, 1000.0)
    # With --rate the rate ramps and --connect-rate only paces the connects.
    paced = spec_of(
        {"clients": 100, "rate": "1k", "ramp_s": "1s", "connect_rate": "10", "workers": "1"},
        RAMP_MACHINE,
    )
    assert paced.load.ramp_s == 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": "1", "duration_s": "0.5"},
         "--rate 1 over a 0.5 s window schedules 0.5 requests, so it may hold none; raise "
         "--rate to one request a window or more, or give --duration 1s or more"),
        ({"rate": "0.05"}, "--rate 0.05 over a 10 s window schedules 0.5 requests"),
        ({"mode": "stream", "proto": "udp", "bitrate": "100", "payload": "64",
          "duration_s": "1"},
         "--bitrate 100 (0.2 datagrams/s) over a 1 s window schedules 0.2 requests"),
    ],
)  # fmt: skip
def test_an_open_loop_window_with_nothing_due_is_refused(
    options: dict[str, object], message: str
) -> None:
    """A run with nothing due read as a target that answered nothing (degraded, not
    valid, '0% of the requests due were sent'), not as the input it was."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        spec_of({"workers": "1", **options}, RAMP_MACHINE)
    spec_of({"workers": "1", "rate": "1", "duration_s": "1"}, RAMP_MACHINE)  # one a window


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # the key/value mix: redis's and memcache's (and a plugin's), nothing else's
        ({"ratio": "1:1"}, "--ratio applies to --protocol redis or memcache (or a plugin), "
         "not --protocol echo"),
        ({"ratio": "1:10"}, "--ratio applies to"),  # the default, typed out: still refused
        ({"zipf": "0"}, "--zipf applies to --protocol redis or memcache"),
        ({"zipf": "5"}, "--zipf applies to --protocol redis or memcache"),
        ({"key_prefix": ""}, "--key-prefix applies to --protocol redis or memcache"),
        ({"key_space": "5", "protocol": "line"}, "--key-space applies to --protocol redis or "
         "memcache (or a plugin), not --protocol line"),
        ({"key_pattern": "S", "protocol": "http", "target": "tcp://127.0.0.1:9"},
         "--key-pattern applies to --protocol redis or memcache (or a plugin), not --protocol "
         "http"),
        ({"value_size": "8", "protocol": "length-prefixed:u16"},
         "--value-size applies to --protocol redis or memcache (or a plugin), not --protocol "
         "length-prefixed:u16"),
        ({"multi_key": "1", "key_minimum": "0", "key_maximum": "9"}, "--key-minimum applies to"),
        # redis's templates
        ({"command": ["GET __key__"]}, "--command applies to --protocol redis, not --protocol "
         "echo"),
        ({"command_ratio": ["1"], "protocol": "memcache", "target": "tcp://127.0.0.1:9"},
         "--command-ratio applies to --protocol redis, not --protocol memcache"),
        ({"command_key_pattern": ["S"], "protocol": "examples/kv_plugin.py:KeyValue"},
         "--command-key-pattern applies to --protocol redis, not --protocol examples/kv_plug"),
        # http's request
        ({"http_method": "GET"}, "--http-method applies to --protocol http, not --protocol echo"),
        ({"http_path": ["/x"], "protocol": "redis", "target": "tcp://127.0.0.1:9"},
         "--http-path applies to --protocol http, not --protocol redis"),
        ({"body": "", "protocol": "memcache", "target": "tcp://127.0.0.1:9"},
         "--body applies to --protocol http, not --protocol memcache"),
        # --payload sizes the requests of echo, line and length-prefixed (and a plugin's):
        # redis, memcache and http make their own, so it would change nothing
        ({"payload": "1k", "protocol": "redis", "target": "tcp://127.0.0.1:9"},
         "--payload applies to --protocol echo, line or length-prefixed (or a plugin), not "
         "--protocol redis"),
        ({"payload": "64", "protocol": "memcache", "target": "tcp://127.0.0.1:9"},
         "--payload applies to"),  # the default, typed out: still refused
        ({"payload": "100", "protocol": "http", "target": "tcp://127.0.0.1:9"},
         "--payload applies to --protocol echo, line or length-prefixed (or a plugin), not "
         "--protocol http"),
        # out of range is refused where --zipf applies, whatever the key pattern
        ({"zipf": "0", "protocol": "redis", "target": "tcp://127.0.0.1:9"},
         "--zipf must be between 0 and 5"),
        ({"zipf": "5", "protocol": "memcache", "target": "tcp://127.0.0.1:9"},
         "--zipf must be between 0 and 5"),
        # --zipf is key pattern Z's exponent: with no Z anywhere it would change nothing
        ({"zipf": "0.9", "protocol": "redis", "target": "tcp://127.0.0.1:9"},
         "--zipf is --key-pattern Z's exponent, and no key pattern here is Z (--key-pattern R)"),
        ({"zipf": "1", "protocol": "memcache", "key_pattern": "s:r",  # the default, typed
          "target": "tcp://127.0.0.1:9"}, "no key pattern here is Z (--key-pattern S:R)"),
        ({"zipf": "0.9", "protocol": "redis", "command": ["GET __key__"],
          "command_key_pattern": ["S"], "key_pattern": "Z", "target": "tcp://127.0.0.1:9"},
         "no key pattern here is Z (--command-key-pattern S)"),  # the template's own: Z unused
    ],
)  # fmt: skip
def test_an_option_of_other_protocols_is_refused_naming_them(
    options: dict[str, object], message: str
) -> None:
    """--ratio 1:1, --zipf 0, --key-prefix '' and --http-method GET with echo ran, ignored."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        _config(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"protocol": "redis", "ratio": "1:1", "zipf": "0.5", "key_prefix": "k-",
         "command": ["GET __key__"], "command_ratio": ["2"], "command_key_pattern": ["Z"]},
        {"protocol": "memcache", "key_space": "5", "value_size": "8-16", "multi_key": "2"},
        {"protocol": "memcache", "key_pattern": "S:Z", "zipf": "0.7"},  # Z on the GET side
        {"protocol": "http", "http_method": "GET", "header": ["A: b"], "body": "x"},
        # a plugin is called with the run's options: the key/value ones are its to read
        {"protocol": "examples/kv_plugin.py:KeyValue", "key_space": "5", "ratio": "1:1"},
        # --payload: the protocols whose requests it sizes (length-prefixed by its head)
        {"protocol": "echo", "payload": "1k"},
        {"protocol": "line", "payload": "100"},
        {"protocol": "length-prefixed:u16", "payload": "100"},
        {"protocol": "length-prefixed:u32", "payload": "64"},
        {"protocol": "examples/kv_plugin.py:KeyValue", "payload": "100"},
    ],
)  # fmt: skip
def test_an_option_of_its_own_protocol_is_taken(options: dict[str, object]) -> None:
    spec = _config(target="tcp://127.0.0.1:9", **options)
    assert spec.request.protocol == options["protocol"]


def test_payload_is_taken_by_a_stream_and_by_udp() -> None:
    """--payload sizes a stream's messages and a datagram: only redis, memcache and http
    (which make their own requests, in echo mode alone) refuse it."""
    assert _config(mode="stream", payload="1k").request.payload == 1024
    assert _config(proto="udp", payload="512").request.payload == 512
    assert _config(proto="udp", mode="stream", payload="512", rate="1k").request.payload == 512


def test_requests_is_refused_for_a_stream() -> None:
    """--requests 50 --mode stream ran the whole --duration: a stream sends no requests."""
    for proto, rate in (("tcp", None), ("udp", "1k")):
        with pytest.raises(ConfigError, match=r"--mode stream sends none .*give -d/--duration"):
            _config(mode="stream", requests="50", proto=proto, rate=rate)
    assert _config(mode="churn", requests="50").load.requests == 50


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_target_or_bind_is_refused_not_the_default(blank: str) -> None:
    """--target '' started the built-in server; serve --bind '' bound 127.0.0.1:9000."""
    with pytest.raises(ConfigError, match=r"^--target is empty: give tcp://HOST:PORT, "):
        _config(target=blank)
    with pytest.raises(ConfigError, match=r"^--bind is empty: give HOST:PORT or a Unix socket"):
        validate_serve({"bind": blank}, MACHINE, NAMES)


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_server_is_refused_not_the_default(blank: str) -> None:
    """--server '' started the asyncio model, as if --server were left out."""
    with pytest.raises(ConfigError, match=r"^--server is empty: give a server model "):
        _config(server_model=blank)
    with pytest.raises(ConfigError, match=r"^--server is empty: give a server model "):
        validate_serve({"server_model": blank}, MACHINE, NAMES)
    assert _config(server_model="Threaded").server == BuiltIn(model="threaded")
    assert _config(server_model=None).server == BuiltIn(model="asyncio")  # not given
