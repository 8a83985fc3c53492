"""Every option of ``run``, ``compare`` and ``serve``, declared once (pure).

One :class:`Option` gives a setting's name (the :class:`~sockbench.config.RunConfig`
field or keyword it fills), its flags, help, default, value parser, choices and
bounds. The CLI generates its typer parameters from this table
(:mod:`sockbench.cli.params`) and :mod:`sockbench.config` converts and checks the
values with it, so adding a flag is one entry here plus its use. A command's
different default is one line where that command is declared, not a second copy.

Values arrive as text from the command line or already typed from Python callers
(tests, compare's cells); every parser accepts both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sockbench.core.kinds import Workload
from sockbench.core.units import (
    DEFAULT_PERCENTILES,
    parse_count,
    parse_number,
    parse_percentiles,
    parse_seconds,
    parse_size,
)
from sockbench.endpoints import Proto
from sockbench.errors import ConfigError
from sockbench.servers.behaviour import ServerBehaviour
from sockbench.servers.registry import MODELS

MODEL_NAMES = tuple(MODELS)

Parser = Callable[[object, str], object]

RUN = frozenset({"run"})
RUN_COMPARE = frozenset({"run", "compare"})
RUN_SERVE = frozenset({"run", "serve"})
COMPARE = frozenset({"compare"})
SERVE = frozenset({"serve"})
ALL = frozenset({"run", "compare", "serve"})

#: ``--format``: the rich table, a report renderer (sockbench.report.FORMATS), or jsonl:
#: a JSON object per interval on stdout, then the result.
FORMAT_CHOICES = ("table", "text", "md", "csv", "hgrm", "html", "jsonl")


@dataclass(frozen=True)
class Option:
    name: str  # keyword and RunConfig field (or a CLI-only setting)
    flags: tuple[str, ...]  # long flag first
    help: str
    default: object = None  # a bool makes it an on/off switch (--x/--no-x)
    parse: Parser | None = None  # None: the text as given
    choices: tuple[str, ...] = ()
    minimum: float | None = None  # the value must be at least this
    positive: bool = False  # the value must be greater than 0
    commands: frozenset[str] = RUN
    metavar: str | None = None
    default_help: str | None = None  # says what the default means, when no value shows it
    repeatable: bool = False  # given any number of times: a tuple of values

    @property
    def flag(self) -> str:
        return self.flags[0]

    @property
    def is_switch(self) -> bool:
        return isinstance(self.default, bool)

    def convert(self, value: object) -> object:
        """The typed value; ConfigError naming the flag and what it accepts."""
        if value is None:
            return () if self.repeatable else None
        if self.repeatable:
            items = value if isinstance(value, tuple | list) else (value,)
            return tuple(self.parse(v, self.flag) if self.parse else v for v in items)
        if self.is_switch:
            return bool(value)
        typed = self.parse(value, self.flag) if self.parse else value
        if self.choices and typed == "":
            return None  # not given
        if self.choices and str(typed).strip().lower() not in self.choices:
            raise ConfigError(
                f"unknown {self.flag} {typed!r}; choose one of {', '.join(self.choices)}"
            )
        if isinstance(typed, int | float):
            self._check_bounds(typed)
        return typed

    def _check_bounds(self, value: float) -> None:
        if self.positive and not value > 0:
            raise ConfigError(f"{self.flag} must be greater than 0, got {value:g}")
        if self.minimum == 0 and value < 0:
            raise ConfigError(f"{self.flag} cannot be negative, got {value:g}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{self.flag} must be at least {self.minimum:g}, got {value:g}")


def _choices(enum: type[Proto] | type[Workload] | type[ServerBehaviour]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


OPTIONS: tuple[Option, ...] = (
    # What to load, and how
    Option("proto", ("--proto",), "transport", None, choices=_choices(Proto), commands=ALL,
           default_help="from --target, else tcp"),
    Option("clients", ("--clients", "-c"), "concurrent clients (connections): 100, 5k", 1,
           parse_count, minimum=1, commands=RUN_COMPARE),
    Option("duration_s", ("--duration", "-d"), "measured time: 10s, 2m, 500ms", None,
           parse_seconds, positive=True, commands=RUN_COMPARE,
           default_help="10s, or until --requests"),
    Option("warmup_s", ("--warmup",), "load kept out of the results: 2s, 500ms", 2.0,
           parse_seconds, minimum=0, commands=RUN_COMPARE),
    Option("ramp_s", ("--ramp",),
           "bring clients up linearly over this long (with --rate: raise the rate linearly, "
           "as Locust -r); kept out of the results, like --warmup: 10s", 0.0, parse_seconds,
           minimum=0),
    Option("connect_rate", ("--connect-rate",),
           "at most this many new connections per second (tcpkali): 5k", None, parse_number,
           positive=True),
    Option("payload", ("--payload",), "message size: 64, 1k, 64KiB", 64, parse_size,
           minimum=1, commands=RUN_COMPARE),
    Option("timeout_s", ("--timeout",), "give up on a reply after this long", None,
           parse_seconds, positive=True, commands=RUN_COMPARE,
           default_help="10s over tcp/unix (clients/2500 s past 25k clients), "
                        "1s over udp/unix-dgram"),
    Option("drain_s", ("--drain",), "seconds to follow the window's open requests after it",
           None, parse_seconds, minimum=0, default_help="--timeout"),
    Option("target", ("--target",), "external server: tcp://HOST:PORT, udp://..., unix:///PATH"),
    Option("mode", ("--mode",), "echo (request/reply), churn (a connection per request), stream",
           Workload.ECHO.value, choices=_choices(Workload)),
    Option("rate", ("--rate", "-R"), "open loop: total requests/s over all clients: 10k",
           None, parse_number, positive=True),
    Option("pipeline", ("--pipeline", "-P"),
           "requests in flight per connection", 1, parse_count, minimum=1),
    Option("requests", ("--requests",), "stop after this many requests", None, parse_count,
           minimum=1),
    Option("interval_s", ("--interval", "-i"), "one interval of the time series: 1s, 500ms",
           1.0, parse_seconds, positive=True),
    Option("send", ("--send",), r"request bytes; escapes \r \n \t \xHH"),
    Option("send_file", ("--send-file",), "request bytes from a file"),
    Option("expect_reply", ("--expect",), "the exact reply (escapes allowed)"),
    Option("expect_size", ("--expect-size",), "any reply of this many bytes", None, parse_count,
           minimum=1),
    Option("expect_until", ("--expect-until",), "a reply ending with this delimiter"),
    Option("protocol", ("--protocol",),
           "echo, redis, memcache, line, length-prefixed:u16|u32, or a plugin FILE.py:NAME / "
           "module:NAME (docs/protocols.md)", "echo"),
    Option("ratio", ("--ratio",), "redis/memcache: SETs:GETs", "1:10"),
    Option("key_space", ("--key-space",), "redis/memcache: number of keys", 10_000_000,
           parse_count, minimum=1),
    Option("key_pattern", ("--key-pattern",),
           "redis/memcache: R (random), S (sequential), G (gaussian)", "R"),
    Option("value_size", ("--value-size",), "redis/memcache: bytes per value", 32, parse_size,
           minimum=1),
    # The server
    Option("server_model", ("--server",), "server model to start when no --target", "asyncio",
           choices=MODEL_NAMES),
    Option("models", ("--models",), "server models, comma-separated", None,
           choices=MODEL_NAMES, commands=COMPARE,
           default_help="threaded,selectors,asyncio; none with --model"),
    # Your own server (sockbench.servers.external)
    Option("server_cmd", ("--server-cmd",),
           "your own server instead: a command with {port} ({path} for unix)", metavar="CMD"),
    Option("server_name", ("--server-name",), "the --server-cmd's name in reports",
           default_help="its program's name"),
    Option("external_models", ("--model",),
           "your own server as a model, repeatable: NAME='CMD with {port}'", repeatable=True,
           metavar="NAME=CMD", commands=COMPARE),
    Option("ready_line", ("--ready-line",), "--server-cmd is ready once its stdout shows TEXT",
           metavar="TEXT"),
    Option("ready_lines", ("--ready-line",),
           "a --model is ready once its stdout shows TEXT (NAME=TEXT: that model), repeatable",
           repeatable=True, metavar="TEXT", commands=COMPARE),
    Option("ready_timeout_s", ("--ready-timeout",), "seconds your server may take to serve",
           10.0, parse_seconds, positive=True, commands=RUN_COMPARE),
    Option("model", ("--model",), "server model", "asyncio", choices=MODEL_NAMES,
           commands=SERVE),
    Option("bind", ("--bind",), "HOST:PORT, or a Unix socket path", commands=SERVE,
           default_help="127.0.0.1:9000; unix: $XDG_RUNTIME_DIR/sockbench-unix.sock"),
    Option("behaviour", ("--behaviour",), "echo, or sink (read and discard)",
           ServerBehaviour.ECHO.value, choices=_choices(ServerBehaviour), commands=SERVE),
    Option("server_threads", ("--server-threads",), "threadpool model: pool size", 64,
           parse_count, minimum=1, commands=RUN_SERVE),
    Option("server_processes", ("--server-processes",),
           "prefork model: processes (0 = one per core)", 0, parse_count, minimum=0,
           commands=RUN_SERVE),
    Option("server_cpus", ("--server-cpus",),
           "pin the server to CPUs: 0, 0-3, 0,2; auto (half the CPUs) or none", "none",
           commands=RUN_COMPARE),
    Option("client_cpus", ("--client-cpus",),
           "pin the load generator to CPUs; auto (those the server leaves) or none", "none",
           commands=RUN_COMPARE),
    # The generator
    Option("workers", ("--workers", "-t"),
           "generator processes, or 'auto' (from cores and clients); with --cluster, the "
           "total over the cluster ('auto': one per CPU it offers)", "auto",
           commands=RUN_COMPARE),
    Option("source_ips", ("--source-ips",),
           "addresses clients bind to: auto, 127.0.0.2-127.0.0.9, a,b", "auto"),
    Option("batch", ("--batch",),
           "serve all of a worker's echo clients from one epoll pump; --no-batch: a task "
           "per client (the reference driver)", True),
    Option("busy_poll", ("--busy-poll",),
           "the pump spins instead of sleeping: lowest latency, a full core", False),
    Option("allow_remote", ("--allow-remote",), "allow a non-loopback target (you must own it)",
           False),
    Option("force", ("--force",), "allow more than 4 workers per CPU", False,
           commands=RUN_COMPARE),
    Option("percentiles", ("--percentiles",), "latency percentiles to report and record",
           ",".join(f"{p:g}" for p in DEFAULT_PERCENTILES), parse_percentiles,
           commands=RUN_COMPARE),
    Option("checks", ("--check",),
           "a threshold the run must meet, repeatable: 'p99 < 5ms', 'errors == 0', "
           "'rps >= 10k', 'loss < 0.1%'; a miss exits 3", repeatable=True, metavar="EXPR",
           commands=RUN_COMPARE),
    Option("cluster", ("--cluster",),
           "workers on a Ray cluster: ray (the running one) or ray:HOST:PORT", None,
           commands=RUN_COMPARE, metavar="ray[:HOST:PORT]"),
    Option("repeat", ("--repeat",), "run the whole matrix N times", 1, parse_count,
           commands=COMPARE),
    # What it writes and shows
    Option("json_path", ("--json",), "also write the result JSON here ('-' = stdout)"),
    Option("json_stdout", ("-J",), "the result JSON to stdout: the same as --json -", False),
    Option("out_dir", ("--out",), "folder that receives a result folder per run ('' = none)",
           "results"),
    Option("compare_out", ("--out",), "folder to write (new or empty)", commands=COMPARE,
           default_help="results/compare-TIMESTAMP"),
    Option("fmt", ("--format",), "summary format", "table", choices=FORMAT_CHOICES),
    Option("quiet", ("--quiet", "-q"), "no progress while it runs", False,
           commands=RUN_COMPARE),
    Option("verbose", ("--verbose", "-v"),
           "log what happens: server start and stop, workers, phases", False, commands=ALL),
    Option("log_file", ("--log-file",), "also write that log to this file", commands=ALL),
)  # fmt: skip

#: Where a command's default differs from the table's: one line each.
COMMAND_DEFAULTS: dict[str, dict[str, object]] = {
    # A compare pins server and generator apart so cells do not steal each other's CPUs.
    "compare": {"proto": "tcp,udp", "clients": "10,100,1000", "duration_s": 10.0,
                "server_cpus": "auto", "client_cpus": "auto"},
    "serve": {"proto": "tcp"},
}  # fmt: skip
#: Options a command takes as comma-separated lists (compare's axes: a cell per combination).
LISTS: dict[str, tuple[str, ...]] = {"compare": ("models", "proto", "clients", "payload")}


def options_for(command: str) -> Iterator[Option]:
    return (option for option in OPTIONS if command in option.commands)


def default(option: Option, command: str) -> object:
    return COMMAND_DEFAULTS.get(command, {}).get(option.name, option.default)


def split_list(text: str, flag: str) -> list[str]:
    """``a,b,c`` -> items; ConfigError for an empty list or an empty item. Duplicates drop."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip():
        raise ConfigError(f"{flag} is empty; give a comma-separated list")
    if any(not p for p in parts):
        raise ConfigError(f"malformed {flag} {text!r}: empty item in the list")
    return list(dict.fromkeys(parts))


def convert_all(command: str, values: dict[str, object]) -> dict[str, object]:
    """Every option of ``command``: the given value, or its default, converted and bounded.

    A list option (:data:`LISTS`) becomes a tuple of converted items. A key that is no
    option of the command is a programming error, not a user's.
    """
    options = {option.name: option for option in options_for(command)}
    unknown = set(values) - set(options)
    assert not unknown, f"not options of {command}: {sorted(unknown)}"
    lists = LISTS.get(command, ())
    out: dict[str, object] = {}
    for name, option in options.items():
        value = values.get(name, default(option, command))
        if name in lists and value is None:
            out[name] = ()
        elif name in lists:
            items: list[object] = (
                list(split_list(value, option.flag))
                if isinstance(value, str)
                else list(value if isinstance(value, tuple | list) else (value,))
            )
            out[name] = tuple(dict.fromkeys(option.convert(item) for item in items))
        else:
            out[name] = option.convert(value)
    return out
