"""The built-in protocols' parsers and request mixes, without sockets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockbench.core.protocols import (
    ERROR_REPLY,
    MALFORMED,
    NEED_MORE,
    ProtocolOptions,
    build_protocol,
)
from sockbench.core.protocols.memcache import memcache_reply_length
from sockbench.core.protocols.memcache import mix_reply_parser as memcache_mix_parser
from sockbench.core.protocols.mix import CommandMix, parse_ratio
from sockbench.core.protocols.resp import (
    command,
    mix_reply_parser,
    resp_reply_length,
)
from sockbench.errors import ConfigError
from tests.support.builds import type_error
from tests.support.splits import Check, all_splits

ROOT = Path(__file__).resolve().parents[2]

RESP_REPLIES = [
    b"+OK\r\n",
    b"$5\r\nhello\r\n",
    b"$-1\r\n",
    b"$0\r\n\r\n",
    b":42\r\n",
    b":-7\r\n",
    b"*2\r\n$3\r\nfoo\r\n*2\r\n:1\r\n$-1\r\n",
    b"*0\r\n",
    b"*-1\r\n",
    b"$4\r\na\r\nb\r\n",  # a bulk body may hold CRLF
]


def test_resp_takes_every_reply_kind_however_the_stream_is_cut() -> None:
    stream = b"".join(RESP_REPLIES)
    assert all_splits(resp_reply_length, stream) == {tuple(RESP_REPLIES)}


@pytest.mark.parametrize(
    "stream",
    [b"?x\r\n", b"$abc\r\n", b"$5\r\nhelloXX", b":1.5\r\n", b"*x\r\n", b"$-2\r\n", b"*1\r\n?\r\n"],
)
def test_resp_malformed_replies_are_caught_however_they_are_cut(stream: bytes) -> None:
    assert all_splits(resp_reply_length, b"+OK\r\n" + stream) == {(b"+OK\r\n", "mismatch")}


# The mix parser's fast paths (+OK, $-1, a bulk of the value size) against the replies
# that only look like them: it must answer exactly as the general parser does.
MIX_LOOKALIKES = [
    b"$5\r\nhelloXX",  # the right header, a wrong CRLF after the body
    b"$5\r\nhello\rX",
    b"$5\r\nhello\nX",
    b"$+5\r\nhello\r\n",  # a sign
    b"$-5\r\n",
    b"$ 5\r\nhello\r\n",
    b"$5 \r\nhello\r\n",
    b"+OKAY\r\n",
    b"$-1X\r\n",
    b"-ERR x\r\n",
]


def _frames_like(
    check: Check, general: Check, replies: list[bytes], first: bytes, lookalikes: list[bytes]
) -> None:
    """``check`` takes ``replies`` however cut, and after ``first`` answers each look-alike
    the one way ``general`` does."""
    assert all_splits(check, b"".join(replies)) == {tuple(replies)}
    for stream in lookalikes:
        answers = all_splits(check, first + stream)
        assert answers == all_splits(general, first + stream)
        assert len(answers) == 1


def test_resp_mix_parser_frames_like_the_general_one_however_cut() -> None:
    # A leading zero is still 5 bytes; "abcde" is the value sockbench's own SETs write.
    replies = [*RESP_REPLIES, b"$05\r\nhello\r\n", b"$5\r\nabcde\r\n"]
    _frames_like(mix_reply_parser(5), resp_reply_length, replies, b"+OK\r\n", MIX_LOOKALIKES)


_RESP_PIECES = st.sampled_from(
    [b"+OK\r\n", b"$-1\r\n", b"$5\r\n", b"hello", b"abcde", b"abcd", b"\r\n", b"$", b"5",
     b"-", b"+", b"\r", b"\n", b"*2\r\n", b":1\r\n", b"x", b"0"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_RESP_PIECES, max_size=8).map(b"".join), st.integers(0, 3))
def test_resp_mix_parser_answers_as_the_general_one(data: bytes, at: int) -> None:
    check = mix_reply_parser(5)
    buf = bytearray(b"?" * at + data + b"$5\r\nhello\r\n")  # bytes past ``end`` are not read
    for end in range(at, at + len(data) + 1):
        assert check(buf, at, end) == resp_reply_length(buf, at, end)


def test_resp_error_reply_is_an_error_not_a_mismatch() -> None:
    assert all_splits(resp_reply_length, b"$1\r\nx\r\n-ERR wrong type\r\n") == {
        (b"$1\r\nx\r\n", "error")
    }
    # An error inside an array (EXEC) is a normal reply.
    assert resp_reply_length(bytearray(b"*1\r\n-ERR x\r\n"), 0, 12) == 12


def test_resp_gives_up_on_an_endless_line() -> None:
    assert resp_reply_length(bytearray(b"+" + b"x" * 70_000), 0, 70_001) == MALFORMED
    assert resp_reply_length(bytearray(b"+xxxx"), 0, 5) == NEED_MORE


def test_resp_command_encoding() -> None:
    assert command(b"GET", b"k") == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"


MEMCACHE_REPLIES = [
    b"STORED\r\n",
    b"END\r\n",
    b"VALUE key:1 0 5\r\nhello\r\nEND\r\n",
    b"VALUE a 3 2 77\r\nxy\r\nVALUE b 0 4\r\na\r\nb\r\nEND\r\n",
    b"NOT_FOUND\r\n",
    b"DELETED\r\n",
    b"12\r\n",
    b"VALUE e 0 0\r\n\r\nEND\r\n",
]


def test_memcache_takes_every_reply_kind_however_the_stream_is_cut() -> None:
    stream = b"".join(MEMCACHE_REPLIES)
    assert all_splits(memcache_reply_length, stream) == {tuple(MEMCACHE_REPLIES)}


@pytest.mark.parametrize(
    "stream",
    [b"HELLO\r\n", b"VALUE k 0 x\r\n", b"VALUE k 0 2\r\nabXX", b"VALUE k 0 1\r\na\r\nSTORED\r\n"],
)
def test_memcache_malformed_replies_are_caught(stream: bytes) -> None:
    assert all_splits(memcache_reply_length, b"END\r\n" + stream) == {(b"END\r\n", "mismatch")}


@pytest.mark.parametrize(
    "line",
    [
        b"ERROR\r\n",
        b"CLIENT_ERROR bad data chunk\r\n",
        b"SERVER_ERROR oom\r\n",
        b"ERROR Too many open connections\r\n",  # memcached past -c, before it closes
        b"SERVER_ERROR object too large for cache\r\n",  # a SET past memcached's -I
    ],
)
def test_memcache_error_lines_are_errors(line: bytes) -> None:
    # The general parser and the mix's fast one alike: the server refused, nothing malformed.
    for check in (memcache_reply_length, memcache_mix_parser(5)):
        assert all_splits(check, b"STORED\r\n" + line) == {(b"STORED\r\n", "error")}
    n = len(line)
    assert memcache_mix_parser(5)(bytearray(line), 0, n) == ERROR_REPLY - n  # its length kept


def test_memcache_gives_up_on_an_endless_line() -> None:
    assert memcache_reply_length(bytearray(b"x" * 3000), 0, 3000) == MALFORMED


# The memcache mix parser's fast path (a hit on sockbench's own value, "abcde" at size 5)
# against replies that only look like it: it must answer exactly as the general parser.
OWN_HIT = b"VALUE key:000000000042 0 5\r\nabcde\r\nEND\r\n"
MEMCACHE_LOOKALIKES = [
    b"VALUE key:00000000004x 0 5\r\nabcde\r\nEND\r\n",  # a key that is not all digits
    b"VALUE key:0000 000042 0 5\r\nabcde\r\nEND\r\n",  # a space in the key: 4 fields
    b"VALUE key:000000000042 0 5\r\nabcdeXXEND\r\n",  # no CRLF after the value
    b"VALUE key:000000000042 1 5\r\nabcde\r\nEND\r\n",  # other flags: the general walk
    b"VALUE key:000000000042 0 5\r\nabcde\r\nENDX\r\n",
    b"VALUE key:000000000042 0 5\r\nabcde\r\nVALUE k 0 1\r\nx\r\nEND\r\n",
    b"VALUE key:000000000042 0 05\r\nabcde\r\nEND\r\n",
    b"VALUE key:000000000042 0 5\r\nfghij\r\nEND\r\n",  # another writer's value
    b"STOREDX\r\n",
    b"ENDX\r\n",
    # The server's error lines: error replies from both parsers, never a mismatch.
    b"ERROR\r\n",
    b"ERROR Too many open connections\r\n",
    b"CLIENT_ERROR bad data chunk\r\n",
    b"SERVER_ERROR object too large for cache\r\n",
    b"SERVER_ERRORX\r\n",  # not an error line: malformed for both
]


def test_memcache_mix_parser_frames_like_the_general_one_however_cut() -> None:
    replies = [*MEMCACHE_REPLIES, OWN_HIT, OWN_HIT.replace(b"abcde", b"fghij")]
    _frames_like(
        memcache_mix_parser(5), memcache_reply_length, replies, b"END\r\n", MEMCACHE_LOOKALIKES
    )


_MEMCACHE_PIECES = st.sampled_from(
    [b"VALUE ", b"key:", b"000000000042", b"00000000004", b"x", b" ", b"0", b"5", b"\r\n",
     b"abcde", b"abcd", b"END", b"STORED", b"\r", b"\n", b"VALUE key:000000000042 0 5\r\n",
     b"ERROR", b"SERVER_ERROR object too large for cache", b"CLIENT_ERROR"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_MEMCACHE_PIECES, max_size=8).map(b"".join), st.integers(0, 3))
def test_memcache_mix_parser_answers_as_the_general_one(data: bytes, at: int) -> None:
    check = memcache_mix_parser(5)
    buf = bytearray(b"?" * at + data + OWN_HIT)  # bytes past ``end`` are not read
    for end in range(at, at + len(data) + 1):
        assert check(buf, at, end) == memcache_reply_length(buf, at, end)


def test_memcache_protocol_checks_with_the_mix_parser() -> None:
    memcache = build_protocol("memcache", ProtocolOptions(value_size=5))
    assert memcache.check_reply(bytearray(OWN_HIT), 0, len(OWN_HIT)) == len(OWN_HIT)
    assert memcache.request(0, 0).endswith(b"\r\nabcde\r\n")  # the value it checks for


def test_line_protocol_frames_by_newline() -> None:
    line = build_protocol("line", ProtocolOptions(payload=8))
    assert line.fixed is not None and line.fixed.endswith(b"\n") and len(line.fixed) == 8
    assert all_splits(line.check_reply, b"one\ntwo\n") == {(b"one\n", b"two\n")}
    sent = build_protocol("line", ProtocolOptions(request=b"PING\r\n"))
    assert sent.request(3, 9) == b"PING\n"
    with pytest.raises(ConfigError, match="one line"):
        build_protocol("line", ProtocolOptions(request=b"a\nb"))


@pytest.mark.parametrize("width", [2, 4])
def test_length_prefixed_echo(width: int) -> None:
    proto = build_protocol(f"length-prefixed:u{width * 8}", ProtocolOptions(payload=5))
    request = proto.request(0, 0)
    assert request[:width] == (5).to_bytes(width, "big") and len(request) == width + 5
    assert all_splits(proto.check_reply, request * 2) == {(request, request)}
    wrong_size = (6).to_bytes(width, "big") + b"x" * 6
    assert all_splits(proto.check_reply, request + wrong_size) == {(request, "mismatch")}
    wrong_body = request[:-1] + b"?"
    assert all_splits(proto.check_reply, request + wrong_body) == {(request, "mismatch")}


def test_length_prefixed_any_accepts_any_framed_reply() -> None:
    proto = build_protocol("length-prefixed:u16:any", ProtocolOptions(payload=3))
    stream = b"\x00\x02hi\x00\x00\x00\x01!"
    assert all_splits(proto.check_reply, stream) == {(b"\x00\x02hi", b"\x00\x00", b"\x00\x01!")}


def test_length_prefixed_rejects_a_body_too_long_for_its_prefix() -> None:
    with pytest.raises(ConfigError, match="does not fit a u16"):
        build_protocol("length-prefixed:u16", ProtocolOptions(payload=70_000))
    with pytest.raises(ConfigError, match="malformed --protocol"):
        build_protocol("length-prefixed:u8", ProtocolOptions())


def test_send_and_expect_are_built_in_protocols() -> None:
    exact = build_protocol(
        "echo", ProtocolOptions(request=b"PING\r\n", expect="exact", expect_value=b"+PONG\r\n")
    )
    assert exact.request(0, 0) == b"PING\r\n"
    assert (exact.expected, exact.reply_size) == (b"+PONG\r\n", 7)
    assert all_splits(exact.check_reply, b"+PONG\r\n+PANG\r\n") == {(b"+PONG\r\n", "mismatch")}
    size = build_protocol("", ProtocolOptions(request=b"x", expect="size", expect_value=3))
    assert (size.expected, size.reply_size) == (None, 3)
    until = build_protocol("", ProtocolOptions(request=b"x", expect="until", expect_value=b"\n"))
    assert until.reply_size == 0
    echo = build_protocol("", ProtocolOptions(payload=4))
    assert echo.expected == echo.fixed and len(echo.fixed or b"") == 4


def test_ratio_and_kinds_follow_the_mix() -> None:
    for spec in ("redis", "memcache"):
        proto = build_protocol(spec, ProtocolOptions(ratio=(1, 10), key_space=100))
        assert proto.kinds == ("set", "get") and proto.kind is not None
        kinds = Counter(proto.kind(0, seq) for seq in range(1100))
        assert kinds == {"set": 100, "get": 1000}
        assert proto.request(0, 0).lower().startswith((b"*3\r\n$3\r\nset", b"set "))
        assert proto.request(0, 1).lower().startswith((b"*2\r\n$3\r\nget", b"get "))


@pytest.mark.parametrize("pattern", ["R", "S", "G"])
@pytest.mark.parametrize("ratio", [(1, 10), (1, 0), (0, 1), (3, 2)])
def test_requests_and_kinds_are_the_keys_of_the_mix(pattern: str, ratio: tuple[int, int]) -> None:
    """One ``%`` per request draws the same keys, in the same order, as the mix's own
    :meth:`CommandMix.key`, and ``kind_index`` is ``kind``'s index."""
    options = ProtocolOptions(ratio=ratio, key_space=1000, key_pattern=pattern, value_size=7)
    value = b"$7\r\n" + b"abcdefg" + b"\r\n"
    for spec in ("redis", "memcache"):
        proto = build_protocol(spec, options)
        mix = CommandMix(options)
        mix.key(0, 0)  # build_protocol's smoke test drew one key
        for client, seq in [(c, s) for c in (0, 3) for s in range(40)]:
            key = b"key:%012d" % mix.key(client, seq)
            is_set = mix.is_set(seq)
            if spec == "redis":
                want = command(b"SET", key, b"abcdefg") if is_set else command(b"GET", key)
                assert want.endswith(value) == is_set
            else:
                want = b"set %s 0 0 7\r\nabcdefg\r\n" % key if is_set else b"get %s\r\n" % key
            assert proto.request(client, seq) == want
            assert proto.kind is not None
            assert proto.kinds[proto.kind_index(client, seq)] == proto.kind(client, seq)


