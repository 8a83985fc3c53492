"""``--protocol http`` (:class:`Http`) and the head a server sends again and again.

:class:`Http` is the protocol object: the requests :mod:`~sockbench.core.protocols.http`
builds, and its framer behind :class:`RepeatedHead`, which takes the common reply at one
``startswith``, as the fixed ``--expect`` matcher takes its reply.

A benchmark asks one server for the same few paths, and the server answers each with
the same head, byte for byte, but for its ``Date`` value (nginx: ``Server``,
``Content-Type``, ``Content-Length``, ``ETag``, ``Connection`` never change), and that
value changes once a second. So once
:func:`~sockbench.core.protocols.http.http_reply_length` has framed such a reply, its
head is kept as a memo (:class:`Memo`): the head as last seen, whole; the bytes before
the ``Date`` value, the hole where the value is, the bytes after it (through the empty
line); and what the reply made (its length, its ``check_reply`` result, its kind). A
reply that starts with the last head matched, whole, is framed and classed as its memo's
at one ``startswith``: the replies of one second. A reply whose head is a memo's with
any value in the hole that holds no CRLF (the next second's: an IMF-fixdate is always
29 bytes, so the bytes after it are where they were; a date of another format moves
them, and misses) is framed as the memo's at two ``startswith`` and a short ``find``,
and its head becomes the memo's whole head, and the last one matched.

Trade-off: the memos are the only state a :class:`RepeatedHead` keeps, and they never
change an answer, only its cost (a reply that does not match is framed in full, then
learned when it is the common kind), so one object still serves every client of a
worker and needs no reset. Why the hole is safe: each framing rule looks for a
header that starts after a CRLF (``Content-Length``, ``Transfer-Encoding``,
``Connection``) or for the empty line, and a value without CRLF can neither start a
header nor end the head; the status, every other header and every value a rule reads
are the memo's bytes. It keeps a few heads (one per path of a short ``--http-path``
list); a server whose heads vary elsewhere (a request id, a cookie) misses every time,
so after a few misses in a row it stops looking and learns again only now and then.
The price of the one-``startswith`` path where it cannot help: while heads are kept, one
failed ``startswith`` in ``check_reply`` and one in ``reply_kind`` per reply (none once
no head is); when the Date turns, the copy of a head (once a second per path, more while
replies of two seconds interleave). Not for threads: a worker's one trio loop calls it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

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

# Heads kept: one per path of a short --http-path list; a server whose heads never repeat
# pays a failed look at each (see the module docstring).
MEMOS = 4
RETRY = 64


@dataclass(slots=True)
class Memo:
    """A head framed before, and what its reply made.

    ``head`` is the head as last seen, its Date value included (what a reply of the same
    second matches at one ``startswith``); the same head with another value is
    ``prefix``, a value at [``hole``, ``hole_end``) (offsets from the reply's start),
    then ``suffix``. ``length``: the reply's, body included; ``got``: its
    ``check_reply`` result (``error_reply(length)`` for a 5xx); ``kind``: its
    ``reply_kind``.
    """

    head: bytes | bytearray  # a slice of the reply's buffer once the Date turned: one copy
    prefix: bytes
    hole: int
    hole_end: int
    suffix: bytes
    length: int
    got: int
    kind: int


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
    return Memo(
        head=bytes(buf[start : head_end + 4]),
        prefix=bytes(buf[start : start + hole]),
        hole=hole,
        hole_end=hole_end,
        suffix=bytes(buf[start + hole_end : head_end + 4]),
        length=length,
        got=got,
        kind=status_kind(buf, start),
    )


# The last head before any is learned: none, of a length no buffer reaches, so the fast
# paths need no "is there one yet" beyond a test they make anyway.
UNSEEN = Memo(b"", b"", 0, 0, b"", sys.maxsize, NEED_MORE, 0)


class RepeatedHead:
    """``check_reply`` and ``reply_kind`` for HTTP that take the last head again at one
    ``startswith`` each, and a head seen before with another Date value at two
    ``startswith`` and a short ``find`` (see the module docstring)."""

    __slots__ = ("_got", "_head", "_kind", "_length", "_memos", "_misses")

    def __init__(self) -> None:
        self._memos: tuple[Memo, ...] = ()  # the newest first, at most MEMOS
        self._misses = 0  # framed replies in a row that no memo had
        self._use(UNSEEN)

    def _use(self, memo: Memo) -> None:
        """The last head matched, unpacked for the fast path (attributes of its own)."""
        self._head, self._length, self._got, self._kind = (
            memo.head, memo.length, memo.got, memo.kind
        )  # fmt: skip

    def reply_length(self, buf: bytearray, start: int, end: int) -> int:
        """:func:`~sockbench.core.protocols.http.http_reply_length`, the same answer: the
        last head at one ``startswith``, a kept one with any Date value (it becomes the
        last head), else framed in full and learned. One method: a call costs as much as
        a ``startswith`` here, and a reply that no memo has pays for every one."""
        if start + self._length <= end and buf.startswith(self._head, start):
            self._misses = 0
            return self._got
        last = self._head  # looked at just now, unless only part of its reply came
        for memo in self._memos:
            head = memo.head
            if head is last or not buf.startswith(head, start, end):
                hole_end = memo.hole_end
                if not (
                    buf.startswith(memo.prefix, start, end)
                    and buf.startswith(memo.suffix, start + hole_end, end)
                    and buf.find(_CRLF, start + memo.hole, start + hole_end) < 0
                ):
                    continue
                # The same head with another Date value: kept as it is now.
                head = memo.head = buf[start : start + hole_end + len(memo.suffix)]
            self._misses = 0  # and :meth:`_use`, inline: paths in turn come here each reply
            length = self._length = memo.length
            got = self._got = memo.got
            self._head = head
            self._kind = memo.kind
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
            if self._memos:  # the last head goes with them (none kept: it is UNSEEN)
                self._memos = ()
                self._use(UNSEEN)
            if misses % RETRY:
                return
        learned = learn(buf, start, got)
        if learned is not None:
            self._memos = (learned, *self._memos[: MEMOS - 1])
            self._use(learned)

    def reply_kind(self, buf: bytearray, start: int) -> int:
        """:func:`~sockbench.core.protocols.http.status_kind`, the same answer: a framed
        reply's first empty line ends its head, so a memo's head fits in the reply."""
        head = self._head
        if head and buf.startswith(head, start):
            return self._kind
        for memo in self._memos:
            hole_end = memo.hole_end
            if (
                buf.startswith(memo.prefix, start)
                and buf.startswith(memo.suffix, start + hole_end)
                and buf.find(_CRLF, start + memo.hole, start + hole_end) < 0
            ):
                return memo.kind
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
        # One path: one request, which drivers send without building it (the kind is the
        # reply's status class all the same).
        self.fixed = requests[0] if count == 1 else None
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
