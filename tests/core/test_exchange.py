"""The exchange state machine, fed bytes and times by hand: one case per defect it fixes."""

from __future__ import annotations

from collections import Counter

import pytest

from sockbench.core import datagrams as dg
from sockbench.core.exchange import (
    OK,
    RECONNECT,
    DatagramExchange,
    RequestWindow,
    StreamExchange,
    stream_exchange,
)
from sockbench.core.expect import Echo, Exact, Size
from tests.support.sinks import QuietSink

MS = 1_000_000
S = 1_000 * MS
TIMEOUT = 1 * S
PING = b"PING\r\n"


class Sink(QuietSink):
    """Collects outcomes, as the worker's recorder would."""

    def __init__(self) -> None:
        self.latencies: list[int] = []
        self.service: list[int] = []
        self.failures: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.warm_replies: list[int] = []
        self.said: list[bytes] = []  # error replies' first bytes
        self.served = 0  # clients with a window request answered, told at finish
        self.idle_closes: list[int] = []

    def completed(
        self, latency_ns: int, service_ns: int, sent: int, got: int, kind: int = -1, misses: int = 0
    ) -> None:
        self.latencies.append(latency_ns)
        self.service.append(service_ns)

    def failed(self, kind: str, count: int, at_ns: int) -> None:
        self.failures[kind] += count

    def error(self, kind: str, at_ns: int) -> None:
        self.errors[kind] += 1

    def error_reply(self, reply: bytes) -> None:
        self.said.append(reply)

    def client_served(self) -> None:
        self.served += 1

    def closed_idle(self, at_ns: int) -> None:
        self.idle_closes.append(at_ns)

    def warmup_reply(self, at_ns: int, latency_ns: int = 0) -> None:
        self.warm_replies.append(at_ns)


def window(start: int = 10 * S, end: int = 20 * S, **kw: int | None) -> RequestWindow:
    return RequestWindow(TIMEOUT, measure_start_ns=start, measure_end_ns=end, **kw)  # type: ignore[arg-type]


def stream(
    win: RequestWindow, matcher: object = None, pipelined: bool = False
) -> tuple[StreamExchange, Sink]:
    sink = Sink()
    ex = stream_exchange(win, sink, matcher or Echo(PING), len(PING), pipelined=pipelined)  # type: ignore[arg-type]
    return ex, sink


def feed(ex: StreamExchange, data: bytes, now: int) -> int:
    space = ex.space()
    n = min(len(data), len(space))  # a driver reads what fits
    space[:n] = data[:n]
    return ex.received(n, now)


def balanced(win: RequestWindow, sink: Sink, in_flight: int = 0) -> bool:
    """Every request issued in the window ended once, or is one of ``in_flight``."""
    return win.issued == len(sink.latencies) + sum(sink.failures.values()) + in_flight


# -- stream: the basics -------------------------------------------------------------------


def test_a_reply_completes_its_request_with_latency_from_the_send() -> None:
    win = window()
    ex, sink = stream(win)
    assert ex.issue(11 * S, 11 * S)
    assert feed(ex, PING, 11 * S + 3 * MS) == OK
    assert sink.latencies == [3 * MS] and not ex.in_flight and balanced(win, sink)


def test_warm_up_requests_are_followed_but_never_counted() -> None:
    win = window()
    ex, sink = stream(win)
    assert ex.issue(9 * S, 9 * S)  # warm-up
    assert feed(ex, PING, 10 * S + 1) == OK
    assert sink.latencies == [] and win.issued == 0


def test_answered_counts_every_reply_that_answered_its_request() -> None:
    """The lifecycle's "did this connection serve": warm-up replies and late ones count,
    on the fixed-size path and the general one; a wrong reply does not."""
    win = window()
    for ex, _ in (stream(win), stream(win, Echo(PING), pipelined=True)):
        ex.issue(9 * S, 9 * S)  # warm-up
        assert feed(ex, PING, 9 * S + 1) == OK and ex.answered == 1
        ex.issue(11 * S, 11 * S)
        assert feed(ex, PING, 11 * S + 2 * TIMEOUT) == OK  # late: a timeout, but answered
        assert ex.answered == 2
        ex.issue(12 * S, 12 * S)
        assert feed(ex, b"PONG\r\n", 12 * S + 1) == RECONNECT and ex.answered == 2


def test_a_client_is_served_if_a_request_of_the_window_was_answered() -> None:
    """Told once, at finish: the warm-up's replies do not count, nor an error reply."""
    win = window()
    served, warm_only, refused = stream(win), stream(win), _redis(win)
    for ex, _ in (served, warm_only):
        ex.issue(9 * S, 9 * S)
        assert feed(ex, PING, 9 * S + 1) == OK
    served[0].issue(11 * S, 11 * S)
    assert feed(served[0], PING, 11 * S + 1) == OK
    refused[0].issue(11 * S, 11 * S, KINDS.index("get"), 30)
    assert feed(refused[0], b"-ERR max number of clients reached\r\n", 11 * S + 1) == OK
    for ex, _ in (served, warm_only, refused):
        ex.finish(19 * S)
    assert [sink.served for _, sink in (served, warm_only, refused)] == [1, 0, 0]


