"""--protocol http without sockets: the request bytes, the response framer on every cut of
the bytes and against hypothesis, the status classes as kinds, and the options' errors."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockbench.core.exchange import OK as OK_
from sockbench.core.exchange import RECONNECT, RequestWindow, StreamExchange
from sockbench.core.protocols import MALFORMED, NEED_MORE, ProtocolOptions, build_protocol
from sockbench.core.protocols.contract import CLOSES, error_reply, kinded
from sockbench.core.protocols.http import (
    KINDS,
    HttpOptions,
    build_request,
    general_reply_length,
    http_options,
    http_reply_at_close,
    http_reply_length,
    status_kind,
)
from sockbench.engine.worker.workload import ProtocolMatcher
from sockbench.errors import ConfigError
from sockbench.machine import build_run_spec
from tests.support.sinks import QuietSink
from tests.support.splits import Check, all_splits, feed

OK = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\n\r\nhello"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;x=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n"
)
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
NOT_MODIFIED = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"  # no body anyway
CONTINUE_THEN_OK = (
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 201 Created\r\nContent-Length: 2\r\n\r\nok"
)
REDIRECT = (
    b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 3\r\n\r\n\r\n\r"  # CRLFs in a body
)
REPLIES = [OK, NOT_FOUND, CHUNKED, NO_CONTENT, NOT_MODIFIED, CONTINUE_THEN_OK, REDIRECT]


def every_cut(check: Check, stream: bytes) -> set[tuple[bytes | str, ...]]:
    """What ``check`` takes from ``stream`` cut once at every place: one answer each."""
    return {tuple(feed(check, stream, [i])) for i in range(len(stream) + 1)}


def test_every_reply_is_framed_however_the_stream_is_cut() -> None:
    assert every_cut(http_reply_length, b"".join(REPLIES)) == {tuple(REPLIES)}
    # Every pair of cuts where framing has stages: chunks, trailers, a 1xx first.
    for reply in (CHUNKED[:47] + b"2\r\nab\r\n0\r\nT: 1\r\n\r\n", CONTINUE_THEN_OK):
        assert all_splits(http_reply_length, reply) == {(reply,)}


def test_a_5xx_is_an_error_reply_of_its_length_and_the_stream_stays_in_step() -> None:
    error = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
    assert http_reply_length(bytearray(error), 0, len(error)) == error_reply(len(error))
    assert every_cut(http_reply_length, OK + error) == {(OK, "error")}


@pytest.mark.parametrize(
    "stream",
    [
        b"HTTX/1.1 200 OK\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 600 Odd\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"hello",
    ],
)
def test_malformed_replies_are_caught_however_they_are_cut(stream: bytes) -> None:
    assert all_splits(http_reply_length, NOT_FOUND + stream) == {(NOT_FOUND, "mismatch")}


def test_limits_and_what_cannot_be_framed_by_its_bytes() -> None:
    endless = bytearray(b"HTTP/1.1 200 OK\r\nX: " + b"x" * 70_000)
    assert http_reply_length(endless, 0, len(endless)) == MALFORMED
    # No length, not chunked: framed by the connection's close, so never complete here.
    by_close = bytearray(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody")
    assert http_reply_length(by_close, 0, len(by_close)) == NEED_MORE
    assert http_reply_length(bytearray(), 0, 0) == NEED_MORE


def test_a_head_reply_has_no_body_whatever_its_length_says() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    protocol = build_protocol("http", ProtocolOptions(http=HttpOptions(method="HEAD")))
    assert all_splits(protocol.check_reply, head + head) == {(head, head)}


def test_the_status_class_is_the_kind() -> None:
    for reply, kind in [
        (OK, "2xx"),
        (NOT_FOUND, "4xx"),
        (REDIRECT, "3xx"),
        (CONTINUE_THEN_OK, "2xx"),
    ]:
        assert KINDS[status_kind(bytearray(b"xx" + reply), 2) & ~CLOSES] == kind
    assert KINDS[status_kind(bytearray(b"HTTP/1.1 502 Bad\r\n\r\n"), 0)] == "5xx"


@pytest.mark.parametrize(
    ("head", "closes"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n", False),
        (b"HTTP/1.1 200 OK\r\nServer: x\r\n", False),  # 1.1 keeps the connection
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", True),
        (b"HTTP/1.1 200 OK\r\nconnection: Upgrade, Close\r\n", True),
        (b"HTTP/1.0 200 OK\r\n", True),  # 1.0 closes unless it keeps alive
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n", False),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 X\r\nConnection: close\r\n", True),
    ],
)
def test_a_reply_says_when_the_server_closes_after_it(head: bytes, closes: bool) -> None:
    reply = bytearray(head + b"Content-Length: 0\r\n\r\n")
    assert http_reply_length(reply, 0, len(reply)) == len(reply)
    assert bool(status_kind(reply, 0) & CLOSES) == closes


_PIECES = st.sampled_from(
    [b"HTTP/1.1 ", b"200 OK\r\n", b"404 X\r\n", b"503 Y\r\n", b"100 C\r\n", b"Content-Length: ",
     b"Transfer-Encoding: chunked\r\n", b"3", b"0", b"a", b"\r\n", b"\r", b"\n", b"abc", b":",
     b"HTTP/1.0 ", b"Content-Length: 3\r\n", b"; x"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, max_size=8).map(b"".join))
def test_any_bytes_are_framed_consistently_however_cut(data: bytes) -> None:
    """Whatever the bytes, every cut gives one answer, and a reply never claims bytes
    past what it was given; what is taken reframes alone to the same length."""
    answers = every_cut(http_reply_length, data)
    assert len(answers) == 1
    buf = bytearray(b"??" + data + b"HTTP/1.1 200 OK\r\n\r\n")  # bytes past ``end`` unread
    for end in range(2, 2 + len(data) + 1):
        got = http_reply_length(buf, 2, end)
        size = got if got > 0 else (-2 - got if got < -2 else 0)
        assert size <= end - 2
        if size:
            assert http_reply_length(bytearray(data[:size]), 0, size) == got
            assert 0 <= status_kind(buf, 2) & ~CLOSES <= 3


_HEAD_PIECES = st.sampled_from(
    [b"HTTP/1.1 ", b"HTTP/1.0 ", b"200 OK", b"204 N", b"304 M", b"503 X", b"2000", b"099",
     b"\r\n", b"Content-Length: ", b"content-length:", b"CONTENT-LENGTH:  ", b"5", b"x",
     b"Transfer-Encoding: chunked", b"\r\n\r\n", b"hello", b" ", b"100 C"]
)  # fmt: skip


FAST_LOOKALIKES = [
    b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",  # no body whatever it says
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",  # no reason phrase
    b"HTTP/1.1 200 OK\r\nContent-Length:  2\r\n\r\nok",
    b"HTTP/1.1 599 X\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 600 X\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nX-Content-Length: 3\r\n\r\n",
]


def test_the_fast_path_answers_as_the_general_walk_on_look_alikes() -> None:
    for stream in FAST_LOOKALIKES:
        answers = every_cut(http_reply_length, NOT_FOUND + stream)
        assert answers == every_cut(general_reply_length, NOT_FOUND + stream)
        assert len(answers) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(_HEAD_PIECES, max_size=10).map(b"".join), st.integers(0, 2))
def test_the_fast_path_answers_as_the_general_walk(data: bytes, at: int) -> None:
    buf = bytearray(b"?" * at + data + b"HTTP/1.1 200 OK\r\n\r\n")  # past ``end``: unread
    for end in range(at, at + len(data) + 1):
        assert http_reply_length(buf, at, end) == general_reply_length(buf, at, end)


def test_requests_carry_the_host_headers_and_body() -> None:
    options = http_options(
        "POST", ("/a", "/b?q=1"), ("Accept: */*", "X-Id:7"), "hi", None, "127.0.0.1:8080"
    )
    assert build_request(options, "/a") == (
        b"POST /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\nX-Id: 7\r\n"
        b"Content-Length: 2\r\n\r\nhi"
    )
    protocol = build_protocol("http", ProtocolOptions(http=options))
    assert protocol.one_kind is None  # two paths: each request is noted
    assert protocol.fixed is None
    assert [protocol.request(1, seq).split(b" ")[1] for seq in range(3)] == [
        b"/b?q=1",
        b"/a",
        b"/b?q=1",
    ]
    own_host = http_options("GET", (), ("host: example.test",), None, None, "127.0.0.1")
    assert build_request(own_host, "/") == b"GET / HTTP/1.1\r\nhost: example.test\r\n\r\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("GE T", (), (), None, None), "malformed --http-method 'GE T'"),
        (("GET", ("x",), (), None, None), "malformed --http-path 'x'"),
        (("GET", ("/a b",), (), None, None), "malformed --http-path"),
        (("GET", (), ("NoColon",), None, None), "malformed --header 'NoColon'"),
        (("GET", (), ("Bad Name: x",), None, None), "malformed --header"),
        (("POST", (), (), "a", b"b"), "give --body or --body-file, not both"),
    ],
)
def test_bad_options_are_one_line(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        http_options(*args, host="h")  # type: ignore[arg-type]


class _KindSink(QuietSink):
    """Outcomes in total and by kind name, as the worker's recorder counts them."""

    def __init__(self) -> None:
        self.completed_by: Counter[str] = Counter()
        self.failed_by: Counter[tuple[str, str]] = Counter()
        self.failures: Counter[str] = Counter()
        self.completions = 0
        self.times: list[tuple[int, int]] = []  # (latency, service) of each completed

    def completed(
        self, latency_ns: int, service_ns: int, sent: int, got: int, kind: int = -1, misses: int = 0
    ) -> None:
        self.completions += 1
        self.times.append((latency_ns, service_ns))
        if kind >= 0:
            self.completed_by[KINDS[kind]] += 1

    def failed(self, kind: str, count: int, at_ns: int) -> None:
        self.failures[kind] += count

    def error(self, kind: str, at_ns: int) -> None:
        raise AssertionError(f"no connection error expected, got {kind}")

    def warmup_reply(self, at_ns: int, latency_ns: int = 0) -> None:
        raise AssertionError("no warm-up here")

    def kind_failed(self, kind: int, error: str) -> None:
        self.failed_by[KINDS[kind], error] += 1


