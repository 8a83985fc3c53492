"""Which server a run loads: one value, a sum of three (pure).

- :class:`BuiltIn`: a server model of sockbench's own, started fresh for the run
  (``--server NAME``; ``sockbench serve`` runs one in the foreground);
- :class:`Command`: your own server, a command template started fresh for the run
  (``--server-cmd``; compare's ``--server-cmd NAME=CMD``);
- :class:`Target`: a server that already runs at an address (``--target``).

:func:`sockbench.servers.open_chosen` opens whichever was chosen. The options that
choose (:class:`ServerOptions`) stay as given in the run's spec: the result document
records them (``server_threads`` even beside a ``--target``).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from sockbench.core.kinds import ServerBehaviour
from sockbench.core.spec.option import (
    RUN_COMPARE,
    RUN_SERVE,
    SERVER_MODELS,
    Option,
    choice,
    declare,
    field_of,
    filled,
    option,
    optional,
    text,
)
from sockbench.core.units import parse_count, parse_seconds
from sockbench.endpoints import Endpoint, Proto
from sockbench.errors import ConfigError

DEFAULT_MODEL = "asyncio"
DEFAULT_THREADS = 64  # the threadpool model's pool
READY_TIMEOUT_S = 10.0
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}")


@dataclass(frozen=True)
class BuiltIn:
    """A server model and its settings. ``processes`` 0: the model picks (one per core);
    ``cpus`` empty: not pinned. The launcher hands it to the server's process as argv
    (:mod:`sockbench.servers.spec`), so the settings travel as one."""

    model: str = DEFAULT_MODEL
    behaviour: ServerBehaviour = ServerBehaviour.ECHO
    threads: int = DEFAULT_THREADS
    processes: int = 0
    cpus: tuple[int, ...] = ()
    tls: bool = False  # --server-tls: it serves TLS
    # The PEM file (key, then certificate chain) it serves TLS with: made at its start
    # by whoever starts it (sockbench.servers.certs); "" until then.
    tls_cert: str = ""

    def __post_init__(self) -> None:
        # Checked with the user's flag names by the option layer; here only guarded.
        assert self.threads >= 1 and self.processes >= 0, self


@dataclass(frozen=True)
class Command:
    """Your own server: a name for the reports and the command template it runs.

    ``logs`` is the path prefix of its stdout and stderr files; None: the run folder's.
    """

    name: str
    template: str
    ready_line: str | None = None
    ready_timeout_s: float = READY_TIMEOUT_S
    logs: str | None = None

    def check(self, proto: Proto) -> None:
        """ConfigError unless the template can be told where to serve ``proto``."""
        needed = "{path}" if proto.is_unix else "{port}"
        if needed not in self.template:
            raise ConfigError(
                f"server command {self.name!r} has no {needed}, which {proto.value} needs: "
                f"sockbench gives each run its own {'socket path' if proto.is_unix else 'port'}"
            )

    def fill(self, endpoint: Endpoint) -> str:
        """The command line for ``endpoint``; braces other than the three names stay as typed."""
        values = {
            "{port}": "" if endpoint.proto.is_unix else str(endpoint.port),
            "{host}": "" if endpoint.proto.is_unix else endpoint.host,
            "{path}": endpoint.path,
        }
        return re.sub(r"\{(?:port|host|path)\}", lambda m: values[m.group(0)], self.template)


@dataclass(frozen=True)
class Target:
    """A server that already runs: the load goes to ``endpoint``."""

    endpoint: Endpoint


Server = BuiltIn | Command | Target

_FILLED_MODEL = filled("a server model (sockbench models lists them), or leave it out")


def _model(value: object, flag: str) -> str | None:
    """A server model's name (None: not given); blank text (``--server ''``) is refused,
    where the default model would have stood in for it unsaid."""
    return None if value is None else choice(_FILLED_MODEL(value, flag), flag)


#: ``--server``: shared with ``serve`` and with compare's axes, where it is a list.
SERVER: Option[str | None] = declare(
    DEFAULT_MODEL, "--server", help="built-in server model to start", parse=_model,
    choices=SERVER_MODELS, commands=RUN_SERVE, renamed={"serve": ("--model",)},
)  # fmt: skip


@dataclass(frozen=True)
class ServerOptions:
    """The options that choose and size the server, as given."""

    target: str | None = option(
        None, "--target", metavar="URL",
        help="external server: tcp://HOST:PORT, udp://..., unix:///PATH",
        parse=optional(filled(
            "tcp://HOST:PORT, tls://HOST:PORT, udp://HOST:PORT, unix:///PATH or "
            "unix-dgram:///PATH, or leave --target out to start a built-in server"
        )),
    )  # fmt: skip
    server_model: str | None = field_of(SERVER)
    server_cmd: str | None = option(
        None, "--server-cmd",
        help="your own server instead: a command with {port} ({path} for unix)",
        parse=optional(text), metavar="CMD",
    )  # fmt: skip
    server_name: str | None = option(
        None, "--server-name", metavar="NAME",
        help="the --server-cmd's name in reports", parse=optional(text),
        default_help="its program's name",
    )  # fmt: skip
    ready_line: str | None = option(
        None, "--ready-line", help="--server-cmd is ready once its stdout shows TEXT",
        parse=optional(text), metavar="TEXT",
    )  # fmt: skip
    ready_timeout_s: float = option(
        READY_TIMEOUT_S, "--ready-timeout", help="seconds your server may take to serve",
        parse=parse_seconds, positive=True, commands=RUN_COMPARE,
    )  # fmt: skip
    server_threads: int = option(
        DEFAULT_THREADS, "--server-threads", help="threadpool model: pool size",
        parse=parse_count, minimum=1, commands=RUN_SERVE,
    )  # fmt: skip
    server_processes: int = option(
        0, "--server-processes", help="prefork model: processes (0 = one per core)",
        parse=parse_count, minimum=0, commands=RUN_SERVE,
    )  # fmt: skip
    server_cpus: str = option(
        "none", "--server-cpus", metavar="CPUS",
        help="pin the server to CPUs: 0, 0-3, 0,2; auto (half the CPUs) or none",
        parse=text, commands=RUN_COMPARE, defaults={"compare": "auto"}, commas=True,
    )  # fmt: skip


def server_command(
    name: str | None,
    template: str,
    *,
    ready_line: str | None = None,
    ready_timeout_s: float = READY_TIMEOUT_S,
) -> Command:
    """Check a command template (and its name; default: the program's file name)."""
    if not template.strip():
        raise ConfigError("the server command is empty")
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ConfigError(f"cannot parse the server command {template!r}: {exc}") from None
    if name is None:
        name = re.sub(r"[^A-Za-z0-9_.+-]", "-", os.path.basename(words[0] if words else "sh"))
        name = name.lstrip("-_.+") or "external"
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"model name {name!r} must be 1-40 letters, digits or _.+- (it names files)"
        )
    if ready_line is not None and not ready_line:
        raise ConfigError("--ready-line must not be empty")
    if not ready_timeout_s > 0:
        raise ConfigError(f"--ready-timeout must be greater than 0, got {ready_timeout_s:g}")
    return Command(name, template, ready_line, ready_timeout_s)