def test_a_reply_in_pieces_completes_once_whole() -> None:
    ex, sink = stream(window())
    ex.issue(11 * S, 11 * S)
    assert feed(ex, PING[:2], 11 * S + 1) == OK and sink.latencies == []
    assert feed(ex, PING[2:], 11 * S + 2) == OK and sink.latencies == [2]


def test_replies_in_pieces_on_two_connections_do_not_mix() -> None:
    """The first bytes of a reply are read into a buffer every exchange shares."""
    win = window()
    (a, sink_a), (b, sink_b) = stream(win), stream(win)
    a.issue(11 * S, 11 * S)
    b.issue(11 * S, 11 * S)
    assert feed(a, PING[:3], 11 * S + 1) == OK
    assert feed(b, b"PONG\r\n", 11 * S + 2) == RECONNECT  # wrong bytes, where a's start lay
    assert feed(a, PING[3:], 11 * S + 3) == OK
    assert sink_a.latencies == [3] and sink_b.failures == {"mismatch": 1}
    b.issue(12 * S, 12 * S)
    assert feed(b, PING, 12 * S + 4) == OK and sink_b.latencies == [4]
    assert win.issued == 3 and not a.in_flight and not b.in_flight


def test_an_over_long_reply_on_one_connection_leaves_the_next_one_right() -> None:
    win = window()
    (a, sink_a), (b, sink_b) = stream(win), stream(win)
    a.issue(11 * S, 11 * S)
    b.issue(11 * S, 11 * S)
    assert feed(a, PING + b"!", 11 * S + 1) == RECONNECT
    assert feed(b, PING, 11 * S + 2) == OK
    assert sink_a.failures == {"mismatch": 1} and sink_b.latencies == [2]


def test_requests_queued_behind_the_oldest_keep_their_order_and_marks() -> None:
    win = window()
    ex, sink = stream(win, pipelined=True)
    ex.issue(9 * S, 9 * S)  # warm-up
    ex.issue(11 * S, 11 * S + 1)
    ex.issue(12 * S, 12 * S + 2)
    assert ex.in_flight == 3 and ex.measured_in_flight == 2 and ex.deadline() == 10 * S
    assert feed(ex, PING, 12 * S + 10) == OK  # the warm-up one: not counted
    assert ex.in_flight == 2 and ex.deadline() == 12 * S + 1
    ex.finish(12 * S + 100 * MS)
    assert sink.failures == {"timeout": 1, "unfinished": 1} and balanced(win, sink)


def test_pipelined_replies_are_matched_in_order_from_their_due_times() -> None:
    ex, sink = stream(window(), pipelined=True)
    ex.issue(11 * S, 11 * S + 5)
    ex.issue(11 * S + 10, 11 * S + 10)
    assert feed(ex, PING + PING, 11 * S + 100) == OK
    assert sink.latencies == [100, 90] and sink.service == [95, 90]


# -- defect 1: open loop over TCP never timed out -----------------------------------------


def test_a_request_issued_while_idle_has_a_deadline_and_times_out() -> None:
    win = window()
    ex, sink = stream(win)
    assert ex.deadline() == 2**63 - 1  # nothing in flight: no deadline
    ex.issue(11 * S, 11 * S)
    assert ex.deadline() == 12 * S  # the driver must wait for this, not for "never"
    assert ex.expire(12 * S - 1) == OK
    assert ex.expire(12 * S) == RECONNECT
    assert sink.failures == {"timeout": 1} and not ex.in_flight and balanced(win, sink)


def test_a_timeout_ends_the_oldest_as_timeout_and_the_rest_by_their_own_sends() -> None:
    """The oldest's timeout replaces the connection: a later request whose own --timeout
    passed is a timeout too; one sent since is aborted, not timed out (issue 25)."""
    win = window()
    ex, sink = stream(win, pipelined=True)
    for sent in (11 * S, 11 * S + 1, 11 * S + 500 * MS):
        ex.issue(sent, sent)
    assert ex.expire(12 * S + 1) == RECONNECT
    assert sink.failures == {"timeout": 2, "aborted": 1} and not ex.in_flight
    assert balanced(win, sink)


# -- defect 9: a reply after --timeout is not a success ------------------------------------


def test_a_stream_reply_read_after_the_timeout_is_a_timeout() -> None:
    win = window()
    ex, sink = stream(win)
    ex.issue(11 * S, 11 * S)
    assert feed(ex, PING, 12 * S) == OK
    assert sink.latencies == [] and sink.failures == {"timeout": 1} and balanced(win, sink)


def test_a_datagram_reply_read_after_its_deadline_is_late_not_received() -> None:
    win = window()
    sink = Sink()
    ex = DatagramExchange(win, sink, bytes(64))
    ex.issue(0, 11 * S, 11 * S)
    ex.received(_datagram(0), 64, 12 * S + 60 * MS)  # deadline passed before it was read
    assert sink.latencies == [] and sink.failures == {"lost": 1}
    assert ex.ledger is not None and ex.ledger.counts().late == 1


