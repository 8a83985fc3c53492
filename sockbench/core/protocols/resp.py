"""RESP2 (Redis): a reply parser by framing, and a SET/GET mix (pure).

:func:`resp_reply_length` follows RESP2's framing: simple strings (``+``), errors
(``-``), integers (``:``), bulk strings (``$``, ``$-1`` is nil) and arrays (``*``,
nested, ``*-1`` is nil). A top-level error is ``error_reply(its length)``; anything off the
grammar is ``MALFORMED`` as soon as it is seen. Trade-off: it walks the reply
iteratively with a count of elements still owed, so nested arrays cost no
recursion, and it never copies a bulk body, only its short header.

:class:`Redis` checks replies with :func:`mix_reply_parser`: the replies its own mix
gets (``+OK``, ``$-1`` and a bulk of ``--value-size`` bytes) are recognised by one
prefix compare before the general walk, which keeps a GET's reply about as cheap to
check as a fixed ``--expect`` compare.
"""

from __future__ import annotations

from collections.abc import Callable

from sockbench.core.protocols.contract import MALFORMED, NEED_MORE, error_reply
from sockbench.core.protocols.match import starts_at
from sockbench.core.protocols.mix import (
    KindFormat,
    MixProtocol,
    ProtocolOptions,
    command_key_patterns,
    key_hole,
    key_length,
    value_bytes,
)
from sockbench.errors import ConfigError

MAX_LINE = 64 * 1024  # a simple string or header longer than this is not Redis talking
MAX_BULK = 512 * 1024 * 1024  # Redis's own proto-max-bulk-len default

_PLUS, _MINUS, _COLON, _DOLLAR, _STAR = b"+-:$*"
_OK, _NIL = b"+OK\r\n", b"$-1\r\n"  # both 5 bytes


def _integer(raw: bytearray) -> bool:
    return raw.isdigit() or (raw[:1] == b"-" and raw[1:].isdigit())


def resp_reply_length(buf: bytearray, start: int, end: int) -> int:
    """Length of the RESP2 reply at ``buf[start:end]``, ``NEED_MORE``, ``MALFORMED``
    or, for a top-level error, ``error_reply(length)``."""
    # Fast path for the replies a SET/GET mix gets: +OK and one bulk string or nil.
    nl = buf.find(b"\r\n", start, end)
    if nl > start:
        kind = buf[start]
        if kind == _PLUS:
            return nl + 2 - start
        if kind == _DOLLAR:
            head = buf[start + 1 : nl]
            if head.isdigit():
                stop = nl + 4 + int(head)
                if stop > end:
                    return NEED_MORE if stop - start <= MAX_BULK else MALFORMED
                return stop - start if buf[stop - 2] == 13 and buf[stop - 1] == 10 else MALFORMED
            if head == b"-1":
                return nl + 2 - start
    return _general_length(buf, start, end)


def _general_length(buf: bytearray, start: int, end: int) -> int:
    pos = start
    owed = 1  # elements still to read: 1 for the reply, plus every array's items
    while owed:
        if pos >= end:
            return NEED_MORE
        nl = buf.find(b"\r\n", pos, end)
        if nl < 0:
            return NEED_MORE if end - pos < MAX_LINE else MALFORMED
        kind = buf[pos]
        owed -= 1
        if kind == _DOLLAR:
            head = buf[pos + 1 : nl]
            if head.isdigit():
                size = int(head)
                if size > MAX_BULK:
                    return MALFORMED
                body_end = nl + 2 + size
                if body_end + 2 > end:
                    return NEED_MORE
                if buf[body_end] != 13 or buf[body_end + 1] != 10:
                    return MALFORMED
                pos = body_end + 2
            elif head == b"-1":
                pos = nl + 2
            else:
                return MALFORMED
        elif kind in (_PLUS, _MINUS):
            pos = nl + 2
        elif kind == _COLON:
            if not _integer(buf[pos + 1 : nl]):
                return MALFORMED
            pos = nl + 2
        elif kind == _STAR:
            head = buf[pos + 1 : nl]
            if head.isdigit():
                owed += int(head)
            elif head != b"-1":
                return MALFORMED
            pos = nl + 2
        else:
            return MALFORMED
    return error_reply(pos - start) if buf[start] == _MINUS else pos - start


def mix_reply_parser(bulk_size: int) -> Callable[[bytearray, int, int], int]:
    """:func:`resp_reply_length`, with the replies of a SET/GET mix (``+OK``, ``$-1`` and
    a ``bulk_size``-byte bulk string) recognised first.

    It answers as :func:`resp_reply_length` does for every input. A GET hit on a key
    sockbench's own SETs wrote is one known byte string (the value is
    :func:`~sockbench.core.protocols.mix.value_bytes`), so it is tested first, in one
    compare, and costs what a fixed ``--expect`` does; then ``+OK`` and ``$-1``; any other
    value of that size has its header matched and its trailing CRLF checked; any other
    reply goes to the general walk. A closure, since each attribute look-up would cost
    about as much as a compare. The compare is
    :data:`~sockbench.core.protocols.match.starts_at` (C in the compiled build).
    """
    head = b"$%d\r\n" % bulk_size
    size = len(head) + bulk_size + 2
    general = resp_reply_length
    if bulk_size > MAX_BULK:
        return general
    hit = head + value_bytes(bulk_size) + b"\r\n"
    starts = starts_at

    def check(buf: bytearray, start: int, end: int) -> int:
        if starts(buf, hit, start, end):
            return size
        if starts(buf, _OK, start, end) or starts(buf, _NIL, start, end):
            return 5
        if starts(buf, head, start, end):
            stop = start + size
            if stop > end:
                return NEED_MORE
            return size if buf[stop - 2] == 13 and buf[stop - 1] == 10 else MALFORMED
        return general(buf, start, end)

    return check


