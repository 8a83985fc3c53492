import pytest

from sockbench.core.expect import (
    MISMATCH,
    NEED_MORE,
    Echo,
    Exact,
    ReplyBuffer,
    ReplyMatcher,
    Size,
    Until,
    parse_escapes,
)
from sockbench.errors import ConfigError
from tests.support.splits import all_splits


def test_parse_escapes() -> None:
    assert parse_escapes(r"GET / HTTP/1.0\r\n\r\n") == b"GET / HTTP/1.0\r\n\r\n"
    assert parse_escapes(r"a\tb\\c\0d") == b"a\tb\\c\x00d"
    assert parse_escapes(r"\x00\xff\x7F") == b"\x00\xff\x7f"
    assert parse_escapes("plain") == b"plain"
    assert parse_escapes("") == b""
    assert parse_escapes("é") == "é".encode()
    assert parse_escapes(r"\\n") == b"\\n"


@pytest.mark.parametrize("text", [r"\q", "trailing\\", r"\x4", r"\xg0", r"\x", r"ok\N"])
def test_parse_escapes_rejects_bad_escapes(text: str) -> None:
    with pytest.raises(ConfigError, match="bad escape"):
        parse_escapes(text)


def _all_splits(matcher: ReplyMatcher, stream: bytes) -> set[tuple[bytes | str, ...]]:
    return all_splits(matcher.check, stream)


def test_exact_matches_pipelined_replies_however_they_are_split() -> None:
    assert _all_splits(Exact(b"PONG\n"), b"PONG\nPONG\nPONG\n") == {(b"PONG\n",) * 3}


def test_exact_reports_a_wrong_prefix_without_waiting_for_the_whole_reply() -> None:
    matcher = Exact(b"HELLO WORLD")
    buf = bytearray(b"HELXO")
    assert matcher.check(buf, 0, 3) == NEED_MORE
    assert matcher.check(buf, 0, 4) == MISMATCH
    assert _all_splits(matcher, b"HELLO WORLDHELXO WORLD") == {(b"HELLO WORLD", "mismatch")}


def test_echo_is_exact_on_the_request() -> None:
    matcher = Echo(b"ping")
    assert matcher.check(bytearray(b"pingping"), 4, 8) == 4
    assert matcher.check(bytearray(b"pong"), 0, 4) == MISMATCH
    assert isinstance(matcher, Exact)


def test_size_counts_bytes_only() -> None:
    assert _all_splits(Size(3), b"abcdefgh") == {(b"abc", b"def", "partial")}
    assert Size(3).check(bytearray(b"xxabc"), 2, 5) == 3
    assert Size(3).check(bytearray(b"xxabc"), 3, 5) == NEED_MORE


def test_until_ends_at_the_first_delimiter_even_across_reads() -> None:
    stream = b"+OK\r\n$5\r\nhello\r\n\r\n"
    assert _all_splits(Until(b"\r\n"), stream) == {
        (b"+OK\r\n", b"$5\r\n", b"hello\r\n", b"\r\n"),
    }


def test_until_mismatches_once_the_reply_cannot_fit_max_size() -> None:
    matcher = Until(b"\n", max_size=4)
    assert matcher.check(bytearray(b"abc\n"), 0, 4) == 4
    assert matcher.check(bytearray(b"abc"), 0, 3) == NEED_MORE
    assert matcher.check(bytearray(b"abcd"), 0, 4) == MISMATCH
    assert matcher.check(bytearray(b"abcd\n"), 0, 5) == MISMATCH
    assert _all_splits(matcher, b"ab\nabcdefg\n") == {(b"ab\n", "mismatch")}


def test_until_with_a_multibyte_delimiter_split_over_the_max_size_boundary() -> None:
    matcher = Until(b"\r\n", max_size=4)
    assert matcher.check(bytearray(b"ab\r"), 0, 3) == NEED_MORE
    assert matcher.check(bytearray(b"ab\r\n"), 0, 4) == 4
    assert matcher.check(bytearray(b"abc\r"), 0, 4) == MISMATCH


def test_matchers_reject_useless_parameters() -> None:
    for make in (lambda: Exact(b""), lambda: Size(0), lambda: Until(b""), lambda: Until(b"ab", 1)):
        with pytest.raises(ConfigError):
            make()


def test_reply_buffer_reuses_its_storage_and_grows_for_long_replies() -> None:
    rb = ReplyBuffer(size=8, min_free=4)
    assert not rb.data  # nothing read yet: no storage held
    space = rb.space()
    storage = rb.data
    assert len(space) == 8
    space[:6] = b"ab\ncd\n"
    del space
    rb.commit(6)
    assert [rb.take(Until(b"\n")) for _ in range(3)] == [3, 3, NEED_MORE]
    assert len(rb.space()) == 8  # everything matched: back to the front, nothing copied
    assert rb.data is storage

    long_reply = b"x" * 30 + b"\n"
    pos = 0
    while (size := rb.take(Until(b"\n"))) == NEED_MORE:
        space = rb.space()
        n = min(len(space), len(long_reply) - pos)
        space[:n] = long_reply[pos : pos + n]
        del space
        rb.commit(n)
        pos += n
    assert size == 31
    assert len(rb) == 0
    with pytest.raises(ValueError, match="cannot commit"):
        rb.commit(len(rb.data) + 1)
