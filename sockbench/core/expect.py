"""Request and reply framing for servers that do not simply echo.

Trade-off: a matcher only ever looks at bytes it is handed and keeps no state
between calls, so one matcher serves every client and needs no reset after an
error. The price is that a reply arriving in many small pieces is rescanned from
its start on each call; :class:`ReplyBuffer` reads in large chunks so that stays
rare.

A matcher's :meth:`~ReplyMatcher.check` looks at ``buf[start:end]`` and returns
the length of the one complete reply that begins at ``start`` (> 0), ``NEED_MORE``
(0) if it cannot tell yet, or ``MISMATCH`` (-1) once those bytes can no longer
begin a valid reply. Pipelined replies are matched by calling it again from
``start + length``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from sockbench.core.pickling import PicklesByFields
from sockbench.errors import ConfigError

NEED_MORE: Final = 0
MISMATCH: Final = -1
DEFAULT_MAX_REPLY = 1 << 20

_SIMPLE_ESCAPES = {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\", "0": b"\0"}
_HEX = frozenset("0123456789abcdefABCDEF")


def parse_escapes(text: str) -> bytes:
    r"""Bytes from a command-line string with ``\r \n \t \\ \0 \xHH`` escapes.

    Other characters are taken as UTF-8.
    """
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\":
            j = text.find("\\", i)
            j = len(text) if j < 0 else j
            out += text[i:j].encode()
            i = j
            continue
        code = text[i + 1 : i + 2]
        if code in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[code]
            i += 2
        elif code == "x" and len(digits := text[i + 2 : i + 4]) == 2 and set(digits) <= _HEX:
            out.append(int(digits, 16))
            i += 4
        else:
            bad = text[i : i + 4] if code == "x" else text[i : i + 2]
            raise ConfigError(
                f"bad escape {bad!r} at position {i} in {text!r}: "
                r"use \r \n \t \\ \0 or \xHH (two hex digits)"
            )
    return bytes(out)


class ReplyMatcher(Protocol):
    def check(self, buf: bytearray, start: int, end: int) -> int:
        """Length of the reply at ``buf[start:end]``, ``NEED_MORE`` or ``MISMATCH``."""
        ...


@dataclass(frozen=True)
class Exact(PicklesByFields):
    """The reply is exactly ``expected``; a wrong byte is a mismatch as soon as it arrives."""

    expected: bytes

    def __post_init__(self) -> None:
        if not self.expected:
            raise ConfigError("the expected reply must not be empty")

    def check(self, buf: bytearray, start: int, end: int) -> int:
        size = len(self.expected)
        if end - start >= size:
            return size if buf.startswith(self.expected, start, start + size) else MISMATCH
        # Partial reply: rare once replies fit a read, so the slice copy is acceptable.
        return NEED_MORE if buf.startswith(self.expected[: end - start], start) else MISMATCH


@dataclass(frozen=True)
class Echo(Exact):
    """The reply is the request itself (``expected`` is the request payload)."""


@dataclass(frozen=True)
class Size(PicklesByFields):
    """Any reply of exactly ``size`` bytes."""

    size: int

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ConfigError(f"the reply size must be at least 1 byte, got {self.size}")

    def check(self, buf: bytearray, start: int, end: int) -> int:
        return self.size if end - start >= self.size else NEED_MORE


@dataclass(frozen=True)
class Until(PicklesByFields):
    """A reply ending with the first occurrence of ``delim`` (included), at most ``max_size``."""

    delim: bytes
    max_size: int = DEFAULT_MAX_REPLY

    def __post_init__(self) -> None:
        if not self.delim:
            raise ConfigError("the reply delimiter must not be empty")
        if self.max_size < len(self.delim):
            raise ConfigError(
                f"the maximum reply size ({self.max_size} bytes) is shorter than "
                f"the delimiter {self.delim!r}"
            )

    def check(self, buf: bytearray, start: int, end: int) -> int:
        found = buf.find(self.delim, start, end)
        if found >= 0:
            size = found + len(self.delim) - start
            return size if size <= self.max_size else MISMATCH
        # Not found: the reply, if any, is longer than what we have.
        return NEED_MORE if end - start < self.max_size else MISMATCH


_NOTHING_YET = bytearray()
_NO_VIEW = memoryview(_NOTHING_YET)


class ReplyBuffer:
    """Received bytes not yet matched: ``data[start:end]`` of a reusable bytearray.

    Read with ``n = sock.recv_into(rb.space())`` then ``rb.commit(n)``; take replies
    with :meth:`take` until it returns ``NEED_MORE``. When every byte has been
    matched, ``start`` and ``end`` go back to 0 without copying, so ping-pong traffic
    allocates nothing per request; leftover bytes are moved to the front only when
    the free space runs short. The buffer is made at the first :meth:`space`: a
    connection that has read nothing yet holds none (a parked connection's memory).
    """

    __slots__ = ("_size", "data", "end", "min_free", "start", "view")

    def __init__(self, size: int = 65536, min_free: int = 4096) -> None:
        if min_free < 1 or size < min_free:
            raise ValueError(f"need size >= min_free >= 1, got {size=} {min_free=}")
        self._size = size
        self.data = _NOTHING_YET
        self.view = _NO_VIEW
        self.min_free = min_free
        self.start = 0
        self.end = 0  # both 0 once every byte was matched: ``view`` is then the space

    def __len__(self) -> int:
        return self.end - self.start

    def space(self) -> memoryview:
        """Free space after the data, at least ``min_free`` bytes; valid until the next call."""
        if self.start == self.end:
            self.start = self.end = 0
            if not self.data:
                self.data = bytearray(self._size)
                self.view = memoryview(self.data)
            return self.view
        if len(self.data) - self.end < self.min_free:
            self._compact()
        return self.view[self.end :]

    def commit(self, n: int) -> None:
        """Count ``n`` bytes just written into :meth:`space` as data."""
        if not 0 <= n <= len(self.data) - self.end:
            raise ValueError(f"cannot commit {n} bytes, {len(self.data) - self.end} free")
        self.end += n

    def take(self, matcher: ReplyMatcher) -> int:
        """Consume the next complete reply and return its length, else NEED_MORE or MISMATCH."""
        size = matcher.check(self.data, self.start, self.end)
        if size > 0:
            self.start += size
        return size

    def clear(self) -> None:
        self.start = self.end = 0

    def _compact(self) -> None:
        pending = self.end - self.start
        if self.start:
            # Through a copy: the source and destination ranges may overlap.
            self.data[:pending] = self.data[self.start : self.end]
            self.start, self.end = 0, pending
        if len(self.data) - pending < self.min_free:
            # A reply longer than the buffer: grow, which needs the old view released.
            self.view.release()
            self.data.extend(bytes(max(len(self.data), self.min_free)))
            self.view = memoryview(self.data)