# -- the class of a connection's exchange --------------------------------------------------


@pytest.mark.parametrize(
    ("matcher", "pipelined", "one_size"),
    [
        (Echo(PING), False, True),
        (Exact(b"+PONG\r\n"), False, True),
        (Size(6), False, True),
        (Echo(PING), True, False),  # replies may share a read
        (Size(6), True, False),
    ],
)
def test_replies_of_one_size_that_come_alone_get_the_fixed_path(
    matcher: Exact | Size, pipelined: bool, one_size: bool
) -> None:
    ex, _ = stream(window(), matcher, pipelined)
    assert type(ex).ONE_SIZE is one_size and (type(ex) is StreamExchange) is not one_size


def test_the_general_path_built_directly_answers_echo_replies_too() -> None:
    """StreamExchange itself (not stream_exchange's choice) frames an echo by its matcher,
    whole or in pieces, with the same counts: the fixed path is only faster."""
    win = window()
    sink = Sink()
    ex = StreamExchange(win, sink, Echo(PING), len(PING))
    assert type(ex) is StreamExchange
    ex.issue(11 * S, 11 * S)
    assert feed(ex, PING[:2], 11 * S + 1) == OK and feed(ex, PING[2:], 11 * S + 5) == OK
    ex.issue(12 * S, 12 * S)
    assert feed(ex, PING + b"x", 12 * S + 3) == RECONNECT
    assert sink.latencies == [5] and sink.failures == {"mismatch": 1} and balanced(win, sink)


# -- issue 15 item 4: over-long replies and unsolicited bytes -----------------------------


def test_an_over_long_echo_is_a_mismatch_of_its_own_request() -> None:
    win = window()
    ex, sink = stream(win)
    ex.issue(11 * S, 11 * S)
    assert feed(ex, PING + b"extra", 11 * S + 1) == RECONNECT
    assert sink.latencies == [] and sink.failures == {"mismatch": 1} and balanced(win, sink)


def test_an_over_long_reply_to_a_size_expectation_is_a_mismatch() -> None:
    ex, sink = stream(window(), Size(6))
    ex.issue(11 * S, 11 * S)
    assert feed(ex, bytes(17_500 % 1000), 11 * S + 1) == RECONNECT
    assert sink.latencies == [] and sink.failures == {"mismatch": 1}


def test_unsolicited_bytes_are_a_mismatch_counted_when_they_arrive() -> None:
    win = window()
    ex, sink = stream(win)
    assert feed(ex, b"?", 11 * S) == RECONNECT
    assert sink.errors == {"mismatch": 1} and win.issued == 0


def test_a_wrong_byte_is_a_mismatch_as_soon_as_it_arrives() -> None:
    ex, sink = stream(window(), Exact(b"+PONG\r\n"))
    ex.issue(11 * S, 11 * S)
    assert feed(ex, b"-ERR", 11 * S + 1) == RECONNECT
    assert sink.failures == {"mismatch": 1}


# -- defect 6: churn compares with --expect, not with the request --------------------------


def test_the_reply_is_judged_by_the_expectation_not_the_request() -> None:
    ex, sink = stream(window(), Exact(b"+PONG\r\n"))
    ex.issue(11 * S, 11 * S)  # the request was PING
    assert feed(ex, b"+PONG\r\n", 11 * S + 1) == OK
    assert sink.latencies == [1] and not sink.failures


# -- defects 3 and 5: the drain --------------------------------------------------------------


def test_no_request_is_issued_once_the_window_closed() -> None:
    win = window()
    ex, _ = stream(win)
    assert not ex.issue(20 * S, 20 * S)
    assert win.closed(20 * S) and win.issued == 0


def test_a_request_open_at_the_window_end_completes_in_the_drain() -> None:
    win = window()
    ex, sink = stream(win)
    ex.issue(20 * S - 1, 20 * S - 1)  # the slow request at the cut-off
    assert feed(ex, PING, 20 * S + 500 * MS) == OK
    assert sink.latencies == [500 * MS + 1] and balanced(win, sink)


def test_an_open_loop_backlog_due_in_the_window_is_followed_after_it() -> None:
    win = window()
    ex, sink = stream(win)
    due = 20 * S - 500 * MS  # due during a freeze, sent when it ended
    assert ex.issue(due, 20 * S + 400 * MS)
    assert feed(ex, PING, 20 * S + 401 * MS) == OK
    assert sink.latencies == [901 * MS] and sink.service == [MS]


def test_at_the_drains_end_overdue_requests_time_out_others_are_unfinished() -> None:
    win = window(drain_ns=200 * MS)
    assert win.drain_end_ns == 20 * S + 200 * MS
    ex, sink = stream(win)
    ex.issue(19 * S, 19 * S)  # 1.2 s old at the drain's end: a timeout
    ex.issue(20 * S - 100 * MS, 20 * S - 100 * MS)  # 0.3 s old: unfinished
    ex.finish(win.drain_end_ns)
    assert sink.failures == {"timeout": 1, "unfinished": 1} and balanced(win, sink)


