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
from sockbench.core.protocols.mix import KEY_DIGITS, MixProtocol, ProtocolOptions, value_bytes

MAX_LINE = 64 * 1024  # a simple string or header longer than this is not Redis talking
MAX_BULK = 512 * 1024 * 1024  # Redis's own proto-max-bulk-len default

_PLUS, _MINUS, _COLON, _DOLLAR, _STAR = b"+-:$*"
_OK, _NIL = b"+OK\r\n", b"$-1\r\n"  # both 5 bytes
_SECOND_OF_OK_NIL = frozenset((_OK[1], _NIL[1]))  # where a bulk header has a digit


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
    :func:`~sockbench.core.protocols.mix.value_bytes`), so it is tested with ``+OK`` and
    ``$-1`` in one ``startswith`` and costs what a fixed ``--expect`` does; any other
    value of that size has its header matched and its trailing CRLF checked; any other
    reply goes to the general walk. A closure, since each attribute look-up would cost
    about as much as a compare.
    """
    head = b"$%d\r\n" % bulk_size
    size = len(head) + bulk_size + 2
    general = resp_reply_length
    if bulk_size > MAX_BULK:
        return general
    known = (head + value_bytes(bulk_size) + b"\r\n", _OK, _NIL)

    def check(buf: bytearray, start: int, end: int) -> int:
        if buf.startswith(known, start, end):
            return 5 if buf[start + 1] in _SECOND_OF_OK_NIL else size  # +OK, $-1: 5 bytes
        if buf.startswith(head, start, end):
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


class Redis(MixProtocol):
    """``SET key value`` and ``GET key`` in the ``--ratio`` mix, keys ``key:%012d``."""

    name = "redis"

    def __init__(self, options: ProtocolOptions) -> None:
        # Every key has the same width: each request is one format with the key's digits.
        key = b"$%d\r\nkey:%%0%dd\r\n" % (4 + KEY_DIGITS, KEY_DIGITS)
        value = bulk(value_bytes(options.value_size)).replace(b"%", b"%%")
        formats = (b"*3\r\n$3\r\nSET\r\n" + key + value, b"*2\r\n$3\r\nGET\r\n" + key)
        super().__init__(options, formats, mix_reply_parser(options.value_size))
