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
replaced. It keeps no state between calls (a memo that never changes an
answer is no such state), so one object serves every client and needs no reset
after an error; the engine rescans a reply that arrives
in pieces, which reading in large chunks keeps rare.

Optional members, looked up once when a run starts:

- ``name: str``: shown in reports (default: the class name, lower case).
- ``kinds: tuple[str, ...]`` and ``kind(client, seq) -> str``: the command of each
  request, so latency is also recorded per command ("set", "get").
- ``kind_index(client, seq) -> int``: the same as ``kinds.index(kind(client, seq))``,
  only cheaper (the engine calls it per request; without it, it looks the name up).
- ``one_kind: tuple[int, int] | None``: ``(kind index, request size)`` when every
  request is of that one kind and size, so the engine notes nothing per request.
- ``requests_from(client, seq, count) -> list[bytes]`` and ``kinds_from(client, seq,
  count) -> list[int]``: requests ``seq`` .. ``seq + count - 1`` and their kind indexes,
  the same as ``request`` and ``kind_index`` for each, only cheaper: the pump asks for a
  ``--pipeline`` batch at once (without them, it calls those once per request).
- ``setup(connection: int) -> bytes | None``: sent once after each connect (AUTH,
  SELECT); its reply is checked with ``check_reply`` but not measured.