S = 1_000_000_000


def _fed_on_every_cut(
    stream: bytes, requests: int
) -> Iterator[tuple[StreamExchange, _KindSink, list[int]]]:
    """For each cut of ``stream``: a pipelined exchange of ``--protocol http`` with
    ``requests`` in flight, fed the two pieces (until it says RECONNECT, when a driver
    closes the connection), its sink, and what each feed returned."""
    protocol = build_protocol("http", ProtocolOptions())
    assert protocol.one_kind is not None
    for cut in range(len(stream) + 1):
        window = RequestWindow(S, measure_start_ns=0, measure_end_ns=10 * S)
        sink = _KindSink()
        ex = StreamExchange(
            window, sink, ProtocolMatcher(protocol.check_reply), protocol.one_kind[1],
            pipelined=True, kind_sink=sink, kind=protocol.one_kind[0],
            reply_kind=protocol.reply_kind, reply_at_close=protocol.reply_at_close,
        )  # fmt: skip
        for i in range(requests):
            assert ex.issue(S + i, S + i)
        codes: list[int] = []
        for piece, at in ((stream[:cut], S + 10), (stream[cut:], S + 20)):
            space = ex.space()
            space[: len(piece)] = piece
            codes.append(ex.received(len(piece), at))
            if codes[-1] == RECONNECT:
                break
        yield ex, sink, codes


