"""Request/reply protocols: the contract, the built-ins and user plugins (pure).

``--protocol`` names one: ``echo`` (the default, also what ``--send``/``--expect``
build), ``redis``, ``memcache``, ``http``, ``line``, ``length-prefixed:u16|u32`` (append
``:any`` to accept any well-framed reply instead of the echo), or a plugin,
``FILE.py:NAME`` or ``module:NAME``. docs/protocols.md describes the contract.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sockbench.core.protocols.contract import (
    ERROR_REPLY,
    MALFORMED,
    NEED_MORE,
    ProtocolAdapter,
    ReplyProtocol,
    checked_kinds,
    error_kind_of,
    error_reply,
    error_reply_length,
    resolve,
)
from sockbench.core.protocols.http_head import Http
from sockbench.core.protocols.memcache import Memcache
from sockbench.core.protocols.mix import MixProtocol, ProtocolOptions
from sockbench.core.protocols.resp import Redis
from sockbench.core.protocols.simple import Fixed, LengthPrefixed, Line
from sockbench.errors import ConfigError

__all__ = [
    "BUILTINS",
    "ERROR_REPLY",
    "KEY_VALUE",
    "MALFORMED",
    "NEED_MORE",
    "ProtocolAdapter",
    "ProtocolOptions",
    "ReplyProtocol",
    "build_protocol",
    "builtin_name",
    "error_kind_of",
    "error_reply",
    "error_reply_length",
    "is_builtin",
    "speaks_its_own",
    "uses_key_options",
]

BUILTINS = ("echo", "redis", "memcache", "http", "line", "length-prefixed")
#: The built-ins that take the key/value options (--ratio, --key-space, ...).
KEY_VALUE = ("redis", "memcache")
#: The built-ins that make their own requests (and need a server that speaks them).
OWN_REQUESTS = ("redis", "memcache", "http")
#: The built-ins whose requests are --payload bytes (the others make their own).
SIZED = tuple(name for name in BUILTINS if name not in OWN_REQUESTS)
_WIDTHS = {"u16": 2, "u32": 4}


def uses_key_options(spec: str) -> bool:
    """Whether ``--ratio``/``--key-space``/``--key-pattern``/``--value-size`` apply."""
    return spec in KEY_VALUE


def speaks_its_own(spec: str) -> bool:
    """Whether the protocol makes its own requests and needs a server that speaks it
    (the built-in models only echo)."""
    return spec in OWN_REQUESTS


def builtin_name(spec: str) -> str:
    """The built-in's name ``spec`` would give (``length-prefixed`` for
    ``length-prefixed:u16``); for a plugin, text that is no built-in's name."""
    return (spec.strip() or "echo").partition(":")[0]


def is_builtin(spec: str) -> bool:
    """Whether ``spec`` names a built-in (``length-prefixed:u16`` too): building it runs
    no plugin's code, so what it records (its kinds) is known with the options."""
    return builtin_name(spec) in BUILTINS


def _builtin(spec: str, options: ProtocolOptions) -> object | None:
    if not is_builtin(spec):
        return None
    head, _, rest = spec.partition(":")
    if head == "length-prefixed":
        width, _, mode = rest.partition(":")
        if width not in _WIDTHS or mode not in ("", "any"):
            raise ConfigError(
                f"malformed --protocol {spec!r}; expected length-prefixed:u16 or "
                "length-prefixed:u32, optionally followed by :any"
            )
        return LengthPrefixed(options, _WIDTHS[width], echo=mode != "any")
    if rest:
        raise ConfigError(f"--protocol {head} takes no parameters, got {spec!r}")
    makers: dict[str, Callable[[ProtocolOptions], object]] = {
        "echo": Fixed.from_options,
        "redis": Redis,
        "memcache": Memcache,
        "http": lambda options: Http(options.http),
        "line": Line,
    }
    return makers[head](options)