- ``reply_kind(buf, start) -> int``: the kind (an index into ``kinds``) a reply decides,
  given a reply ``check_reply`` framed at ``start`` (an error reply too): HTTP's status
  class. Without it a request keeps the kind ``kind_index`` gave it. ``| CLOSES`` says
  the peer closes the connection after this reply (HTTP's ``Connection: close``): the
  connection is replaced at once, without an error, and the requests pipelined behind
  the reply (never served) are asked for again (``request(client, seq)``) and sent on
  the new connection.
- ``lookups: tuple[int, ...]`` and ``misses(buf, start, end) -> int``: for kinds that
  read keys (GET: 1, a multi-get: N; 0 for the others), how many keys each request
  reads, and, given a reply ``check_reply`` framed (not an error reply), how many of
  them missed (redis ``$-1``, memcached ``END`` with no ``VALUE``): the rest hit.
  Counted per kind for the window's completed requests (``hits``, ``misses``).
  ``miss_reply: bytes``, where every such kind reads one key: the one reply that
  misses (redis ``$-1\r\n``), compared inline instead of calling ``misses`` per reply.
- ``reply_at_close(buf, start, end) -> int``: when the peer closed the connection, the
  length of the reply ``buf[start:end]`` makes now that the stream ended (an HTTP body
  framed by the close), ``error_reply(n)`` for an error reply, or 0 for none.

:class:`ProtocolAdapter` is a protocol as the engine uses it, with every optional member
filled in: the engine asks no ``hasattr`` questions on its hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol, runtime_checkable

from sockbench.errors import ConfigError

# Final, and literals: the compiled build's modules take these as constants, not as a
# look-up in their globals at every use (they are read per reply).
NEED_MORE: Final = 0
MALFORMED: Final = -1
ERROR_REPLY: Final = -2
CLOSES: Final = 0x10000  # reply_kind's flag: the peer closes the connection after this reply
MAX_KINDS: Final = 1000  # the engine packs a kind's index with the request's size (KIND_BITS)
# A noted request (protocols with kinds) is one int: its size, then its kind's index.
KIND_BITS: Final = 16
KIND_MASK: Final = 0xFFFF  # (1 << KIND_BITS) - 1


@runtime_checkable
class ReplyProtocol(Protocol):
    """The two required methods; see the module docstring for the optional ones."""

    def request(self, client: int, seq: int) -> bytes: ...

    def check_reply(self, buf: bytearray, start: int, end: int) -> int: ...


class ProtocolFault(Exception):
    """A protocol broke the contract during a run (the message says how): the engine
    stops the run there, as failed, and keeps what it measured."""


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
    # The kind a framed reply decides (HTTP's status class); None: the request's own.
    reply_kind: Callable[[bytearray, int], int] | None = None
    # The reply the bytes make once the peer closed (an HTTP body framed by the close).
    reply_at_close: Callable[[bytearray, int, int], int] | None = None
    # Keys each kind's request reads (() where none does), and how many a reply missed.
    lookups: tuple[int, ...] = ()
    misses: Callable[[bytearray, int, int], int] | None = None
    miss_reply: bytes | None = None
    fixed: bytes | None = None
    # ``request`` and ``kind_index`` for a batch of consecutive requests (a pipeline's);
    # None: each of those once per request (filled in at construction).
    requests_from: Callable[[int, int, int], list[bytes]] = None  # type: ignore[assignment]
    kinds_from: Callable[[int, int, int], list[int]] = None  # type: ignore[assignment]
    # The two at once, as the pump sends a batch (:data:`BatchFrom`); a built-in mix has
    # its own (one format for the batch), else filled in from the two.
    batch_from: BatchFrom = None  # type: ignore[assignment]
    reply_size: int = 0
    expected: bytes | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # A plugin's ``FILE.py:NAME`` or ``module:NAME`` ("" for a built-in): what a fault names.
    plugin: str = ""

    def __post_init__(self) -> None:
        if self.requests_from is None:
            object.__setattr__(self, "requests_from", _each_request(self.request))
        if self.kinds_from is None:
            object.__setattr__(self, "kinds_from", _each_kind(self.kind_index))
        if self.batch_from is None:
            batch = _each_batch(self.requests_from, self.kinds_from, self.one_kind is None)
            object.__setattr__(self, "batch_from", batch)


#: ``batch_from(client, seq, count, built)``: requests ``seq`` .. ``seq + count - 1`` as
#: one write (the first of them ``built`` ahead, when not empty), and each one's note
#: (:func:`note`) in order; no notes for a protocol of one kind (``one_kind``).
BatchFrom = Callable[[int, int, int, bytes], tuple[bytes, list[int]]]


def note(size: int, kind: int) -> int:
    """A request of ``size`` bytes and kind ``kind`` as the exchange keeps it in flight."""
    return size << KIND_BITS | kind


def _each_batch(
    requests_from: Callable[[int, int, int], list[bytes]],
    kinds_from: Callable[[int, int, int], list[int]],
    noted: bool,
) -> BatchFrom:
    def batch(client: int, seq: int, count: int, built: bytes) -> tuple[bytes, list[int]]:
        if built:
            requests = [built, *requests_from(client, seq + 1, count - 1)]
        else:
            requests = requests_from(client, seq, count)
        if not noted:
            return b"".join(requests), []
        kinds = kinds_from(client, seq, count)
        notes = [note(len(r), k) for r, k in zip(requests, kinds, strict=True)]
        return b"".join(requests), notes

    return batch


def _each_request(request: Callable[[int, int], bytes]) -> Callable[[int, int, int], list[bytes]]:
    return lambda client, seq, count: [request(client, k) for k in range(seq, seq + count)]


def _each_kind(kind_index: Callable[[int, int], int]) -> Callable[[int, int, int], list[int]]:
    return lambda client, seq, count: [kind_index(client, k) for k in range(seq, seq + count)]


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


def _lookups_of(
    obj: object, what: str, kinds: tuple[str, ...]
) -> tuple[tuple[int, ...], Callable[[bytearray, int, int], int] | None]:
    """``lookups`` (one count per kind) and ``misses``, both or neither."""
    lookups = getattr(obj, "lookups", None)
    misses = getattr(obj, "misses", None)
    if lookups is None and misses is None:
        return (), None
    if (
        not callable(misses)
        or not isinstance(lookups, tuple)
        or len(lookups) != len(kinds)
        or not all(isinstance(n, int) and n >= 0 for n in lookups)
    ):
        raise ConfigError(
            f"protocol {what}: lookups must be a count of keys per kind, with a misses() "
            f"method, got {lookups!r}"
        )
    return lookups, misses


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


def _bytes_or_none(obj: object, member: str, what: str) -> bytes | None:
    """``obj.member`` as bytes, or None when absent: anything else (a ``str``) is one line
    now, not a ``TypeError`` in the engine once load has begun."""
    value = getattr(obj, member, None)
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise ConfigError(
        f"protocol {what}: {member} must be bytes or None, got {type(value).__name__} {value!r:.60}"
    )


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
    reply_kind = getattr(obj, "reply_kind", None)
    if reply_kind is not None and (not callable(reply_kind) or not kinds):
        raise ConfigError(f"protocol {what}: reply_kind must be a method, with kinds declared")
    reply_at_close = getattr(obj, "reply_at_close", None)
    if reply_at_close is not None and not callable(reply_at_close):
        raise ConfigError(f"protocol {what}: reply_at_close must be a method")
    lookups, misses = _lookups_of(obj, what, kinds)
    fixed = _bytes_or_none(obj, "fixed", what)
    expected = _bytes_or_none(obj, "expected", what)
    reply_size = getattr(obj, "reply_size", 0) or 0
    if not isinstance(reply_size, int) or isinstance(reply_size, bool) or reply_size < 0:
        raise ConfigError(
            f"protocol {what}: reply_size must be a whole number of bytes, got {reply_size!r}"
        )
    if fixed is not None and not fixed:
        raise ConfigError(f"protocol {what}: fixed must be the request's bytes, not empty")
    kind_index: Callable[[int, int], int] = _one_kind
    if kinds:
        own = getattr(obj, "kind_index", None)
        kind_index = own if callable(own) else _index_of(kind, kinds)  # type: ignore[arg-type]
    requests_from = getattr(obj, "requests_from", None)
    kinds_from = getattr(obj, "kinds_from", None)
    if (requests_from is not None and not callable(requests_from)) or (
        kinds_from is not None and not callable(kinds_from)
    ):
        raise ConfigError(f"protocol {what}: requests_from and kinds_from must be methods")
    return ProtocolAdapter(
        name=str(name),
        request=obj.request,  # type: ignore[attr-defined]
        check_reply=obj.check_reply,  # type: ignore[attr-defined]
        kinds=kinds,
        kind=kind if kinds else None,
        kind_index=kind_index,
        one_kind=_one_kind_of(obj, what, kinds),
        setup=setup,
        reply_kind=reply_kind,
        reply_at_close=reply_at_close,
        lookups=lookups,
        misses=misses,
        miss_reply=_bytes_or_none(obj, "miss_reply", what) if misses else None,
        fixed=fixed,
        # None: __post_init__ fills in a call of request / kind_index per request
        requests_from=requests_from,  # type: ignore[arg-type]
        kinds_from=kinds_from,  # type: ignore[arg-type]
        reply_size=reply_size,
        expected=expected,
        options=dict(options or {}),
    )


def checked_kinds(adapter: ProtocolAdapter, own: frozenset[str]) -> ProtocolAdapter:
    """A plugin's adapter whose every kind is checked as the engine asks for it: a kind
    outside its ``kinds`` (from ``kind``, ``kind_index`` or ``kinds_from``) raises
    :class:`ProtocolFault`, which stops the run as failed (its line by :func:`fault_line`),
    as an exception out of ``request`` does, where it was counted under no kind at all.

    For plugins only (a built-in's kinds are its own): the checks are in these wrappers,
    never in the engine, so a built-in protocol's requests cost nothing more. ``own``: the
    optional members the plugin has itself (``kind_index``, ``kinds_from``).
    """
    kinds = adapter.kinds
    if not kinds or adapter.kind is None:
        return adapter
    count = len(kinds)
    kind_index: Callable[[int, int], int]
    if "kind_index" in own:
        its_index = adapter.kind_index

        def kind_index(client: int, seq: int) -> int:
            got = its_index(client, seq)
            if isinstance(got, int) and 0 <= got < count:
                return got
            raise ProtocolFault(
                f"kind_index({client}, {seq}) returned {got!r:.40}, not an index into its "
                f"{count} kinds"
            )
    else:
        its_kind = adapter.kind
        index = {name: i for i, name in enumerate(kinds)}

        def kind_index(client: int, seq: int) -> int:
            got = its_kind(client, seq)
            try:
                return index[got]
            except (KeyError, TypeError):
                raise ProtocolFault(
                    f"kind({client}, {seq}) returned {got!r:.40}, not one of its kinds "
                    f"{kinds!r:.80}"
                ) from None

    kinds_from: Callable[[int, int, int], list[int]] | None = None  # None: from kind_index
    if "kinds_from" in own:
        its_kinds_from = adapter.kinds_from

        def kinds_from(client: int, seq: int, many: int) -> list[int]:
            got = its_kinds_from(client, seq, many)
            for k in got:
                if not isinstance(k, int) or not 0 <= k < count:
                    raise ProtocolFault(
                        f"kinds_from({client}, {seq}, {many}) returned {k!r:.40} among its "
                        f"kind indexes, not an index into its {count} kinds"
                    )
            return got

    # batch_from None: rebuilt from the checked members (__post_init__)
    return replace(adapter, kind_index=kind_index, kinds_from=kinds_from, batch_from=None)  # type: ignore[arg-type]


def fault_line(adapter: ProtocolAdapter, exc: BaseException) -> str:
    """One line for a protocol whose code failed during a run: who, what, and where in
    its code (or that a value it returned broke the contract, when the engine raised)."""
    who = f"the protocol plugin {adapter.plugin}" if adapter.plugin else f"protocol {adapter.name}"
    text = " ".join(str(exc).split())
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, ProtocolFault):
        return f"{who} broke the contract during the run: {text}"
    where = _plugin_frame(adapter, exc)
    if where:
        return f"{who} failed during the run: {what} (in {where})"
    return (
        f"{who} failed during the run: {what} (raised by sockbench on a value the "
        "protocol returned)"
    )