def test_the_exchange_counts_each_reply_under_its_status_class_on_every_cut() -> None:
    """Pipelined: a 200, a 404, a 503 and a 301; the 503 is its request's protocol_error
    under 5xx, the others complete under their class, and the connection stays; a
    request that got no response is ``unanswered``."""
    error = b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
    for ex, sink, codes in _fed_on_every_cut(OK + NOT_FOUND + error + REDIRECT, 5):
        assert codes == [OK_, OK_]
        assert sink.completed_by == {"2xx": 1, "4xx": 1, "3xx": 1}
        assert sink.failures == {"protocol_error": 1} and ex.in_flight == 1
        ex.fail("closed", S + 30)
        assert sink.failed_by == {("5xx", "protocol_error"): 1, ("unanswered", "closed"): 1}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"http_method": "GE T"}, "malformed --http-method 'GE T'"),
        ({"http_path": ["/ok", "nope"]}, "malformed --http-path 'nope'"),
        ({"header": ["NoColon"]}, "malformed --header 'NoColon'"),
        ({"body": "a", "body_file": __file__}, "give --body or --body-file, not both"),
        ({"send": "x"}, "--protocol http makes its own requests; drop --send"),
        ({"protocol": "redis", "header": ["A: b"]}, "--header applies to --protocol http"),
        ({"target": None}, "--protocol http needs a server that speaks it"),
    ],
)
def test_bad_http_options_are_one_line_before_any_load(
    values: dict[str, object], message: str
) -> None:
    given: dict[str, object] = {"target": "tcp://127.0.0.1:9", "protocol": "http", **values}
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_run_spec({k: v for k, v in given.items() if v is not None})


def test_http_options_reach_the_request(tmp_path: Path) -> None:
    paths = tmp_path / "paths.txt"
    paths.write_text("# paths\n/b\n\n/c\n")
    body = tmp_path / "body.json"
    body.write_bytes(b'{"a": 1}')
    spec = build_run_spec(
        {"target": "tcp://127.0.0.1:9", "protocol": "http", "http_method": "PUT",
         "http_path": ["/a"], "http_paths_file": str(paths), "header": ["X-A: 1"],
         "body_file": str(body)}
    )  # fmt: skip
    protocol = spec.protocol.adapter()
    assert [protocol.request(0, seq).split(b"\r\n")[0] for seq in range(3)] == [
        b"PUT /a HTTP/1.1", b"PUT /b HTTP/1.1", b"PUT /c HTTP/1.1"
    ]  # fmt: skip
    assert protocol.request(0, 0).endswith(
        b'Host: 127.0.0.1:9\r\nX-A: 1\r\nContent-Length: 8\r\n\r\n{"a": 1}'
    )