def test_redis_requests_are_valid_resp_with_the_value_size() -> None:
    proto = build_protocol("redis", ProtocolOptions(value_size=100, key_space=10))
    request = proto.request(0, 0)
    assert request.endswith(b"\r\n$100\r\n" + request[-102:-2] + b"\r\n")
    # A command is itself an array of bulk strings, so the reply parser frames it.
    assert resp_reply_length(bytearray(request), 0, len(request)) == len(request)


@pytest.mark.parametrize("pattern", ["R", "S", "G"])
def test_keys_stay_in_the_key_space(pattern: str) -> None:
    mix = CommandMix(ProtocolOptions(key_space=50, key_pattern=pattern))
    keys = [mix.key(c, s) for c in range(3) for s in range(2000)]
    assert min(keys) >= 0 and max(keys) < 50
    assert len(set(keys)) > 25


def test_sequential_keys_walk_sets_and_gets_apart() -> None:
    mix = CommandMix(ProtocolOptions(key_space=1000, key_pattern="S", ratio=(1, 2)))
    assert [mix.key(0, s) for s in range(6)] == [0, 0, 1, 1, 2, 3]
    assert [mix.key(5, s) for s in range(3)] == [5, 5, 6]


def test_gaussian_keys_gather_in_the_middle() -> None:
    mix = CommandMix(ProtocolOptions(key_space=600, key_pattern="G"))
    keys = [mix.key(0, s) for s in range(6000)]
    middle = sum(1 for k in keys if 200 <= k < 400)
    assert middle / len(keys) == pytest.approx(0.68, abs=0.05)


