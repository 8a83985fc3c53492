"""The memcached text protocol: a reply parser and a set/get mix (pure).

:func:`memcache_reply_length` knows every reply of the storage and retrieval
commands: ``VALUE key flags bytes [cas]`` blocks ended by ``END``, the one-line
status words (``STORED``, ``NOT_FOUND``, ...), ``incr``/``decr`` numbers, and the
error lines (``ERROR``, ``CLIENT_ERROR ...``, ``SERVER_ERROR ...``: ``error_reply(length)``).
The two replies a set/get mix gets nearly always (``STORED``, ``END``) are tested
first, without slicing; :func:`mix_reply_parser` adds a GET hit on the value
sockbench's own SETs wrote.
"""

from __future__ import annotations

from collections.abc import Callable

from sockbench.core.protocols.contract import MALFORMED, NEED_MORE, error_reply
from sockbench.core.protocols.match import starts_at
from sockbench.core.protocols.mix import (
    KEY_DIGITS,
    KindFormat,
    MixProtocol,
    ProtocolOptions,
    key_hole,
    value_bytes,
)

MAX_LINE = 2048  # keys are at most 250 bytes: a longer line is not memcached
MAX_VALUE = 1024 * 1024 * 1024
_STATUS = frozenset(
    (b"END", b"STORED", b"NOT_STORED", b"EXISTS", b"NOT_FOUND", b"DELETED", b"TOUCHED", b"OK")
)
# ``ERROR`` alone answers an unknown command; memcached also says why, past its
# connection limit: ``ERROR Too many open connections`` (then it closes).
_ERRORS = (b"ERROR ", b"CLIENT_ERROR ", b"SERVER_ERROR ")
_STORED, _END = b"STORED\r\n", b"END\r\n"


def _line_end(buf: bytearray, pos: int, end: int) -> int:
    """Index of the CRLF ending the line at ``pos``: -1 if not in yet, -2 if too long."""
    nl = buf.find(b"\r\n", pos, end)
    if nl < 0 and end - pos >= MAX_LINE:
        return -2
    return nl


def memcache_reply_length(buf: bytearray, start: int, end: int) -> int:
    """Length of the memcached text reply at ``buf[start:end]``, ``NEED_MORE``,
    ``MALFORMED`` or, for an error line, ``error_reply(length)``."""
    if buf.startswith(b"STORED\r\n", start, end):
        return 8
    if buf.startswith(b"END\r\n", start, end):
        return 5
    pos = start
    while True:
        nl = _line_end(buf, pos, end)
        if nl < 0:
            return MALFORMED if nl == -2 else NEED_MORE
        if not buf.startswith(b"VALUE ", pos, nl):
            break
        fields = buf[pos + 6 : nl].split(b" ")
        if not 3 <= len(fields) <= 4 or not fields[1].isdigit() or not fields[2].isdigit():
            return MALFORMED
        if len(fields) == 4 and not fields[3].isdigit():
            return MALFORMED
        data_end = nl + 2 + int(fields[2])
        if data_end + 2 > end:
            return NEED_MORE if data_end - start <= MAX_VALUE else MALFORMED
        if buf[data_end : data_end + 2] != b"\r\n":
            return MALFORMED
        pos = data_end + 2
        if buf.startswith(b"END\r\n", pos, end):
            return pos + 5 - start
    line = bytes(buf[pos:nl])
    if line == b"END" or (pos == start and (line in _STATUS or line.isdigit())):
        return nl + 2 - start
    if pos == start and (line == b"ERROR" or line.startswith(_ERRORS)):
        return error_reply(nl + 2 - start)
    return MALFORMED


def mix_reply_parser(
    value_size: int, prefix: bytes = b"key:"
) -> Callable[[bytearray, int, int], int]:
    """:func:`memcache_reply_length`, with a GET hit on a key sockbench's own SETs wrote
    recognised first.

    It answers as :func:`memcache_reply_length` does for every input. That hit is
    ``VALUE <prefix><digits> 0 <size>``, the known value
    (:func:`~sockbench.core.protocols.mix.value_bytes`) and ``END``: every byte but the
    key's digits is known, so two compares and a digit check take it, where the
    general walk splits the header and slices. It is tried first (most replies of a
    SET:GET mix are GETs), then ``STORED`` and ``END``. Any other reply goes to the
    general walk. A closure, as the redis one, with the same compare
    (:data:`~sockbench.core.protocols.match.starts_at`).
    """
    general = memcache_reply_length
    if value_size > MAX_VALUE:
        return general
    head = b"VALUE " + prefix
    key_start = len(head)
    key_end = key_start + KEY_DIGITS
    tail = b" 0 %d\r\n" % value_size + value_bytes(value_size) + b"\r\nEND\r\n"
    size = key_end + len(tail)
    starts = starts_at

    def check(buf: bytearray, start: int, end: int) -> int:
        if starts(buf, head, start, end):
            if (
                starts(buf, tail, start + key_end, end)
                and buf[start + key_start : start + key_end].isdigit()
            ):
                return size
            return general(buf, start, end)
        if starts(buf, _STORED, start, end):
            return 8
        if starts(buf, _END, start, end):
            return 5
        return general(buf, start, end)

    return check


def end_misses(buf: bytearray, start: int, end: int) -> int:
    """A framed reply to a one-key ``get``: 1 for ``END`` alone (a miss), 0 for a value."""
    return 1 if buf.startswith(b"END\r\n", start, end) else 0


def values_in(buf: bytearray, start: int, end: int) -> int:
    """How many ``VALUE`` blocks a framed retrieval reply holds (its headers only)."""
    found = 0
    pos = start
    while buf.startswith(b"VALUE ", pos, end):
        nl = buf.find(b"\r\n", pos, end)
        fields = buf[pos + 6 : nl].split(b" ")
        pos = nl + 4 + int(fields[2])
        found += 1
    return found


def multi_misses(keys: int) -> Callable[[bytearray, int, int], int]:
    """A framed reply to ``get`` of ``keys`` keys: those with no ``VALUE`` block."""
    return lambda buf, start, end: keys - values_in(buf, start, end)


class Memcache(MixProtocol):
    """``set key 0 0 N`` + value and ``get key`` (``get k1 k2 ...`` of ``--multi-key``
    keys) in the ``--ratio`` mix, keys ``key:%012d``."""

    name = "memcache"

    def __init__(self, options: ProtocolOptions) -> None:
        key = key_hole(options)
        low, high = options.value_sizes
        if low == high:
            value = value_bytes(low).replace(b"%", b"%%")
            stored = b" 0 0 %d\r\n" % low + value + b"\r\n"
        else:
            stored = b" 0 0 %(n)d\r\n%(v)b\r\n"
        many = options.multi_key
        keys = b" ".join(key_hole(options, i) for i in range(many))
        formats = (
            KindFormat("set", b"set " + key + stored, data=low != high),
            KindFormat("get", b"get " + keys + b"\r\n", keys=many, lookups=many),
        )
        misses = end_misses if many == 1 else multi_misses(many)
        check = mix_reply_parser(low, options.key_prefix.encode())
        miss = b"END\r\n" if many == 1 else None
        super().__init__(options, formats, check, misses, miss_reply=miss)