def test_a_connection_with_its_warm_up_request_open_at_the_end_is_starved() -> None:
    """Replies come in order: a warm-up request still open at the end means nothing came
    back on the connection through the whole window. One error of the connection's, no
    failed request (none was measured on it)."""
    win = window()
    ex, sink = stream(win, pipelined=True)
    ex.issue(9 * S + 900 * MS, 9 * S + 900 * MS)  # warm-up, never answered
    ex.finish(20 * S + 200 * MS)
    assert sink.errors == {"starved": 1} and not sink.failures and balanced(win, sink)
    # Measured ones behind it fail as ever, and the connection is starved once.
    ex, sink = stream(win := window(), pipelined=True)
    ex.issue(9 * S + 900 * MS, 9 * S + 900 * MS)
    ex.issue(19 * S, 19 * S)
    ex.finish(20 * S + 200 * MS)
    assert sink.errors == {"starved": 1} and sink.failures == {"timeout": 1}
    assert balanced(win, sink)


def test_a_warm_up_request_sent_late_in_the_window_is_no_sign_of_starving() -> None:
    """Open loop: a request due in the warm-up but sent in the window (a backlog sent
    late) may be open at the end only because its reply is not due yet."""
    ex, sink = stream(window())
    ex.issue(9 * S, 20 * S - 100 * MS)
    ex.finish(20 * S + 200 * MS)
    assert not sink.errors


def test_an_answered_warm_up_or_an_interrupted_run_starves_nothing() -> None:
    ex, sink = stream(window())
    ex.issue(9 * S, 9 * S)
    assert feed(ex, PING, 10 * S + 1) == OK
    ex.finish(20 * S)
    assert not sink.errors
    ex, sink = stream(window())
    ex.issue(9 * S, 9 * S)
    ex.finish(15 * S, interrupted=True)
    assert not sink.errors


def test_a_warm_up_request_answered_only_after_the_window_starved_its_connection() -> None:
    """A target that serves a few connections at a time serves the rest once the others
    leave, after the window: the reply came, but none came in the window. Once per
    client, whatever is pipelined behind it, and not again at the end."""
    win = window()
    ex, sink = stream(win, pipelined=True)
    ex.issue(9 * S, 9 * S)
    ex.issue(9 * S, 9 * S)
    assert feed(ex, PING + PING, 20 * S + 1) == OK
    ex.finish(21 * S)
    assert sink.errors == {"starved": 1} and not sink.failures
    served, sink = stream(window())
    served.issue(9 * S, 9 * S)
    assert feed(served, PING, 19 * S) == OK  # answered inside the window: served
    served.finish(21 * S)
    assert not sink.errors


def test_requests_due_but_never_sent_are_counted_at_the_end() -> None:
    win = window()
    ex, sink = stream(win)
    unsent = [19 * S, 19 * S + 500 * MS, 19 * S + 900 * MS]
    ex.finish(21 * S, unsent=unsent)
    assert win.issued == 3 and sink.failures == {"timeout": 3} and balanced(win, sink)


def test_an_interrupted_run_leaves_its_open_requests_in_flight() -> None:
    win = window()
    ex, sink = stream(win)
    ex.issue(15 * S, 15 * S)
    ex.finish(15 * S + 1, interrupted=True, unsent=[15 * S])
    assert not sink.failures and balanced(win, sink, in_flight=2)


def test_the_request_limit_closes_the_window() -> None:
    win = window(limit=2)
    ex, _ = stream(win)
    assert ex.issue(11 * S, 11 * S) and ex.issue(11 * S, 11 * S)
    assert not ex.issue(11 * S, 11 * S)
    assert win.issued == 2


def test_a_connection_error_ends_its_requests_by_kind() -> None:
    """...and a close or a reset of a connection with nothing in flight is an idle close
    (HTTP lets a server end an idle connection at any time), not an error."""
    win = window()
    ex, sink = stream(win)
    ex.issue(11 * S, 11 * S)
    assert not ex.fail("reset", 11 * S + 1)
    assert sink.failures == {"reset": 1} and balanced(win, sink)
    assert ex.fail("closed", 11 * S + 2)  # nothing in flight: no request's fate, no error
    assert ex.fail("reset", 11 * S + 3)
    assert sink.idle_closes == [11 * S + 2, 11 * S + 3]
    assert sink.errors == {} and balanced(win, sink)
    assert not ex.fail("unsolicited", 11 * S + 4)  # any other kind idle is an error
    assert sink.errors == {"unsolicited": 1} and len(sink.idle_closes) == 2


# -- datagrams: defects 2, 4, 7, 8 ---------------------------------------------------------


def _datagram(seq: int, payload: bytes = bytes(64)) -> memoryview:
    data = bytearray(payload)
    dg.SEQ.pack_into(data, 0, seq)
    return memoryview(data)