@pytest.mark.parametrize("text", ["1", "a:b", "-1:2", "0:0", "1:2:3"])
def test_bad_ratios(text: str) -> None:
    with pytest.raises(ConfigError, match="--ratio"):
        parse_ratio(text)
    assert parse_ratio(" 0:1 ") == (0, 1)


PLUGIN = ROOT / "examples" / "kv_plugin.py"


def test_example_plugin_loads_from_a_file() -> None:
    proto = build_protocol(f"{PLUGIN}:KeyValue", ProtocolOptions(key_space=10))
    assert proto.name == "kv"
    assert proto.kinds == ("put", "fetch")
    assert proto.kind is not None  # no kind_index of its own: the engine looks it up
    assert [proto.kind_index(0, s) for s in range(4)] == [
        proto.kinds.index(proto.kind(0, s)) for s in range(4)
    ]
    assert proto.setup is not None and proto.setup(3) == b"HELLO 3\n"
    assert proto.check_reply(bytearray(b"OK\nOK"), 0, 5) == 3
    assert proto.check_reply(bytearray(b"ERR no\n"), 0, 7) == ERROR_REPLY - 7


def test_plugin_loads_from_a_module() -> None:
    proto = build_protocol("sockbench.core.protocols.resp:Redis", ProtocolOptions())
    assert proto.name == "redis"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuch", "unknown --protocol"),
        ("missing_file.py:X", "no such file"),
        ("no_such_module_xyz:X", "no module named"),
        ("sockbench.core.protocols.resp:Nope", "has no 'Nope'"),
        ("sockbench.core.protocols.resp:MAX_LINE", "neither a protocol"),
        ("sockbench.core.protocols.mix:value_bytes", "failed to start"),
        (
            "sockbench.core.protocols.mix:ProtocolOptions",
            type_error("no request", "TypeError: int object expected; got"),
        ),
        ("redis:x", "takes no parameters"),
    ],
)
def test_bad_protocols_fail_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        build_protocol(spec, ProtocolOptions())
    assert "\n" not in str(info.value)


