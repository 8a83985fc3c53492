"""HTTP's repeated-head memo answers as the full framer: on every cut, after it learned a
head, for heads that differ from it anywhere (the Date hole included), and with
hypothesis; and the kind it gives is the status class the full framer gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sockbench.core.protocols.contract import CLOSES, error_reply
from sockbench.core.protocols.http import http_reply_length, status_kind
from sockbench.core.protocols.http_head import MEMOS, RETRY, UNSEEN, RepeatedHead, learn
from tests.support.splits import feed


def nginx(date: bytes = b"Sun, 06 Dec 2026 12:09:44 GMT", status: bytes = b"200 OK") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nServer: nginx/1.22.1\r\nDate: " + date + b"\r\n"
        b"Content-Type: text/html\r\nContent-Length: 6\r\nConnection: keep-alive\r\n"
        b'ETag: "6b155088-6"\r\n\r\nhello\n'
    )


LATER = b"Sun, 06 Dec 2026 12:09:45 GMT"


def frames(framer: RepeatedHead, stream: bytes, *cuts: int) -> list[tuple[bytes | str, int]]:
    """What ``framer`` takes from ``stream`` cut at ``cuts`` (``feed``: a small buffer
    that moves its bytes, so stale bytes lie past ``end``), each with the kind it gives."""
    kinds: list[int] = []

    def check(buf: bytearray, start: int, end: int) -> int:
        got = framer.reply_length(buf, start, end)
        if got > 0 or got < -2:
            kinds.append(framer.reply_kind(buf, start))
        return got

    taken = feed(check, stream, sorted(cuts))
    return list(zip(taken, [*kinds, -1][: len(taken)], strict=False))


def expected(stream: bytes) -> list[tuple[bytes | str, int]]:
    """What the full framer and status_kind take from ``stream`` given whole."""
    kinds: list[int] = []

    def check(buf: bytearray, start: int, end: int) -> int:
        got = http_reply_length(buf, start, end)
        if got > 0 or got < -2:
            kinds.append(status_kind(buf, start))
        return got

    taken = feed(check, stream, [])
    return list(zip(taken, [*kinds, -1][: len(taken)], strict=False))


def test_a_head_seen_before_is_framed_as_the_full_framer_frames_it_on_every_cut() -> None:
    stream = nginx() + nginx(LATER) + nginx(status=b"404 Not Found") + nginx(LATER, b"503 X")
    want = expected(stream)
    assert [kind & ~CLOSES for _, kind in want] == [0, 0, 2, 3] and want[-1][0] == "error"
    for cut in range(len(stream) + 1):
        assert frames(RepeatedHead(), stream, cut) == want


def test_a_5xx_seen_before_is_its_error_reply_again() -> None:
    repeated = RepeatedHead()
    for date in (b"Sun, 06 Dec 2026 12:09:44 GMT", LATER):
        busy = bytearray(nginx(date, b"503 Busy"))
        assert repeated.reply_length(busy, 0, len(busy)) == error_reply(len(busy))
        assert repeated.reply_kind(busy, 0) == 3
    assert len(repeated._memos) == 1 and repeated._misses == 0


# Each differs from nginx()'s head by a few bytes; the memo learned nginx() first.
LOOKALIKES = [
    nginx(b"a\r\nTransfer-Encoding: chunked"),  # a CRLF in the hole: a header of its own
    nginx(b"Sun, 06 Dec 2026 12:09:44 GMT\r\nContent-Length: 7"),
    nginx(b"x\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"),  # the head ends in the hole
    nginx(b"Sun, 06 Dec 2026 12:09:44 GMT\r"),  # a CR alone: the same framing
    nginx(b"Sunday, 06-Dec-26 12:09:44 GMT"),  # another length: the suffix moves
    nginx(b""),
    nginx(status=b"404 Not Found"),
    nginx(status=b"204 No Content"),  # the same length, no body
    nginx().replace(b"Content-Length: 6", b"content-length: 6"),
    nginx().replace(b"Content-Length: 6", b"Content-Length: 6\r\nContent-Length: 6"),
    nginx().replace(b"Content-Length: 6", b"Content-Length: 6\r\nContent-Length: 7"),
    nginx().replace(b"keep-alive", b"close     "),  # the same length, the peer closes
    nginx().replace(b"Connection: keep-alive", b"Connection: keep-alivE"),
    nginx()  # Content-Length in the body, and in another header's value
    .replace(b"Content-Length: 6", b"Content-Length: 23")
    .replace(b"hello\n", b"\r\nContent-Length: 9\r\n\r\n"),
    nginx().replace(b"Server: nginx/1.22.1", b"Server: Content-Length: 99"),
    nginx().replace(b"HTTP/1.1", b"HTTP/1.0"),
    nginx().replace(b"Date: ", b"X-Date: "),
    nginx().replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n"),
    nginx().replace(b"Length: 6", b"Length: 7").replace(b"hello", b"hello!"),  # same width
    nginx().replace(b"\r\n\r\n", b"\r\nX-Cache: HIT\r\n\r\n"),  # a header added
    nginx()  # chunked, after the Content-Length one
    .replace(b"Content-Length: 6", b"Transfer-Encoding: chunked")
    .replace(b"hello\n", b"6\r\nhello\n\r\n0\r\n\r\n"),
]


def test_heads_that_differ_from_the_one_seen_are_framed_in_full() -> None:
    """Before and after the Date turned (the last head then is the later one's)."""
    for lookalike in LOOKALIKES:
        stream = nginx() + lookalike + nginx(LATER) + lookalike
        want = expected(stream)
        for cut in range(len(stream) + 1):
            assert frames(RepeatedHead(), stream, cut) == want, (lookalike, cut)


def test_what_is_learned_and_what_is_not() -> None:
    five = bytearray(nginx(status=b"503 Busy"))
    memo = learn(five, 0, error_reply(len(five)))
    assert memo is not None and memo.got == error_reply(len(five)) and memo.kind == 3
    assert memo.head == five[:-6] and memo.prefix.endswith(b"Date:")
    assert memo.suffix.startswith(b"\r\nContent-Type")
    undated = bytearray(nginx().replace(b"Date: ", b"X-Date: "))
    memo = learn(undated, 0, len(undated))
    assert memo is not None and memo.head == memo.prefix == undated[:-6] and memo.suffix == b""
    chunked = bytearray(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert learn(chunked, 0, len(chunked)) is None
    interim = bytearray(b"HTTP/1.1 100 Continue\r\n\r\n" + nginx())
    assert learn(interim, 0, len(interim)) is None


_HOLE = st.lists(
    st.sampled_from(
        [b"Sun, 06 Dec", b"\r\n", b"\r", b"\n", b"Content-Length: 9", b"Connection: close",
         b" ", b"x", b"Transfer-Encoding: chunked", b"\r\n\r\n", b"HTTP/1.1 200 OK"]
    ),
    max_size=5,
).map(b"".join)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(_HOLE, st.sampled_from([b"200 OK", b"503 Busy", b"304 Not Modified"]), st.integers(0, 3))
def test_any_hole_is_framed_as_the_full_framer_frames_it(
    hole: bytes, status: bytes, at: int
) -> None:
    """After the memo learned nginx's head, a head with any bytes in its Date value (and
    bytes past ``end`` that continue the memo's head) answers as the full framer does,
    at every ``end``; a framed reply's kind too."""
    repeated = RepeatedHead()
    seen = bytearray(nginx())
    assert repeated.reply_length(seen, 0, len(seen)) == len(seen)
    data = nginx(hole, status)
    buf = bytearray(b"?" * at + data + nginx()[len(data) :] + b"HTTP/1.1 200 OK\r\n\r\n")
    for end in range(at, at + len(data) + 1):
        got = repeated.reply_length(buf, at, end)
        assert got == http_reply_length(buf, at, end)
        if got > 0 or got < -2:
            assert repeated.reply_kind(buf, at) == status_kind(buf, at)


def test_a_few_paths_keep_their_heads_and_heads_that_never_repeat_are_not_looked_at() -> None:
    """One memo per path of a short list (each framed at its memo after the first), and
    none kept for a server whose heads never repeat but every RETRY-th miss, learned
    again; the answers are the full framer's throughout."""
    repeated = RepeatedHead()
    paths = [nginx(), nginx(status=b"404 Not Found"), nginx(LATER, b"503 Busy")]
    for reply in paths * 3:
        buf = bytearray(reply)
        assert repeated.reply_length(buf, 0, len(buf)) == http_reply_length(buf, 0, len(buf))
    assert len(repeated._memos) == 3 and repeated._misses == 0
    kept = []
    for i in range(2 * RETRY):
        buf = bytearray(nginx().replace(b"nginx/1.22.1", b"%012d" % i))
        assert repeated.reply_length(buf, 0, len(buf)) == len(buf)
        assert repeated.reply_kind(buf, 0) == status_kind(buf, 0)
        kept.append(len(repeated._memos))
    assert kept[:MEMOS] == [4, 4, 4, 4] and kept[MEMOS] == 0
    assert [i + 1 for i, n in enumerate(kept) if n] == [1, 2, 3, 4, RETRY, 2 * RETRY]


def test_the_last_head_is_taken_at_one_look_and_follows_the_date() -> None:
    """The same head again is the last head; the Date turned, the memo's head is the new
    one; before any head was learned there is none, and no length fits it."""
    repeated = RepeatedHead()
    assert repeated._head == b"" and repeated._length > 1 << 60
    empty = bytearray()
    assert repeated.reply_length(empty, 0, 0) == 0 and not repeated._memos
    for date in (b"Sun, 06 Dec 2026 12:09:44 GMT", LATER, LATER):
        buf = bytearray(nginx(date))
        assert repeated.reply_length(buf, 0, len(buf)) == len(buf)
        assert repeated._head == repeated._memos[0].head == buf[:-6]
    assert len(repeated._memos) == 1


def test_a_head_seen_again_between_heads_that_never_repeat_stays_kept() -> None:
    """The last head's hits count as hits: heads that never repeat, one between each of
    a repeated head's, do not make the memos go."""
    repeated = RepeatedHead()
    for i in range(4 * MEMOS):
        for data in (nginx(), nginx().replace(b"nginx/1.22.1", b"%012d" % i)):
            buf = bytearray(data)
            assert repeated.reply_length(buf, 0, len(buf)) == len(buf)
    assert repeated._memos and repeated._misses == 1
    for i in range(MEMOS + 1):  # then only heads that never repeat: the last head goes too
        buf = bytearray(nginx().replace(b"nginx/1.22.1", b"%012d" % (100 + i)))
        assert repeated.reply_length(buf, 0, len(buf)) == len(buf)
    assert not repeated._memos and repeated._head == UNSEEN.head


_BYTES = st.sampled_from([b"\r", b"\n", b"\r\n", b"0", b"7", b" ", b":", b"x", b"X", b""])


@st.composite
def _variant(draw: st.DrawFn) -> bytes:
    """nginx()'s reply, the later one, a lookalike, or one of them with bytes replaced
    anywhere (the status, a header name, a value, the empty line, the body)."""
    reply = draw(st.sampled_from([nginx(), nginx(LATER), nginx(LATER), *LOOKALIKES]))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(reply)))
        size = draw(st.integers(0, 2))
        reply = reply[:at] + draw(_BYTES) + reply[at + size :]
    return reply


@settings(max_examples=300, deadline=None)
@given(st.lists(_variant(), min_size=1, max_size=6), st.lists(st.integers(0, 2000), max_size=2))
def test_any_sequence_of_heads_is_framed_as_the_full_framer_frames_it(
    replies: list[bytes], cuts: list[int]
) -> None:
    """Replies whose heads repeat, turn their Date, or differ from a kept one by a few
    bytes anywhere, cut anywhere: the full framer's answers and kinds, every one."""
    stream = b"".join(replies)
    at = [cut % (len(stream) + 1) for cut in cuts]
    assert frames(RepeatedHead(), stream, *at) == expected(stream)
