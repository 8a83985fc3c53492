"""The protocol contract: what sockbench asks of a request/reply protocol (pure, sans-IO).

A protocol is any object with two methods::

    request(client: int, seq: int) -> bytes
    check_reply(buf: bytearray, start: int, end: int) -> int

``request`` gives client ``client``'s ``seq``-th request (both count from 0), so a
protocol may vary it: a command mix, keys, values. ``check_reply`` looks at
``buf[start:end]`` only and returns the length of the complete reply that begins at
``start`` (> 0), ``NEED_MORE`` (0) if it cannot tell yet, or a negative value once
those bytes cannot be a good reply: ``MALFORMED`` (-1, counted as ``mismatch``), or
a well-framed error such as Redis's ``-ERR`` (counted as ``protocol_error``):
``error_reply(n)`` (``ERROR_REPLY - n``) for one of ``n`` bytes, or ``ERROR_REPLY``
(-2) alone when its length is not known. An error reply of known length fails only
the request it answers and the connection stays in step; a malformed reply, or an
error reply of unknown length, leaves the stream out of step, so the connection is
replaced. It keeps no state between calls, so one object serves every
client and needs no reset after an error; the engine rescans a reply that arrives
in pieces, which reading in large chunks keeps rare.

Optional members, looked up once when a run starts:

- ``name: str``: shown in reports (default: the class name, lower case).
- ``kinds: tuple[str, ...]`` and ``kind(client, seq) -> str``: the command of each
  request, so latency is also recorded per command ("set", "get").
- ``kind_index(client, seq) -> int``: the same as ``kinds.index(kind(client, seq))``,
  only cheaper (the engine calls it per request; without it, it looks the name up).
- ``one_kind: tuple[int, int] | None``: ``(kind index, request size)`` when every
  request is of that one kind and size, so the engine notes nothing per request.
- ``setup(connection: int) -> bytes | None``: sent once after each connect (AUTH,
  SELECT); its reply is checked with ``check_reply`` but not measured.

:class:`ProtocolAdapter` is a protocol as the engine uses it, with every optional member
filled in: the engine asks no ``hasattr`` questions on its hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sockbench.errors import ConfigError

NEED_MORE = 0
MALFORMED = -1
ERROR_REPLY = -2
MAX_KINDS = 1000  # the engine packs a kind's index with the request's size (KIND_BITS)


@runtime_checkable
class ReplyProtocol(Protocol):
    """The two required methods; see the module docstring for the optional ones."""

    def request(self, client: int, seq: int) -> bytes: ...

    def check_reply(self, buf: bytearray, start: int, end: int) -> int: ...


def _one_kind(client: int, seq: int) -> int:
    return 0


@dataclass(frozen=True)
class ProtocolAdapter:
    """A protocol with its optional members resolved (``kind`` None: one kind of request).

    ``fixed`` is the request when it never varies, so drivers can skip the call;
    ``echo_size``/``expected`` describe replies of one known size, which the fastest
    driver reads without parsing (``expected`` None: any bytes of that size).
    """

    name: str
    request: Callable[[int, int], bytes]
    check_reply: Callable[[bytearray, int, int], int]
    kinds: tuple[str, ...] = ()
    kind: Callable[[int, int], str] | None = None
    # The kind as an index into ``kinds`` (0 for a protocol without kinds; an undeclared
    # kind is ``len(kinds)``): what the engine calls per request.
    kind_index: Callable[[int, int], int] = _one_kind
    one_kind: tuple[int, int] | None = None
    setup: Callable[[int], bytes | None] | None = None
    fixed: bytes | None = None
    reply_size: int = 0
    expected: bytes | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _index_of(kind: Callable[[int, int], str], kinds: tuple[str, ...]) -> Callable[[int, int], int]:
    index = {name: i for i, name in enumerate(kinds)}
    undeclared = len(kinds)
    return lambda client, seq: index.get(kind(client, seq), undeclared)


def _one_kind_of(obj: object, what: str, kinds: tuple[str, ...]) -> tuple[int, int] | None:
    one = getattr(obj, "one_kind", None)
    if one is None:
        return None
    if (
        not isinstance(one, tuple)
        or len(one) != 2
        or not all(isinstance(n, int) for n in one)
        or not 0 <= one[0] < max(len(kinds), 1)
        or one[1] < 1
    ):
        raise ConfigError(
            f"protocol {what}: one_kind must be (kind index, request size), got {one!r}"
        )
    return one


def error_reply(length: int) -> int:
    """What ``check_reply`` returns for a complete, well-framed error reply of ``length``
    bytes: the request it answers fails, and the next reply starts after it."""
    return ERROR_REPLY - length


def error_reply_length(code: int) -> int:
    """The length an error reply's ``code`` gives (0: not given, or not an error reply)."""
    return ERROR_REPLY - code if code < ERROR_REPLY else 0


def error_kind_of(code: int) -> str:
    """The error kind counted for a negative ``check_reply`` result."""
    return "protocol_error" if code <= ERROR_REPLY else "mismatch"


def resolve(obj: object, what: str, options: dict[str, Any] | None = None) -> ProtocolAdapter:
    """Check ``obj`` against the contract and fill in its optional members.

    Raises :class:`ConfigError` with one line naming ``what`` when it does not fit.
    """
    for method in ("request", "check_reply"):
        if not callable(getattr(obj, method, None)):
            raise ConfigError(f"protocol {what} has no {method}() method; see docs/protocols.md")
    name = getattr(obj, "name", None) or type(obj).__name__.lower()
    kinds = tuple(getattr(obj, "kinds", ()) or ())
    kind = getattr(obj, "kind", None)
    if kinds and not callable(kind):
        raise ConfigError(f"protocol {what} declares kinds but has no kind(client, seq) method")
    if not all(isinstance(k, str) and k for k in kinds):
        raise ConfigError(f"protocol {what}: kinds must be non-empty strings, got {kinds!r}")
    if len(kinds) > MAX_KINDS:
        raise ConfigError(f"protocol {what} declares {len(kinds)} kinds; at most {MAX_KINDS}")
    setup = getattr(obj, "setup", None)
    if setup is not None and not callable(setup):
        raise ConfigError(f"protocol {what}: setup must be a method")
    kind_index: Callable[[int, int], int] = _one_kind
    if kinds:
        own = getattr(obj, "kind_index", None)
        kind_index = own if callable(own) else _index_of(kind, kinds)  # type: ignore[arg-type]
    return ProtocolAdapter(
        name=str(name),
        request=obj.request,  # type: ignore[attr-defined]
        check_reply=obj.check_reply,  # type: ignore[attr-defined]
        kinds=kinds,
        kind=kind if kinds else None,
        kind_index=kind_index,
        one_kind=_one_kind_of(obj, what, kinds),
        setup=setup,
        fixed=getattr(obj, "fixed", None),
        reply_size=int(getattr(obj, "reply_size", 0) or 0),
        expected=getattr(obj, "expected", None),
        options=dict(options or {}),
    )