def _import(spec: str) -> object:
    """The object ``FILE.py:NAME`` or ``module:NAME`` names."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise ConfigError(
            f"unknown --protocol {spec!r}; choose one of {', '.join(BUILTINS)}, "
            "or a plugin FILE.py:NAME or module:NAME"
        )
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise ConfigError(f"protocol plugin {where}: no such file")
            module_name = f"sockbench_plugin_{path.stem}"
            loader = importlib.util.spec_from_file_location(module_name, path)
            assert loader is not None and loader.loader is not None
            module = importlib.util.module_from_spec(loader)
            sys.modules[module_name] = module
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except ConfigError:
        raise
    except ModuleNotFoundError as exc:
        raise ConfigError(f"protocol plugin {where}: no module named {exc.name!r}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the plugin's own code failed: say so in one line
        # SystemExit too: a plugin's exit(0) ended sockbench silently with 0, exit(3) read
        # as a failed --check.
        raise ConfigError(f"protocol plugin {where} failed to load: {_one_line(exc)}") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise ConfigError(f"protocol plugin {where} has no {name!r}") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _instantiate(found: object, spec: str, options: ProtocolOptions) -> object:
    """A plugin names an object that fits the contract, or a class/function making one."""
    if isinstance(found, ReplyProtocol) and not isinstance(found, type):
        return found
    if not callable(found):
        raise ConfigError(f"protocol {spec} is neither a protocol nor a class or function")
    try:
        return found(options)
    except (ConfigError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise ConfigError(f"protocol {spec} failed to start: {_one_line(exc)}") from None


def _smoke_test(adapter: ProtocolAdapter, spec: str, own: frozenset[str] = frozenset()) -> None:
    """Call the plugin once before any load, so its mistakes are one line, not a traceback.
    ``own``: the optional batch members it has itself (``requests_from``, ``kinds_from``)."""
    try:
        first = adapter.request(0, 0)
        kind = adapter.kind(0, 0) if adapter.kind is not None else None
        index = adapter.kind_index(0, 0)
        setup = adapter.setup(0) if adapter.setup is not None else None
        code = adapter.check_reply(bytearray(), 0, 0)
        # Its own batch members only (asking the fallbacks would call request again, and
        # draw keys a run's sequence would then lack); requests_from asked for none.
        batch = adapter.requests_from(0, 1, 0) if "requests_from" in own else []
        kinds = adapter.kinds_from(0, 1, 2) if "kinds_from" in own else None
        each = [adapter.kind_index(0, 1), adapter.kind_index(0, 2)] if kinds is not None else None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise ConfigError(
            f"protocol {spec} failed on its first request: {_one_line(exc)}"
        ) from None
    if not isinstance(first, bytes | bytearray) or not first:
        raise ConfigError(f"protocol {spec}: request() must return non-empty bytes")
    if kind is not None and kind not in adapter.kinds:
        raise ConfigError(f"protocol {spec}: kind() returned {kind!r}, not one of its kinds")
    if not isinstance(index, int) or not 0 <= index < max(len(adapter.kinds), 1):
        raise ConfigError(
            f"protocol {spec}: kind_index() returned {index!r}, not an index into its "
            f"{len(adapter.kinds)} kinds"
        )
    if kind is not None and index != adapter.kinds.index(kind):
        raise ConfigError(
            f"protocol {spec}: kind_index() returned {index!r} where kind() returned {kind!r}"
        )
    if adapter.one_kind is not None and adapter.one_kind != (index, len(first)):
        raise ConfigError(
            f"protocol {spec}: one_kind is {adapter.one_kind!r} but the first request is "
            f"kind {index} of {len(first)} bytes"
        )
    if adapter.fixed is not None and first != adapter.fixed:
        raise ConfigError(
            f"protocol {spec}: fixed is {adapter.fixed!r:.40} but request(0, 0) returned "
            f"{first!r:.40}; fixed must be the one request it always returns"
        )
    if not isinstance(batch, list) or batch:
        raise ConfigError(f"protocol {spec}: requests_from(0, 1, 0) must return a list, empty")
    if kinds != each:
        raise ConfigError(
            f"protocol {spec}: kinds_from(0, 1, 2) returned {kinds!r:.40} where kind_index() "
            f"gives {each!r}"
        )
    if setup is not None and not isinstance(setup, bytes | bytearray):
        raise ConfigError(f"protocol {spec}: setup() must return bytes or None")
    if not isinstance(code, int) or code != NEED_MORE:
        raise ConfigError(f"protocol {spec}: check_reply() on no bytes must return 0 (need more)")


def build_protocol(spec: str, options: ProtocolOptions) -> ProtocolAdapter:
    """The protocol ``spec`` names, built from ``options`` and checked against the contract.

    Raises :class:`ConfigError` (one line) for unknown names and failing plugins.
    """
    spec = spec.strip() or "echo"
    obj = _builtin(spec, options)
    plugin = obj is None
    if obj is None:
        obj = _instantiate(_import(spec), spec, options)
    exchange = resolve(obj, spec)
    if plugin:
        exchange = replace(exchange, plugin=spec)
    elif isinstance(obj, MixProtocol) and obj.batch_from is not None:
        exchange = replace(exchange, batch_from=obj.batch_from)  # a built-in's own
    batched = frozenset(m for m in ("requests_from", "kinds_from") if hasattr(obj, m))
    _smoke_test(exchange, spec, batched)
    if plugin:  # its kinds checked per request from now on (the smoke test said why first)
        own = frozenset(m for m in ("kind_index", "kinds_from") if callable(getattr(obj, m, None)))
        exchange = checked_kinds(exchange, own)
    return exchange