def bulk(item: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(item), item)


def command(*items: bytes) -> bytes:
    """One RESP command: an array of bulk strings."""
    return b"*%d\r\n" % len(items) + b"".join(bulk(i) for i in items)


def nil_misses(buf: bytearray, start: int, end: int) -> int:
    """A framed reply to one GET: 1 for the nil (``$-1``), 0 for a value."""
    return 1 if buf.startswith(_NIL, start, end) else 0


def array_nils(buf: bytearray, start: int, end: int) -> int:
    """A framed reply to MGET (an array of bulk strings): how many of its items are nil.
    It walks the headers only, as the reply is framed already."""
    nl = buf.find(b"\r\n", start, end)
    if buf[start] != _STAR or nl < 0 or not buf[start + 1 : nl].isdigit():
        return 0
    nils = 0
    pos = nl + 2
    for _ in range(int(buf[start + 1 : nl])):
        nl = buf.find(b"\r\n", pos, end)
        if nl < 0:
            break
        head = buf[pos + 1 : nl]
        if head == b"-1":
            nils += 1
        if buf[pos] == _DOLLAR and head.isdigit():
            nl += 2 + int(head)
        pos = nl + 2
    return nils


def _item(options: ProtocolOptions, arg: bytes) -> tuple[bytes, bool]:
    """One argument of a ``--command`` template as a RESP bulk string with its holes:
    ``__key__`` anywhere in it (its length is known: every key is as long),
    ``__data__`` as the whole argument; and whether it names the key."""
    if b"__data__" in arg:
        if arg != b"__data__":
            raise ConfigError(f"--command: __data__ must be a whole argument, got {arg.decode()!r}")
        return _value(options), False
    parts = arg.split(b"__key__")
    length = len(arg) + (len(parts) - 1) * (key_length(options) - len(b"__key__"))
    text = key_hole(options).join(p.replace(b"%", b"%%") for p in parts)
    return b"$%d\r\n" % length + text + b"\r\n", len(parts) > 1


def _value(options: ProtocolOptions) -> bytes:
    """A value as a bulk string: the one value, or holes for a size range's."""
    low, high = options.value_sizes
    if low == high:
        return bulk(value_bytes(low)).replace(b"%", b"%%")
    return b"$%(n)d\r\n%(v)b\r\n"


def template_formats(options: ProtocolOptions) -> tuple[KindFormat, ...]:
    """Each ``--command`` template as a kind: named after its command (lower case;
    ``hset_2`` for a second HSET template), its RESP encoding built once."""
    formats: list[KindFormat] = []
    for template in options.commands:
        args = [a.encode() for a in template.split()]
        if not args:
            raise ConfigError("--command: an empty template; give a command like 'GET __key__'")
        items = [_item(options, a) for a in args]
        text = b"*%d\r\n" % len(args) + b"".join(item for item, _ in items)
        name = args[0].decode().lower()
        names = [f.name for f in formats]
        if name in names:
            name = f"{name}_{sum(n.split('_')[0] == name for n in names) + 1}"
        formats.append(
            KindFormat(
                name, text, keys=int(any(k for _, k in items)),
                data=b"__data__" in args and options.value_sizes[0] != options.value_sizes[1],
            )
        )  # fmt: skip
    return tuple(formats)


class Redis(MixProtocol):
    """``SET key value`` and ``GET key`` (``MGET`` of ``--multi-key`` keys) in the
    ``--ratio`` mix, keys ``key:%012d``; or the ``--command`` templates in their ratios."""

    name = "redis"

    def __init__(self, options: ProtocolOptions) -> None:
        if options.commands:
            formats = template_formats(options)
            ratios = options.command_ratios or (1,) * len(formats)
            patterns = command_key_patterns(options)
            super().__init__(options, formats, resp_reply_length, None, ratios, patterns)
            return
        # Every key has the same width: each request is one format with the key's digits.
        key = b"$%d\r\n" % key_length(options) + key_hole(options) + b"\r\n"
        low, high = options.value_sizes
        many = options.multi_key
        if many == 1:
            get = KindFormat("get", b"*2\r\n$3\r\nGET\r\n" + key, lookups=1)
        else:
            head = b"$%d\r\n" % key_length(options)
            keys = b"".join(head + key_hole(options, i) + b"\r\n" for i in range(many))
            text = b"*%d\r\n$4\r\nMGET\r\n" % (many + 1) + keys
            get = KindFormat("get", text, keys=many, lookups=many)
        formats = (
            KindFormat("set", b"*3\r\n$3\r\nSET\r\n" + key + _value(options), data=low != high),
            get,
        )
        misses = nil_misses if many == 1 else array_nils
        miss = _NIL if many == 1 else None
        super().__init__(options, formats, mix_reply_parser(low), misses, miss_reply=miss)