def test_a_silent_target_loses_every_datagram_at_its_deadline() -> None:
    win = window()
    sink = Sink()
    ex = DatagramExchange(win, sink, bytes(64))
    for seq in range(4):
        ex.issue(seq, 11 * S + seq * 10 * MS, 11 * S + seq * 10 * MS)
    assert ex.deadline() == 12 * S
    assert ex.expire(12 * S + 15 * MS) == 2  # by the clock, with no reply to trigger it
    assert sink.failures == {"lost": 2} and ex.in_flight == 2


def test_datagrams_in_flight_at_the_window_end_are_lost_after_the_drain() -> None:
    win = window()
    sink = Sink()
    ex = DatagramExchange(win, sink, bytes(64))
    ex.issue(0, 20 * S - 1, 20 * S - 1)
    ex.finish(21 * S)
    counts = ex.ledger.counts() if ex.ledger else None
    assert counts is not None and counts.lost == 1 and counts.in_flight == 0
    assert counts.balanced and balanced(win, sink)


def test_a_shortened_drain_leaves_datagrams_unfinished_not_in_flight() -> None:
    win = window(drain_ns=100 * MS)
    sink = Sink()
    ex = DatagramExchange(win, sink, bytes(64))
    ex.issue(0, 20 * S - 1, 20 * S - 1)
    ex.finish(win.drain_end_ns)
    assert ex.ledger is not None
    counts = ex.ledger.counts()
    assert counts.unfinished == 1 and counts.in_flight == 0 and counts.balanced
    assert sink.failures == {"unfinished": 1}


def test_datagrams_due_but_never_sent_fail_as_requests_not_as_lost() -> None:
    """An open loop the generator fell behind: the backlog it never sent was due in the
    window, so it is issued and failed (timeout, or unfinished if due within a timeout
    of the end), while the ledger's sent = received + lost + in flight stays the sent."""
    win = window()
    sink = Sink()
    ex = DatagramExchange(win, sink, bytes(64))
    ex.issue(0, 19 * S, 19 * S)
    assert ex.next_seq == 1
    unsent = [9 * S, 19 * S + 500 * MS, 19 * S + 900 * MS, 20 * S + 100 * MS]  # warm-up, 2, after
    ex.finish(20 * S + 600 * MS, unsent=unsent)
    # The sent one is lost (its reply never came); the backlog: due 1.1 s and 0.7 s ago.
    assert sink.failures == {"lost": 1, "timeout": 1, "unfinished": 1}
    assert win.issued == 3 and balanced(win, sink)
    assert ex.ledger is not None and ex.ledger.counts().sent == 1


def test_an_interrupted_datagram_run_leaves_its_backlog_in_flight() -> None:
    win = window()
    sink = Sink()
    ex = DatagramExchange(win, sink, bytes(64))
    ex.issue(3, 15 * S, 15 * S)
    ex.finish(15 * S + 1, interrupted=True, unsent=[15 * S, 15 * S + MS])
    assert ex.next_seq == 4
    assert not sink.failures and balanced(win, sink, in_flight=3)


def test_a_datagram_sockets_drops_are_in_its_counts_outside_the_identity() -> None:
    win = window()
    ex = DatagramExchange(win, Sink(), bytes(64))
    assert ex.counts() is None
    ex.dropped = 4  # the driver read it as the socket closed, before any measured send
    assert ex.counts() == dg.DatagramCounts(generator_drops=4)
    ex.issue(0, 11 * S, 11 * S)
    counts = ex.counts()
    assert counts is not None and counts.generator_drops == 4 and counts.sent == 1
    assert counts.balanced


def test_a_datagram_reply_with_wrong_content_is_a_mismatch() -> None:
    payload = bytes(range(64))
    win = window()
    sink = Sink()
    ex = DatagramExchange(win, sink, payload)
    ex.issue(0, 11 * S, 11 * S)
    ex.received(_datagram(0, bytes(64)), 64, 11 * S + 1)
    assert sink.failures == {"mismatch": 1} and sink.latencies == [] and balanced(win, sink)


def test_a_truncated_datagram_reply_is_a_mismatch() -> None:
    payload = bytes(range(64))
    sink = Sink()
    ex = DatagramExchange(window(), sink, payload)
    ex.issue(0, 11 * S, 11 * S)
    ex.received(_datagram(0, payload), 32, 11 * S + 1)
    assert sink.failures == {"mismatch": 1}


def test_open_loop_datagram_latency_runs_from_the_due_time() -> None:
    sink = Sink()
    ex = DatagramExchange(window(), sink, bytes(64))
    ex.issue(0, 11 * S, 11 * S + 2 * MS)
    ex.received(_datagram(0), 64, 11 * S + 3 * MS)
    assert sink.latencies == [3 * MS] and sink.service == [MS]


