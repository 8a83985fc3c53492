"""What each request is and what its reply must be: the options as given, and the protocol
they choose, built once per process (pure).

:class:`ProtocolChoice` is a value (a name and :class:`ProtocolOptions`) that pickles
to worker processes; the protocol it builds is not a value, because a plugin
(``FILE.py:NAME``) is code executed from a file. The trade-off: the built
:class:`~sockbench.core.protocols.ProtocolAdapter` is kept on the choice the first time it is
asked for and dropped when the choice is pickled, so the protocol is built once in the
process that checks the options and once in each worker process, where the process
boundary forces it (a plugin's classes cannot travel by pickle), and never again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sockbench.core import bounds
from sockbench.core.protocols import (
    KEY_VALUE,
    SIZED,
    ProtocolAdapter,
    ProtocolOptions,
    build_protocol,
    is_builtin,
)
from sockbench.core.protocols.http import check_method, check_path, parse_header
from sockbench.core.protocols.mix import parse_ratio, parse_size_range
from sockbench.core.spec.option import (
    Option,
    Protocols,
    declare,
    field_of,
    option,
    optional,
    text,
    texts,
)
from sockbench.core.units import parse_count, parse_number, parse_size

#: What the options of one protocol's apply to (their declarations' ``protocols``).
MIX = Protocols(KEY_VALUE, plugins=True)  # a plugin is called with them
#: redis, memcache and http make their own requests: --payload would change nothing.
SIZED_REQUESTS = Protocols(SIZED, plugins=True)
#: Shared with compare's axes (:mod:`sockbench.core.spec.compare`), where it is a list.
PAYLOAD: Option[int] = declare(
    64, "--payload", help="message size: 64, 1k, 64KiB", parse=parse_size, minimum=1,
    bound=bounds.stream_message,  # a datagram's lower limit: rules.check_sizes
    protocols=SIZED_REQUESTS,
)  # fmt: skip
REDIS = Protocols(("redis",))
HTTP = Protocols(("http",))


def _ratio(value: object, flag: str) -> tuple[int, int]:
    if isinstance(value, tuple) and len(value) == 2:
        return parse_ratio(f"{value[0]}:{value[1]}")
    return parse_ratio(str(value))


def _protocol_name(value: object, flag: str) -> str:
    return str(value).strip() or "echo"


def _key_pattern(value: object, flag: str) -> str:
    return str(value).strip().upper()


def _key_patterns(value: object, flag: str) -> tuple[str, ...]:
    return tuple(_key_pattern(item, flag) for item in texts(value, flag))


def _value_sizes(value: object, flag: str) -> tuple[int, int]:
    if isinstance(value, tuple) and len(value) == 2:
        return int(value[0]), int(value[1])
    return parse_size_range(str(value))


def _counts(value: object, flag: str) -> tuple[int, ...]:
    return tuple(parse_count(item, flag) for item in texts(value, flag))


def _http_method(value: object, flag: str) -> str:
    return check_method(str(value).strip())


def _http_paths(value: object, flag: str) -> tuple[str, ...]:
    return tuple(check_path(path) for path in texts(value, flag))


def _headers(value: object, flag: str) -> tuple[str, ...]:
    lines = texts(value, flag)
    for line in lines:
        parse_header(line)
    return lines


@dataclass(frozen=True)
class Request:
    payload: int = field_of(PAYLOAD)
    send: str | None = option(
        None, "--send", help=r"request bytes; escapes \r \n \t \xHH", parse=optional(text)
    )
    send_file: str | None = option(
        None, "--send-file", metavar="FILE", help="request bytes from a file", parse=optional(text)
    )
    expect_reply: str | None = option(
        None, "--expect", help="the exact reply (escapes allowed)", parse=optional(text)
    )
    expect_size: int | None = option(
        None, "--expect-size", help="any reply of this many bytes",
        parse=optional(parse_count), minimum=1, bound=bounds.stream_message,
    )  # fmt: skip
    expect_until: str | None = option(
        None, "--expect-until", help="a reply ending with this delimiter", parse=optional(text)
    )
    protocol: str = option(
        "echo", "--protocol", metavar="NAME",
        help="echo, redis, memcache, http, line, length-prefixed:u16|u32, or a plugin FILE.py:NAME "
        "/ module:NAME (docs/protocols.md)",
        parse=_protocol_name,
    )  # fmt: skip
    ratio: tuple[int, int] = option(
        (1, 10), "--ratio", metavar="SETS:GETS", help="redis/memcache: SETs:GETs",
        parse=_ratio, default_help="1:10", protocols=MIX,
    )  # fmt: skip
    key_space: int = option(
        10_000_000, "--key-space", help="redis/memcache: number of keys", parse=parse_count,
        minimum=1, protocols=MIX,
    )  # fmt: skip
    key_pattern: str = option(
        "R", "--key-pattern", metavar="R|S|G|P|Z[:...]",
        help="redis/memcache: R (random), S (sequential), G (gaussian), P (parallel), Z (zipf); "
        "SET:GET for each side (S:R)",
        parse=_key_pattern, protocols=MIX,
    )  # fmt: skip
    key_minimum: int = option(
        0, "--key-minimum", help="redis/memcache: the lowest key number", parse=parse_count,
        minimum=0, protocols=MIX,
    )  # fmt: skip
    key_maximum: int | None = option(
        None, "--key-maximum", help="redis/memcache: the highest key number (instead of "
        "--key-space: keys --key-minimum .. --key-maximum)", parse=optional(parse_count),
        protocols=MIX,
    )  # fmt: skip
    key_prefix: str = option(
        "key:", "--key-prefix", help="redis/memcache: what each key starts with", parse=text,
        protocols=MIX,
    )  # fmt: skip
    zipf: float = option(
        1.0, "--zipf", "--key-zipf-exp", metavar="EXP",
        help="redis/memcache: --key-pattern Z's exponent, 0 < EXP < 5", parse=parse_number,
        protocols=MIX,
    )  # fmt: skip
    value_size: tuple[int, int] = option(
        (32, 32), "--value-size", metavar="BYTES|MIN-MAX",
        help="redis/memcache: bytes per value, or a range drawn uniformly per SET (32-1024)",
        parse=_value_sizes, default_help="32", protocols=MIX,
    )  # fmt: skip
    multi_key: int = option(
        1, "--multi-key", "--multi-key-get", metavar="N",
        help="redis/memcache: keys per GET (redis MGET, memcached get k1 k2 ...)",
        parse=parse_count, minimum=1, protocols=MIX,
    )  # fmt: skip
    command: tuple[str, ...] = option(
        (), "--command", metavar="'CMD __key__ __data__'",
        help="redis: a command template, repeatable; replaces the SET/GET mix",
        parse=texts, repeatable=True, protocols=REDIS,
    )  # fmt: skip
    command_ratio: tuple[int, ...] = option(
        (), "--command-ratio", metavar="N",
        help="redis: each --command's share, in order (default 1 each)", parse=_counts,
        repeatable=True, protocols=REDIS,
    )  # fmt: skip
    command_key_pattern: tuple[str, ...] = option(
        (), "--command-key-pattern", metavar="R|S|G|P|Z",
        help="redis: each --command's key pattern, in order (default the --key-pattern letter)",
        parse=_key_patterns, repeatable=True, protocols=REDIS,
    )  # fmt: skip
    http_method: str = option(
        "GET", "--http-method", metavar="METHOD", help="http: the request method",
        parse=_http_method, protocols=HTTP,
    )  # fmt: skip
    http_path: tuple[str, ...] = option(
        (), "--http-path", metavar="PATH",
        help="http: a request path, repeatable (each client walks the list); default /",
        parse=_http_paths, repeatable=True, protocols=HTTP,
    )  # fmt: skip
    http_paths_file: str | None = option(
        None, "--http-paths-file", metavar="FILE",
        help="http: request paths, one a line (after any --http-path)", parse=optional(text),
        protocols=HTTP,
    )  # fmt: skip
    header: tuple[str, ...] = option(
        (), "--header", "-H", metavar="'NAME: VALUE'", help="http: a request header, repeatable",
        parse=_headers, repeatable=True, protocols=HTTP,
    )  # fmt: skip
    body: str | None = option(
        None, "--body", help="http: the request body (sent with Content-Length)",
        parse=optional(text), protocols=HTTP,
    )  # fmt: skip
    body_file: str | None = option(
        None, "--body-file", metavar="FILE", help="http: the request body from a file",
        parse=optional(text), protocols=HTTP,
    )  # fmt: skip


@dataclass(frozen=True)
class ProtocolChoice:
    """The run's protocol: its name (docs/protocols.md) and what it is built from."""

    name: str
    options: ProtocolOptions

    def adapter(self) -> ProtocolAdapter:
        """The protocol, built on the first call in this process (see the module's note)."""
        built: ProtocolAdapter | None = self.__dict__.get("_built")
        if built is None:
            built = build_protocol(self.name, self.options)
            self.__dict__["_built"] = built  # a cache, not a field: eq and repr ignore it
        return built

    def known(self) -> ProtocolAdapter | None:
        """The protocol where knowing it runs no plugin's code: a built-in (built here, as
        :meth:`adapter` builds it), or a plugin already built; None for a plugin not built
        yet (the option layer's edge builds it, :mod:`sockbench.machine`)."""
        if "_built" in self.__dict__ or is_builtin(self.name):
            return self.adapter()
        return None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_built"}
