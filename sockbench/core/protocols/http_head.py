"""``--protocol http`` (:class:`Http`) and the head a server sends again and again.

:class:`Http` is the protocol object: the requests :mod:`~sockbench.core.protocols.http`
builds, and its framer behind :class:`RepeatedHead`, which takes the common reply at
two ``startswith`` and a short ``find``.

A benchmark asks one server for the same few paths, and the server answers each with
the same head, byte for byte, but for its ``Date`` value (nginx: ``Server``,
``Content-Type``, ``Content-Length``, ``ETag``, ``Connection`` never change). So once
:func:`~sockbench.core.protocols.http.http_reply_length` has framed such a reply, its
head is kept as a memo: the bytes before the ``Date`` value, the hole where the value
is, the bytes after it (through the empty line), and what the reply made (its length,
its ``check_reply`` result, its kind). A reply whose head is the memo's with any value
in the hole that holds no CRLF is framed and classed as the memo's, without a scan.

Trade-off: the memo is the only state an :class:`RepeatedHead` keeps, and it never
changes an answer, only its cost (a reply that does not match is framed in full, then
learned when it is the common kind), so one object still serves every client of a
worker and needs no reset. Why the hole is safe: each framing rule looks for a
header that starts after a CRLF (``Content-Length``, ``Transfer-Encoding``,
``Connection``) or for the empty line, and a value without CRLF can neither start a
header nor end the head; the status, every other header and every value a rule reads
are the memo's bytes. It keeps a few heads (one per path of a short ``--http-path``
list); a server whose heads vary elsewhere (a request id, a cookie) misses every time,
so after a few misses in a row it stops looking and learns again only now and then.
"""

from __future__ import annotations

from collections.abc import Callable

from sockbench.core.protocols.contract import ERROR_REPLY, NEED_MORE
from sockbench.core.protocols.http import (
    KINDS,
    UNANSWERED,
    HttpOptions,
    build_requests,
    common_body,
    general_reply_length,
    http_reply_at_close,
    http_reply_length,
    status_kind,
)

_CRLF = b"\r\n"
_CRLF2 = b"\r\n\r\n"
_DATE = b"\r\ndate:"

# (prefix, hole, hole_end, suffix, length, result, kind): the head is ``prefix``, then
# a value at [hole, hole_end) (offsets from the reply's start), then ``suffix``.
Memo = tuple[bytes, int, int, bytes, int, int, int]
# Heads kept: one per path of a short --http-path list; a server whose heads never repeat
# pays a failed look at each (see the module docstring).
MEMOS = 4
RETRY = 64


def learn(buf: bytearray, start: int, got: int) -> Memo | None:
    """The memo of the reply ``check_reply`` framed at ``start`` as ``got``, or None
    when its framing is not its head's alone (chunked, a 1xx first, no length)."""
    head_end = buf.find(_CRLF2, start)
    length = got if got > 0 else ERROR_REPLY - got
    if head_end < 0 or common_body(buf, start, head_end) != start + length - head_end - 4:
        return None
    head = buf[start : head_end + 2].lower()
    hole = head.find(_DATE)
    if hole < 0:
        hole = hole_end = head_end + 4 - start  # no Date: the whole head is the prefix
    else:
        hole += len(_DATE)
        hole_end = head.find(_CRLF, hole)
    prefix = bytes(buf[start : start + hole])
    suffix = bytes(buf[start + hole_end : head_end + 4])
    return (prefix, hole, hole_end, suffix, length, got, status_kind(buf, start))


class RepeatedHead:
    """``check_reply`` and ``reply_kind`` for HTTP that take a head seen before at the
    cost of two ``startswith`` and a short ``find`` each (see the module docstring)."""

    __slots__ = ("_memos", "_misses")

    def __init__(self) -> None:
        self._memos: tuple[Memo, ...] = ()  # the newest first, at most MEMOS
        self._misses = 0  # framed replies in a row that no memo had

    def reply_length(self, buf: bytearray, start: int, end: int) -> int:
        """:func:`~sockbench.core.protocols.http.http_reply_length`, the same answer."""
        for memo in self._memos:
            prefix, hole, hole_end, suffix, length, got, _ = memo
            if (
                buf.startswith(prefix, start, end)
                and buf.startswith(suffix, start + hole_end, end)
                and buf.find(_CRLF, start + hole, start + hole_end) < 0
            ):
                self._misses = 0
                return got if start + length <= end else NEED_MORE
        got = http_reply_length(buf, start, end)
        if got > 0 or got < ERROR_REPLY:
            self._learn(buf, start, got)
        return got

    def _learn(self, buf: bytearray, start: int, got: int) -> None:
        """A framed reply no memo had: keep its head, unless the heads do not repeat
        (more misses in a row than memos), when the memos go and a head is learned only
        every RETRY-th miss, so such a server pays no failed look and almost no learning."""
        misses = self._misses = self._misses + 1
        if misses > MEMOS:
            self._memos = ()
            if misses % RETRY:
                return
        learned = learn(buf, start, got)
        if learned is not None:
            self._memos = (learned, *self._memos[: MEMOS - 1])

    def reply_kind(self, buf: bytearray, start: int) -> int:
        """:func:`~sockbench.core.protocols.http.status_kind`, the same answer: a framed
        reply's first empty line ends its head, so a memo's head fits in the reply."""
        for memo in self._memos:
            prefix, hole, hole_end, suffix, _, _, kind = memo
            if (
                buf.startswith(prefix, start)
                and buf.startswith(suffix, start + hole_end)
                and buf.find(_CRLF, start + hole, start + hole_end) < 0
            ):
                return kind
        return status_kind(buf, start)


class Http:
    """``--protocol http``: each client walks the ``--http-path`` list from its own place."""

    name = "http"
    kinds = KINDS

    def __init__(self, options: HttpOptions) -> None:
        self.requests = build_requests(options)
        count = len(self.requests)
        head = options.method == "HEAD"
        self.one_kind = (UNANSWERED, len(self.requests[0])) if count == 1 else None
        self.reply_at_close = http_reply_at_close
        if head:
            self.check_reply: Callable[[bytearray, int, int], int] = _head_reply_length
            self.reply_kind: Callable[[bytearray, int], int] = status_kind
        else:
            repeated = RepeatedHead()
            self.check_reply = repeated.reply_length
            self.reply_kind = repeated.reply_kind
        requests = self.requests
        if count == 1:
            only = requests[0]
            self.request = lambda client, seq: only
        else:
            self.request = lambda client, seq: requests[(client + seq) % count]

    def kind(self, client: int, seq: int) -> str:
        return KINDS[UNANSWERED]

    def kind_index(self, client: int, seq: int) -> int:
        return UNANSWERED


def _head_reply_length(buf: bytearray, start: int, end: int) -> int:
    return general_reply_length(buf, start, end, True)
