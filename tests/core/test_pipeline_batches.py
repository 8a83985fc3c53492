"""A ``--pipeline`` refill issued per batch (issue 32): the same requests, kinds and counts as
one request at a time, so the accounting identities stay exact."""

from __future__ import annotations

import pytest

from sockbench.core.exchange import OK, RequestWindow, StreamExchange
from sockbench.core.expect import Echo
from sockbench.core.protocols import ProtocolOptions, build_protocol
from sockbench.core.protocols.contract import note, resolve
from sockbench.core.protocols.mix import BATCH_FORMATS
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.worker.workload import ProtocolMatcher
from sockbench.errors import ConfigError
from tests.core.test_exchange import MS, PING, TIMEOUT, S, Sink, balanced, feed, window
from tests.support.builds import pure_only

MIXES = [
    ("redis", ProtocolOptions(ratio=(1, 10), key_space=100_000, seed=3)),
    ("memcache", ProtocolOptions(ratio=(2, 3), key_space=1000, seed=4)),
    ("redis", ProtocolOptions(ratio=(1, 0), seed=5)),  # one kind
    ("redis", ProtocolOptions(ratio=(3, 4), key_pattern="S:G", key_space=50)),  # general path
    ("memcache", ProtocolOptions(value_size=8, value_size_max=40, multi_key=3, seed=6)),
    ("redis", ProtocolOptions(commands=("SET __key__ __data__", "GET __key__", "INCR n"))),
]


@pytest.mark.parametrize(("name", "options"), MIXES)
def test_a_batch_is_the_requests_and_kinds_one_at_a_time_would_be(
    name: str, options: ProtocolOptions
) -> None:
    """Two protocol objects of one seed: one asked per request, the other per batch of
    varying sizes (a long one past the cached ring of kinds too): the same bytes and kinds,
    so the same keys were drawn in the same order."""
    single = build_protocol(name, options)
    batched = build_protocol(name, options)
    seq, sizes = 5, [1, 7, 8, 3, 150, 2, 8]
    for count in sizes:
        one = [single.request(2, k) for k in range(seq, seq + count)]
        assert batched.requests_from(2, seq, count) == one
        kinds = [single.kind_index(2, k) for k in range(seq, seq + count)]
        assert batched.kinds_from(2, seq, count) == kinds
        seq += count


@pytest.mark.parametrize(("name", "options"), MIXES)
def test_a_batch_as_one_write_is_the_requests_one_at_a_time_would_be(
    name: str, options: ProtocolOptions
) -> None:
    """``batch_from``: the same bytes as each request built alone, joined, and each one's
    note (size and kind); with the first built ahead (the pump's ``ahead``) too, which
    draws no key of its own. Past the kept formats (``BATCH_FORMATS``) the same."""
    single = build_protocol(name, options)
    batched = build_protocol(name, options)
    seq = 5
    for count, ahead in [(1, False), (7, False), (8, True), (3, True), (150, False), (2, True),
                         (8, False), (1, True)] * 3:  # fmt: skip
        one = [single.request(2, k) for k in range(seq, seq + count)]
        kinds = [single.kind_index(2, k) for k in range(seq, seq + count)]
        built = batched.request(2, seq) if ahead else b""
        data, notes = batched.batch_from(2, seq, count, built)
        assert data == b"".join(one)
        if single.one_kind is None:
            assert notes == [note(len(r), k) for r, k in zip(one, kinds, strict=True)]
        else:
            assert notes == []
        seq += count


@pure_only
def test_the_kept_formats_are_bounded() -> None:
    """A long cycle at varying depths keeps at most BATCH_FORMATS joined formats, and a
    batch past them is the same."""
    options = ProtocolOptions(ratio=(1, 999), key_space=1000, seed=9)
    single, batched = build_protocol("redis", options), build_protocol("redis", options)
    seq = 0
    for count in range(1, 9):
        for _ in range(200):
            one = b"".join(single.request(0, k) for k in range(seq, seq + count))
            assert batched.batch_from(0, seq, count, b"")[0] == one
            seq += count
    kept = batched.batch_from.__closure__  # the cache is the closure's dict
    assert kept is not None
    sizes = [len(c.cell_contents) for c in kept if isinstance(c.cell_contents, dict)]
    assert sizes == [BATCH_FORMATS]


class _Plain:
    """A plugin without the batch members: the adapter asks per request."""

    kinds = ("even", "odd")

    def request(self, client: int, seq: int) -> bytes:
        return b"R%d.%d\n" % (client, seq)

    def kind(self, client: int, seq: int) -> str:
        return self.kinds[seq % 2]

    def check_reply(self, buf: bytearray, start: int, end: int) -> int:
        return 0


def test_a_plugin_without_batch_members_is_asked_once_per_request() -> None:
    adapter = resolve(_Plain(), "plain")
    assert adapter.requests_from(1, 4, 3) == [b"R1.4\n", b"R1.5\n", b"R1.6\n"]
    assert adapter.kinds_from(1, 4, 3) == [0, 1, 0]