def raised_in_protocol(adapter: ProtocolAdapter, exc: BaseException) -> bool:
    """Whether ``exc`` passed through the protocol's own code (a plugin's source)."""
    return bool(_plugin_frame(adapter, exc))


def _plugin_frame(adapter: ProtocolAdapter, exc: BaseException) -> str:
    """``name() at file:line`` of the innermost traceback frame in the protocol's own
    source, or "" when none is (the engine raised on what the protocol returned)."""
    members = (adapter.request, adapter.check_reply, adapter.kind, adapter.kind_index)
    files = set()
    for member in (*members, adapter.setup):
        code = getattr(getattr(member, "__func__", member), "__code__", None)
        if code is not None and code.co_filename != __file__:
            files.add(code.co_filename)
    found = ""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in files:
            name = code.co_filename.rsplit("/", 1)[-1]
            found = f"{code.co_name}() at {name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def kinded(protocol: ProtocolAdapter | None) -> bool:
    """Whether requests are counted per kind: a protocol whose request varies (its kind
    noted as issued, or ``one_kind``), or a fixed one whose reply decides the kind
    (HTTP's status class: one path, so one request, built once and never per send)."""
    return protocol is not None and (protocol.fixed is None or protocol.reply_kind is not None)


def one_kind(protocol: ProtocolAdapter | None) -> tuple[int, int] | None:
    """The kind and size every request has, where the exchange is told it once."""
    if protocol is None or not kinded(protocol):
        return None
    if protocol.fixed is None or protocol.one_kind is not None:
        return protocol.one_kind
    return protocol.kind_index(0, 0), len(protocol.fixed)