def named_commands(
    pairs: Sequence[str],
    ready_lines: Sequence[str],
    ready_timeout_s: float = READY_TIMEOUT_S,
    *,
    flag: str = "--server-cmd",
) -> tuple[Command, ...]:
    """compare's ``--server-cmd NAME=CMD`` options, with ``--ready-line TEXT`` (every one)
    or ``--ready-line NAME=TEXT`` (that one). ``flag`` is the spelling the user typed."""
    named = []
    for given in pairs:
        name, sep, template = given.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{flag} expects NAME=COMMAND, got {given!r}")
        named.append((name.strip(), template))
    names = {name for name, _ in named}
    if ready_lines and not named:
        raise ConfigError(f"--ready-line applies to {flag} NAME=COMMAND")
    every: str | None = None
    own: dict[str, str] = {}
    for given in ready_lines:
        name, sep, line = given.partition("=")
        if sep and name in names:
            own[name] = line
        elif every is None:
            every = given
        else:
            raise ConfigError(
                f"--ready-line {given!r}: name the model it is for (NAME=TEXT), one of "
                + ", ".join(sorted(names))
            )
    return tuple(
        server_command(
            name, template, ready_line=own.get(name, every), ready_timeout_s=ready_timeout_s
        )
        for name, template in named
    )