def _pipelined(win: RequestWindow) -> tuple[StreamExchange, Sink]:
    sink = Sink()
    return StreamExchange(win, sink, Echo(PING), len(PING), pipelined=True), sink


def test_issue_many_admits_a_batch_as_issue_admits_each_of_it() -> None:
    """Warm-up, measured, cut by the --requests limit, closed: each as ``issue`` would
    say at that mark; every measured request ends once (the identity)."""
    win = window(limit=10)
    ex, sink = _pipelined(win)
    assert ex.issue_many(3, 9 * S, 9 * S) == 3  # warm-up: not counted as issued
    assert win.issued == 0 and ex.in_flight == 3 and ex.measured_in_flight == 0
    assert ex.issue_many(8, 11 * S, 11 * S) == 8
    assert feed(ex, PING * 11, 11 * S + 2 * MS) == OK  # the warm-up's replies first
    assert len(sink.latencies) == 8 and set(sink.latencies) == {2 * MS}
    assert ex.issue_many(8, 12 * S, 12 * S) == 2  # the limit: 2 more of the 10
    assert ex.issue_many(8, 12 * S, 12 * S) == 0
    assert win.issued == 10 and balanced(win, sink, in_flight=2)
    assert feed(ex, PING * 2, 12 * S + 1 * MS) == OK
    assert balanced(win, sink) and not ex.in_flight
    closed, _ = _pipelined(window())
    assert closed.issue_many(4, 20 * S, 20 * S) == 0 and not closed.in_flight


def test_writes_answered_in_one_read_keep_each_writes_latency() -> None:
    """Two writes' replies in one read: each write's run has its own latency (a run ends
    where the marks change), in order, and a lone reply after them its own too."""
    win = window()
    ex, sink = _pipelined(win)
    assert ex.issue_many(2, 11 * S, 11 * S) == 2
    assert ex.issue_many(3, 11 * S + 4 * MS, 11 * S + 4 * MS) == 3
    assert ex.issue(11 * S + 5 * MS, 11 * S + 6 * MS)  # open loop's: sent after its due
    assert feed(ex, PING * 6, 11 * S + 9 * MS) == OK
    assert sink.latencies == [9 * MS] * 2 + [5 * MS] * 3 + [4 * MS]
    assert sink.service == [9 * MS] * 2 + [5 * MS] * 3 + [3 * MS]
    assert balanced(win, sink) and not ex.in_flight


def test_a_batch_behind_requests_in_flight_keeps_their_marks_in_order() -> None:
    win = window()
    ex, sink = _pipelined(win)
    assert ex.issue(11 * S, 11 * S)
    assert ex.issue_many(2, 11 * S + 5 * MS, 11 * S + 5 * MS) == 2
    assert feed(ex, PING * 3, 11 * S + 8 * MS) == OK
    assert sink.latencies == [8 * MS, 3 * MS, 3 * MS]
    assert balanced(win, sink)
    ex.issue_many(2, 12 * S, 12 * S)
    ex.finish(12 * S + TIMEOUT)  # never answered: both time out
    assert sink.failures["timeout"] == 2 and balanced(win, sink)


def test_a_batch_issued_idle_is_answered_reply_by_reply_and_in_pieces() -> None:
    """A batch with nothing in flight is its oldest and a count of the rest (one mark,
    one send): replies one per read, a run in one read, and a reply cut in two each end
    one of them, in order, with the batch's latency."""
    win = window()
    ex, sink = _pipelined(win)
    assert ex.issue_many(5, 11 * S, 11 * S) == 5
    assert ex.deadline() == 12 * S
    assert feed(ex, PING, 11 * S + 1 * MS) == OK and ex.in_flight == 4
    assert feed(ex, PING * 2 + PING[:2], 11 * S + 2 * MS) == OK and ex.in_flight == 2
    assert feed(ex, PING[2:] + PING, 11 * S + 3 * MS) == OK and not ex.in_flight
    assert sink.latencies == [1 * MS, 2 * MS, 2 * MS, 3 * MS, 3 * MS]
    assert balanced(win, sink)


def test_a_request_issued_behind_a_batch_comes_after_all_of_it() -> None:
    win = window()
    ex, sink = _pipelined(win)
    assert ex.issue_many(3, 11 * S, 11 * S) == 3
    assert ex.issue(11 * S + 1 * MS, 11 * S + 1 * MS)
    assert ex.issue_many(2, 11 * S + 2 * MS, 11 * S + 2 * MS) == 2
    assert ex._marks() == [11 * S] * 3 + [11 * S + 1 * MS] + [11 * S + 2 * MS] * 2
    assert feed(ex, PING * 6, 11 * S + 5 * MS) == OK
    assert sink.latencies == [5 * MS] * 3 + [4 * MS] + [3 * MS] * 2
    assert balanced(win, sink) and not ex.in_flight


def test_the_newest_of_a_batch_resent_leaves_the_batch() -> None:
    """``resent`` (churn: the request really went out after its connect) moves the
    newest's send only: the others of its batch keep theirs."""
    win = window()
    ex, sink = _pipelined(win)
    assert ex.issue_many(3, 11 * S, 11 * S) == 3
    ex.resent(11 * S + 1 * MS)
    assert feed(ex, PING * 3, 11 * S + 4 * MS) == OK
    assert sink.latencies == [4 * MS] * 3
    assert sink.service == [4 * MS, 4 * MS, 3 * MS]
    assert balanced(win, sink)