def test_datagram_memory_follows_what_is_in_flight_not_what_was_sent() -> None:
    sink = Sink()
    ex = DatagramExchange(window(end=10**15), sink, bytes(64))
    n = 3 * dg.HISTORY  # past 2 x HISTORY + 3: what it keeps must stop growing
    for seq in range(n):
        t = 11 * S + seq * 1000
        ex.issue(seq, t, t)
        if seq >= 3:
            ex.received(_datagram(seq - 3), 64, t)
    assert ex.ledger is not None
    assert len(ex._marks) == len(ex._sents) == 3
    assert len(ex.ledger._state) <= 2 * dg.HISTORY + 3
    assert ex.ledger.counts().received == n - 3


def test_a_reply_older_than_the_kept_history_is_late() -> None:
    sink = Sink()
    ex = DatagramExchange(window(end=10**15), sink, bytes(64))
    for seq in range(3 * dg.HISTORY):
        t = 11 * S + seq
        ex.issue(seq, t, t)
        ex.received(_datagram(seq), 64, t)
    ex.received(_datagram(0), 64, 12 * S)
    assert ex.ledger is not None and ex.ledger.counts().late == 1


def test_a_closed_loop_waits_for_warm_up_datagrams_too() -> None:
    sink = Sink()
    ex = DatagramExchange(window(), sink, bytes(64))
    ex.issue(0, 9 * S, 9 * S)
    assert ex.in_flight == 1 and ex.deadline() == 10 * S
    ex.received(_datagram(0), 64, 9 * S + 1)
    assert ex.in_flight == 0 and sink.latencies == [] and ex.ledger is None