def test_a_plugin_that_raises_fails_in_one_line(tmp_path: Path) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text(
        "class P:\n"
        "    def __init__(self, options):\n        pass\n"
        "    def request(self, client, seq):\n        return 1 / 0\n"
        "    def check_reply(self, buf, start, end):\n        return 0\n"
    )
    with pytest.raises(ConfigError, match="failed on its first request: ZeroDivisionError"):
        build_protocol(f"{plugin}:P", ProtocolOptions())
    plugin.write_text("import nonexistent_module_q\n")
    with pytest.raises(ConfigError, match="no module named"):
        build_protocol(f"{plugin}:P", ProtocolOptions())
    plugin.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ConfigError, match="failed to load: RuntimeError: boom"):
        build_protocol(f"{plugin}:P", ProtocolOptions())


_KINDS_PLUGIN = (
    "class P:\n"
    "    kinds = {kinds}\n"
    "    def request(self, client, seq):\n        return b'x'\n"
    "    def kind(self, client, seq):\n        return 'a'\n"
    "    def kind_index(self, client, seq):\n        return {index}\n"
    "    def check_reply(self, buf, start, end):\n        return 0\n"
    "p = P()\n"
)


def test_kind_index_is_checked_against_kind_and_kinds_are_bounded(tmp_path: Path) -> None:
    def plugin(name: str, kinds: str, index: int) -> str:
        # A file per variant: one rewritten in the same second at the same size would be
        # read from its cached bytecode, which pyc invalidation cannot tell apart.
        path = tmp_path / f"{name}.py"
        path.write_text(_KINDS_PLUGIN.format(kinds=kinds, index=index))
        return f"{path}:p"

    assert build_protocol(plugin("right", "('a', 'b')", 0), ProtocolOptions()).kind_index(0, 0) == 0
    with pytest.raises(ConfigError, match=r"kind_index\(\) returned 1 where kind\(\) returned 'a'"):
        build_protocol(plugin("wrong", "('a', 'b')", 1), ProtocolOptions())
    many = "('a',) + tuple(map(str, range(1000)))"
    with pytest.raises(ConfigError, match="declares 1001 kinds; at most 1000"):
        build_protocol(plugin("many", many, 0), ProtocolOptions())