def test_a_batch_ended_by_a_timeout_or_a_close_leaves_nothing_behind() -> None:
    """The oldest's timeout ends the batch's others too (aborted if their own timeout
    had not passed: they share it, so all time out); a new batch starts afresh."""
    win = window()
    ex, sink = _pipelined(win)
    assert ex.issue_many(4, 11 * S, 11 * S) == 4
    assert feed(ex, PING, 11 * S + 1 * MS) == OK
    assert ex.expire(12 * S) != OK
    assert sink.failures == {"timeout": 3} and not ex.in_flight and balanced(win, sink)
    ex.fail("closed", 12 * S)  # nothing in flight: nothing more to end
    assert ex.issue_many(2, 13 * S, 13 * S) == 2
    assert ex._marks() == [13 * S] * 2
    assert feed(ex, PING * 2, 13 * S + 2 * MS) == OK
    assert sink.latencies[-2:] == [2 * MS] * 2 and balanced(win, sink)


class _WrongBatch(_Plain):
    """Its batch members disagree with ``request`` and ``kind_index``."""

    def __init__(self, options: object = None) -> None:
        pass

    def requests_from(self, client: int, seq: int, count: int) -> list[bytes]:
        return [b"x"] * count

    def kinds_from(self, client: int, seq: int, count: int) -> list[int]:
        return [1] * count


class _NoBatch(_WrongBatch):
    def requests_from(self, client: int, seq: int, count: int) -> list[bytes]:
        return [b""]  # one, where none was asked for


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "_WrongBatch",
            r"kinds_from\(0, 1, 2\) returned \[1, 1\] where kind_index\(\) gives \[1, 0\]",
        ),
        ("_NoBatch", r"requests_from\(0, 1, 0\) must return a list, empty"),
    ],
    ids=["kinds", "requests"],
)
def test_batch_members_that_disagree_with_the_plugin_are_one_line_before_any_load(
    name: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build_protocol(f"tests.core.test_pipeline_batches:{name}", ProtocolOptions())


# The replies a redis-server gives a SET:GET 1:3 write of 8 (keys 16 bytes, values 4):
# SET, GET hit, GET miss, GET hit, SET, GET miss, an error reply, GET hit.
_ERR = b"-ERR wrong number of arguments\r\n"
_REPLIES = [b"+OK\r\n", b"$4\r\nabcd\r\n", b"$-1\r\n", b"$4\r\nabcd\r\n", b"+OK\r\n",
            b"$-1\r\n", _ERR, b"$4\r\nabcd\r\n"]  # fmt: skip


@pytest.mark.parametrize("error", [False, True], ids=["good", "error-reply"])
def test_a_writes_replies_answered_together_are_counted_as_each_alone(error: bool) -> None:
    """A --pipeline write of 8 mixed requests (one mark, one send), its replies cut
    anywhere: the worker's recorder counts each request once, with its own kind, bytes and
    miss, at the one latency they share; an error reply fails its own request only, of
    its own kind, and the run resumes after it."""
    protocol = build_protocol("redis", ProtocolOptions(ratio=(1, 3), value_size=4))
    replies = [r if error or r != _ERR else b"$4\r\nabcd\r\n" for r in _REPLIES]
    stream = b"".join(replies)
    mark = 11 * S
    for cut in range(len(stream) + 1):
        win = window()
        rec = WorkerRecorder(1, win)
        rec.track_kinds(protocol.kinds, protocol.lookups)
        ex = StreamExchange(
            win, rec, ProtocolMatcher(protocol.check_reply), 0, pipelined=True, kind_sink=rec,
            lookups=protocol.lookups, misses=protocol.misses, miss_reply=protocol.miss_reply,
        )  # fmt: skip
        assert ex.issue_many(8, mark, mark) == 8
        data, notes = protocol.batch_from(0, 0, 8, b"")
        ex.note_many(notes)
        for piece, at in ((stream[:cut], mark + 2 * MS), (stream[cut:], mark + 2 * MS)):
            assert feed(ex, piece, at) == OK, cut
        failed = 1 if error else 0
        assert (rec.requests, sum(rec.failures.values())) == (8 - failed, failed), cut
        assert rec.failures["protocol_error"] == failed
        assert rec.bytes_sent == len(data) - (len(protocol.request(0, 6)) if error else 0)
        assert rec.bytes_received == len(stream) - (len(_ERR) if error else 0)
        assert [k.requests for k in rec.by_kind.values()] == [2, 6 - failed], cut
        assert [k.misses for k in rec.by_kind.values()] == [0, 2], cut
        assert rec.by_kind["get"].errors == ({"protocol_error": 1} if error else {})
        latency = rec.latency.histogram
        assert latency.get_total_count() == 8 - failed
        assert latency.get_min_value() == latency.get_max_value() == 2000  # µs
        assert win.issued == rec.requests + sum(rec.failures.values()) and not ex.in_flight