@pytest.mark.parametrize("drop_every", [10, 7])
def test_loss_is_exact_when_every_nth_datagram_is_dropped(drop_every: int) -> None:
    win = window()
    sink = Sink()
    ex = DatagramExchange(win, sink, bytes(64))
    n = 1000
    for seq in range(n):
        t = 11 * S + seq * MS
        ex.issue(seq, t, t)
        if (seq + 1) % drop_every:
            ex.received(_datagram(seq), 64, t + 1)
    ex.finish(21 * S)
    assert ex.ledger is not None
    assert ex.ledger.counts().lost == n // drop_every
    assert sink.failures == {"lost": n // drop_every} and balanced(win, sink)


def test_a_warm_up_request_failing_in_the_window_is_a_warm_up_error() -> None:
    win = window()
    ex, sink = stream(win)
    ex.issue(9 * S + 500 * MS, 9 * S + 500 * MS)
    assert ex.expire(10 * S + 500 * MS) == RECONNECT

    placed: list[int] = []
    sink.error = lambda kind, at_ns: placed.append(at_ns)  # type: ignore[method-assign]
    ex.issue(9 * S + 600 * MS, 9 * S + 600 * MS)
    ex.expire(10 * S + 600 * MS)
    assert placed == [9 * S + 600 * MS] and not sink.failures and win.issued == 0


def test_a_datagram_whose_send_failed_is_that_requests_failure_not_a_loss() -> None:
    win = window()
    sink = Sink()
    ex = DatagramExchange(win, sink, bytes(64))
    ex.issue(0, 11 * S, 11 * S)
    ex.send_failed(0, "send_buffer_full", 11 * S)
    ex.finish(21 * S)
    assert ex.ledger is not None
    counts = ex.ledger.counts()
    assert counts.sent == 0 and counts.lost == 0 and counts.balanced
    assert sink.failures == {"send_buffer_full": 1} and balanced(win, sink)


def test_a_datagram_due_in_the_window_but_sent_late_is_lost_at_the_drains_end() -> None:
    win = window()
    sink = Sink()
    ex = DatagramExchange(win, sink, bytes(64))
    ex.issue(0, 20 * S - 1, 20 * S + 5 * MS)  # the generator sent it 5 ms late
    ex.finish(win.drain_end_ns)  # before its own deadline, a timeout after it was due
    assert sink.failures == {"lost": 1} and balanced(win, sink)


def test_numbering_goes_on_after_a_failed_send() -> None:
    sink = Sink()
    ex = DatagramExchange(window(), sink, bytes(64))
    ex.issue(0, 11 * S, 11 * S)
    ex.send_failed(0, "send_buffer_full", 11 * S)
    assert ex.issue(1, 11 * S + 1, 11 * S + 1)
    ex.received(_datagram(1), 64, 11 * S + 2)
    assert sink.latencies == [1]


# -- stream: a protocol with kinds of request (core/protocols) ----------------------------


class KindSink(Sink):
    """Also collects the per-kind split a protocol's command mix asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.kind_latencies: dict[str, list[int]] = {}
        self.kind_errors: Counter[tuple[str, str]] = Counter()
        self.sizes: list[int] = []

    def completed(
        self, latency_ns: int, service_ns: int, sent: int, got: int, kind: int = -1, misses: int = 0
    ) -> None:
        super().completed(latency_ns, service_ns, sent, got)
        self.sizes.append(sent)
        if kind >= 0:
            self.kind_latencies.setdefault(KINDS[kind], []).append(latency_ns)

    def kind_failed(self, kind: int, error: str) -> None:
        self.kind_errors[KINDS[kind], error] += 1


KINDS = ("set", "get")  # the redis protocol's; exchanges name a kind by its index


def _redis(win: RequestWindow) -> tuple[StreamExchange, KindSink]:
    from sockbench.core.protocols import ProtocolOptions, build_protocol
    from sockbench.engine.worker.workload import ProtocolMatcher

    redis = build_protocol("redis", ProtocolOptions())
    sink = KindSink()
    ex = StreamExchange(
        win, sink, ProtocolMatcher(redis.check_reply), 0, pipelined=True, kind_sink=sink
    )
    return ex, sink


def test_a_protocols_replies_are_split_by_the_kind_of_their_request() -> None:
    win = window()
    ex, sink = _redis(win)
    t = 11 * S
    for i, kind in enumerate(("set", "get", "get")):
        assert ex.issue(t + i, t + i, KINDS.index(kind), 30)
    assert feed(ex, b"+OK\r\n$3\r\nabc\r\n$-1\r\n", t + 5 * MS) == OK
    assert {k: len(v) for k, v in sink.kind_latencies.items()} == {"set": 1, "get": 2}
    assert balanced(win, sink)


def test_a_connection_that_never_runs_dry_keeps_each_reply_with_its_requests_kind() -> None:
    """An open loop's connection may always have a request in flight: each reply takes
    its own request's note (size and kind), never one out of step, one reply at a time
    or a write's replies together."""
    from sockbench.core.protocols.contract import note

    win = window()
    ex, sink = _redis(win)
    t = 11 * S
    cycle = ("set", "get", "get")
    size = {"set": 30, "get": 40}
    rounds = 1000
    reply = {"set": b"+OK\r\n", "get": b"$3\r\nabc\r\n"}
    ex.issue(t, t, KINDS.index("set"), 30)
    want: list[str] = []
    for i in range(1, 3 * rounds):
        assert ex.issue(t + i, t + i, KINDS.index(cycle[i % 3]), size[cycle[i % 3]])
        want.append(cycle[(i - 1) % 3])
        assert feed(ex, reply[want[-1]], t + i + MS) == OK and ex.in_flight == 1
    assert sink.sizes == [size[k] for k in want]
    end = t + 3 * rounds
    assert ex.issue_many(2, end, end) == 2  # a write of a SET and a GET behind the last
    ex.note_many([note(30, KINDS.index("set")), note(40, KINDS.index("get"))])
    last = cycle[(3 * rounds - 1) % 3]
    want += [last, "set", "get"]
    assert feed(ex, reply[last] + reply["set"] + reply["get"], end + MS) == OK
    assert {k: len(v) for k, v in sink.kind_latencies.items()} == {k: want.count(k) for k in cycle}
    assert not ex.in_flight and balanced(win, sink)


def _issue_kinds(ex: StreamExchange, t: int, kinds: tuple[str, ...]) -> None:
    for i, kind in enumerate(kinds):
        assert ex.issue(t + i, t + i, KINDS.index(kind), 30)


def test_an_error_reply_fails_only_the_request_it_answers() -> None:
    """redis's -OOM to a SET in a pipeline: that SET is a protocol_error, the GETs behind
    it complete, and the connection stays (issue 25: every request in flight on it
    failed, and the connection was replaced after each -OOM)."""
    win = window()
    ex, sink = _redis(win)
    t = 11 * S
    _issue_kinds(ex, t, ("set", "get", "get"))
    reply = b"-OOM command not allowed\r\n$3\r\nabc\r\n$-1\r\n"
    for cut in range(1, len(reply)):  # on every split of the bytes
        win2 = window()
        ex2, sink2 = _redis(win2)
        _issue_kinds(ex2, t, ("set", "get", "get"))
        assert feed(ex2, reply[:cut], t + MS) == OK
        assert feed(ex2, reply[cut:], t + 2 * MS) == OK
        assert sink2.failures == {"protocol_error": 1} and len(sink2.latencies) == 2
        assert sink2.kind_errors == {("set", "protocol_error"): 1} and balanced(win2, sink2)
        assert sink2.said == [b"-OOM command not allowed\r\n"]  # the reason, whole
        assert ex2.answered == 2  # the GETs: an error reply answers nothing
    assert feed(ex, reply, t + MS) == OK
    assert not ex.in_flight and balanced(win, sink)


def test_a_malformed_reply_is_its_requests_mismatch_and_aborts_the_rest() -> None:
    """The stream is out of step: replace the connection; the requests behind the bad
    reply did not get a wrong reply, so they are ``aborted``, never ``mismatch``."""
    win = window()
    ex, sink = _redis(win)
    t = 11 * S
    _issue_kinds(ex, t, ("set", "get", "get", "get"))
    assert feed(ex, b"+OK\r\n?garbage\r\n", t + MS) == RECONNECT
    assert len(sink.latencies) == 1
    assert sink.failures == {"mismatch": 1, "aborted": 2}
    assert sink.kind_errors == {("get", "mismatch"): 1, ("get", "aborted"): 2}
    assert not ex.in_flight and balanced(win, sink)


def test_an_error_reply_of_unknown_length_is_a_protocol_error_and_aborts_the_rest() -> None:
    """A plugin's plain ERROR_REPLY (-2) gives no length: where the next reply starts is
    unknown, so the connection is replaced as after a malformed one."""
    from sockbench.core.protocols import ERROR_REPLY
    from sockbench.engine.worker.workload import ProtocolMatcher

    def check(buf: bytearray, start: int, end: int) -> int:
        return ERROR_REPLY if buf.startswith(b"E", start, end) else min(end - start, 2)

    win = window()
    ex = StreamExchange(win, (sink := Sink()), ProtocolMatcher(check), 2, pipelined=True)
    for i in range(3):
        ex.issue(11 * S + i, 11 * S + i)
    assert feed(ex, b"okE\n", 11 * S + MS) == RECONNECT
    assert len(sink.latencies) == 1 and sink.failures == {"protocol_error": 1, "aborted": 1}
    assert sink.said == [b"E\n"]  # what came of it: its length is not known
    assert balanced(win, sink)


def test_an_error_length_past_the_bytes_read_is_a_mismatch() -> None:
    """A plugin that claims an error longer than what it was shown is not believed."""
    from sockbench.core.protocols import error_reply
    from sockbench.engine.worker.workload import ProtocolMatcher

    win = window()
    matcher = ProtocolMatcher(lambda buf, start, end: error_reply(end - start + 1))
    ex = StreamExchange(win, (sink := Sink()), matcher, 2, pipelined=True)
    ex.issue(11 * S, 11 * S)
    assert feed(ex, b"E\n", 11 * S + MS) == RECONNECT
    assert sink.failures == {"mismatch": 1} and balanced(win, sink)


def test_a_warm_up_requests_error_reply_is_a_warm_up_error_and_the_rest_goes_on() -> None:
    win = window()
    ex, sink = _redis(win)
    _issue_kinds(ex, 9 * S, ("set",))  # warm-up
    _issue_kinds(ex, 10 * S, ("get",))  # measured
    assert feed(ex, b"-ERR x\r\n$-1\r\n", 10 * S + MS) == OK
    assert sink.errors == {"protocol_error": 1} and not sink.failures
    assert len(sink.latencies) == 1 and balanced(win, sink)
    assert sink.said == []  # a warm-up error's text is not the window's
    assert ex.answered == 1


def test_warm_up_replies_on_time_are_reported_as_served_late_ones_are_not() -> None:
    """The target's answers to warm-up requests count toward what it served in the
    window (the recorder keeps those from the window's start on)."""
    win = window()
    ex, sink = stream(win, pipelined=True)
    ex.issue(9 * S, 9 * S)
    ex.issue(9 * S + 500 * MS, 9 * S + 500 * MS)
    assert feed(ex, PING, 10 * S) == OK  # 1 s after its send: late, not served
    assert feed(ex, PING, 10 * S + 100 * MS) == OK
    assert sink.warm_replies == [10 * S + 100 * MS] and not sink.latencies
    dgram = DatagramExchange(win, sink, bytes(64))
    dgram.issue(0, 9 * S, 9 * S)
    dgram.received(_datagram(0), 64, 9 * S + 2 * MS)
    assert sink.warm_replies[-1] == 9 * S + 2 * MS


def test_requests_of_a_kind_open_at_the_drains_end_time_out_as_their_kind() -> None:
    win = window()
    ex, sink = _redis(win)
    t = 19 * S
    assert ex.issue(t, t, KINDS.index("get"), 30)
    ex.finish(t + 2 * S)
    assert sink.kind_errors == Counter({("get", "timeout"): 1})
    assert balanced(win, sink)


def test_requests_all_of_one_kind_are_counted_as_it_without_notes() -> None:
    """``one_kind``: every request is a GET of ``nbytes``, so nothing is noted per request,
    yet completions, timeouts and failures are that kind's, and the sizes add up."""
    from sockbench.core.protocols import ProtocolOptions, build_protocol
    from sockbench.engine.worker.workload import ProtocolMatcher

    redis = build_protocol("redis", ProtocolOptions(ratio=(0, 1)))
    assert redis.one_kind == (KINDS.index("get"), len(redis.request(0, 0)))
    win = window()
    sink = KindSink()
    ex = StreamExchange(
        win, sink, ProtocolMatcher(redis.check_reply), redis.one_kind[1], pipelined=True,
        kind_sink=sink, kind=redis.one_kind[0],
    )  # fmt: skip
    t = 11 * S
    for i in range(3):
        assert ex.issue(t + i, t + i)
    assert feed(ex, b"$3\r\nabc\r\n$-1\r\n", t + MS) == OK
    assert sink.sizes == [redis.one_kind[1]] * 2
    ex.fail("closed", t + 2 * MS)
    assert {k: len(v) for k, v in sink.kind_latencies.items()} == {"get": 2}
    assert sink.kind_errors == Counter({("get", "closed"): 1})
    assert balanced(win, sink)
