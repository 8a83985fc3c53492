"""The shared echo/sink behaviour, without sockets."""

from __future__ import annotations

import pytest

from sockbench.core.kinds import ServerBehaviour
from sockbench.core.sink_report import (
    REPORT_MAX,
    REPORT_PREFIX,
    REPORT_REQUEST,
    SOURCE_REQUEST,
    decode_report,
    decode_source_report,
    decode_source_request,
    encode_report,
    encode_source_request,
    split_source_tail,
)
from sockbench.servers.behaviour import SinkLedger, datagram_responder

pytestmark = pytest.mark.unit  # pure: make unit runs it


@pytest.mark.parametrize(("count", "nbytes"), [(0, 0), (1, 1), (123456, 98765432101)])
def test_report_round_trip(count: int, nbytes: int) -> None:
    encoded = encode_report(count, nbytes)
    assert encoded.startswith(REPORT_PREFIX)
    assert encoded == REPORT_PREFIX + f"{count} {nbytes}".encode()
    assert decode_report(encoded) == (count, nbytes)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        REPORT_REQUEST,
        REPORT_PREFIX,
        REPORT_PREFIX + b"1",
        REPORT_PREFIX + b"1 2 3",
        REPORT_PREFIX + b"-1 2",
        REPORT_PREFIX + b"a b",
        REPORT_PREFIX + b"1  2",
    ],
)
def test_decode_report_rejects_anything_else(data: bytes) -> None:
    assert decode_report(data) is None


def test_echo_replies_with_the_same_bytes() -> None:
    respond = datagram_responder(ServerBehaviour.ECHO)
    data = memoryview(b"\x00\xffabc")
    assert respond(data, ("127.0.0.1", 5000)) is data
    assert respond(b"", "/tmp/c.sock") == b""
    # an unbound Unix datagram client (address None or "") cannot be answered
    assert respond(b"x", None) is None
    assert respond(b"x", "") is None


def test_echo_does_not_treat_the_report_request_specially() -> None:
    assert (
        datagram_responder(ServerBehaviour.ECHO)(REPORT_REQUEST, ("::1", 1, 0, 0)) == REPORT_REQUEST
    )


def test_sink_counts_per_sender_and_answers_only_reports() -> None:
    ledger = datagram_responder(ServerBehaviour.SINK)
    a, b = ("127.0.0.1", 1000), "/tmp/b.sock"
    for size in (1, 10, 100):
        assert ledger(b"x" * size, a) is None
    assert ledger(memoryview(b"yy"), b) is None
    assert ledger(b"", b) is None  # an empty datagram counts, with 0 bytes
    assert ledger(REPORT_REQUEST, a) == encode_report(3, 111)
    assert ledger(REPORT_REQUEST, a) == encode_report(0, 0)  # reset after a report
    assert ledger(memoryview(REPORT_REQUEST), b) == encode_report(2, 2)


def test_sink_report_from_unbound_sender_is_not_answered() -> None:
    ledger = SinkLedger()
    ledger(b"abc", None)
    assert ledger.counts(None) == (1, 3)
    assert ledger(REPORT_REQUEST, None) is None


def test_sink_counts_near_misses_of_the_report_request_as_data() -> None:
    ledger = SinkLedger()
    ledger(REPORT_REQUEST[:-1], "s")
    ledger(REPORT_REQUEST + b"!", "s")
    assert ledger.counts("s") == (2, 2 * len(REPORT_REQUEST))


def test_each_responder_has_its_own_ledger() -> None:
    first, second = (
        datagram_responder(ServerBehaviour.SINK),
        datagram_responder(ServerBehaviour.SINK),
    )
    first(b"abc", "s")
    assert second(REPORT_REQUEST, "s") == encode_report(0, 0)


@pytest.mark.parametrize(("count", "nbytes", "sent"), [(0, 0, 0), (3, 111, 2**64 - 1)])
def test_source_report_round_trip(count: int, nbytes: int, sent: int) -> None:
    encoded = encode_report(count, nbytes, sent)
    assert len(encoded) <= REPORT_MAX
    assert decode_source_report(encoded) == (count, nbytes, sent)
    assert decode_report(encoded) is None  # a sink's reader takes no source report
    assert decode_source_report(encode_report(count, nbytes)) is None


def test_source_request_round_trip_in_thousandths() -> None:
    assert decode_source_request(encode_source_request(12.5, 1400, 2.25)) == (12.5, 1400, 2.25)
    assert decode_source_request(SOURCE_REQUEST + b"1 2") is None
    assert decode_source_request(REPORT_REQUEST) is None


@pytest.mark.parametrize(
    ("tail", "streamed", "report"),
    [
        (b"ssss" + encode_report(1, 2, 3), 4, (1, 2, 3)),
        (encode_report(0, 0, 0), 0, (0, 0, 0)),
        (b"sss", 3, None),  # no report came: every byte is the stream's
        (b"ss\x00garbage", 2, None),
    ],
)
def test_split_source_tail_finds_the_report_after_the_last_nul(
    tail: bytes, streamed: int, report: tuple[int, int, int] | None
) -> None:
    assert split_source_tail(tail) == (streamed, report)