def test_a_close_the_reply_announces_replaces_the_connection_and_resends_what_was_behind() -> None:
    """Pipelined: a 200, then a 503 that says ``Connection: close``, one request behind
    it: on every cut the 200 completes, the 503 is its protocol_error, and the exchange
    says RECONNECT after it with nothing counted against the connection. The request
    behind it was never served (a server that announces its close serves nothing after
    that reply), so it stays in flight, to go out again on the next connection:
    ``resend`` says how many, once; its reply there completes it, its latency from its
    first send, its service time from the resend."""
    close = b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    for ex, sink, codes in _fed_on_every_cut(OK + close, 3):
        assert codes[-1] == RECONNECT and codes.count(RECONNECT) == 1
        assert sink.completed_by == {"2xx": 1} and ex.in_flight == 1
        assert sink.failed_by == {("5xx", "protocol_error"): 1}
        assert ex.resend(S + 40) == 1 and ex.resend(S + 41) == 0
        ex.space()[: len(OK)] = OK
        assert ex.received(len(OK), S + 50) == OK_
        assert sink.completed_by == {"2xx": 2} and not ex.in_flight
        assert sink.failures == {"protocol_error": 1}
        assert sink.times[-1] == (50 - 2, 50 - 40)  # sent at S + 2, again at S + 40


def test_requests_behind_a_close_end_as_the_next_connection_does() -> None:
    """Two requests behind the close, resent: the first is answered on the new
    connection, the second ends as that connection's reset; and a run that ends before
    they could be resent ends them as any request in flight (timeout or unfinished)."""
    close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    for ex, sink, _ in _fed_on_every_cut(close, 3):
        assert ex.in_flight == 2 and ex.resend(S + 40) == 2
        ex.space()[: len(OK)] = OK
        assert ex.received(len(OK), S + 50) == OK_
        ex.fail("reset", S + 60)
        assert sink.completed_by == {"2xx": 2}
        assert sink.failed_by == {("unanswered", "reset"): 1}
    for ex, sink, _ in _fed_on_every_cut(close, 2):
        ex.finish(S + 5 * S)  # never reconnected: past its timeout
        assert sink.failed_by == {("unanswered", "timeout"): 1}


BY_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nsome body"


@pytest.mark.parametrize(
    ("stream", "at_close"),
    [
        (BY_CLOSE, len(BY_CLOSE)),
        (b"HTTP/1.0 503 X\r\n\r\nbusy", error_reply(22)),
        (b"HTTP/1.1 100 C\r\n\r\nHTTP/1.0 200 OK\r\n\r\n", 37),  # an empty body
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", 0),  # the head never ended
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", 0),  # cut short
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 0),
        (b"", 0),
    ],
)
def test_what_the_bytes_make_once_the_server_closed(stream: bytes, at_close: int) -> None:
    buf = bytearray(b"??" + stream)
    assert http_reply_at_close(buf, 2, len(buf)) == at_close


def test_a_reply_framed_by_the_close_completes_when_it_comes_on_every_cut() -> None:
    """The close ends the body: the request completes and the close is no error (the
    sink raises on a connection error); a close before the head ended fails it."""
    for ex, sink, codes in _fed_on_every_cut(BY_CLOSE, 1):
        assert codes == [OK_, OK_]
        ex.fail("closed", S + 30)
        assert sink.completed_by == {"2xx": 1} and not sink.failures and not ex.in_flight
    for ex, sink, _ in _fed_on_every_cut(BY_CLOSE[:30], 1):
        ex.fail("closed", S + 30)
        assert sink.failed_by == {("unanswered", "closed"): 1} and not sink.completed_by


def test_one_path_is_a_fixed_request_whose_reply_decides_the_kind() -> None:
    """Drivers send a fixed request as it is, never building it; the exchange still
    counts each reply under its status class."""
    protocol = build_protocol("http", ProtocolOptions())
    assert protocol.fixed == protocol.request(0, 0) == protocol.request(3, 7)
    assert kinded(protocol) and protocol.reply_kind is not None
    assert not kinded(build_protocol("echo", ProtocolOptions()))  # fixed, one kind
    assert kinded(build_protocol("redis", ProtocolOptions()))  # varies
