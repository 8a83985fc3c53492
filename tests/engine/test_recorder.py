"""The worker's recorder, told outcomes by hand: what it counts, when, and what it hands back.

No sockets and no clock: times are made up, on a window from 10 s to 20 s. The rules are
docs/result.md's *Rates* (served, served_from_warmup, drained, offered) and its identities:
``served - served_from_warmup + drained == requests``, the window's rows add up to served,
and ``requests_issued == requests + sum(requests_failed) + in_flight``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import trio

from sockbench.core.datagrams import DatagramCounts
from sockbench.core.exchange import MEASURED, RequestWindow
from sockbench.core.histogram import decode
from sockbench.core.tally import merge_tallies
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.worker.run import KEEP_UP_S, _keep_up
from tests.support.builds import pure_only

pytestmark = pytest.mark.unit

MS = 1_000_000
S = 1_000 * MS
START, END = 10 * S, 20 * S
TIMEOUT = 1 * S


def recorder(clients: int = 1, *, open_loop: bool = False, **window: int) -> WorkerRecorder:
    """A recorder on the window [10 s, 20 s), its series begun (as the worker does)."""
    win = RequestWindow(TIMEOUT, clients=clients, measure_start_ns=START, measure_end_ns=END)
    for name, value in window.items():
        setattr(win, name, value)
    rec = WorkerRecorder(clients, win, open_loop=open_loop)
    rec.start_intervals(S)
    return rec


def measured(rec: WorkerRecorder, latency_ns: int = MS) -> None:
    """A request of the window, issued and answered."""
    assert rec.window.admit(START) == MEASURED
    rec.completed(latency_ns, latency_ns, 64, 64)


def failed(rec: WorkerRecorder, kind: str, at_ns: int) -> None:
    assert rec.window.admit(START) == MEASURED
    rec.failed(kind, 1, at_ns)


def identities_hold(rec: WorkerRecorder) -> None:
    tally = rec.tally(datagrams=False)
    assert tally.served - tally.served_from_warmup + tally.drained == tally.requests
    assert sum(row.requests for row in tally.intervals) == tally.served
    assert tally.balanced


# -- what is counted -------------------------------------------------------------------------


def test_latencies_are_recorded_in_whole_microseconds_rounded_to_nearest() -> None:
    rec = recorder()
    measured(rec, 1_499_499)
    measured(rec, 1_499_500)
    hist = rec.latency.histogram
    assert hist.get_total_count() == 2
    assert (hist.get_min_value(), hist.get_max_value()) == (1499, 1500)
    assert (rec.requests, rec.bytes_sent, rec.bytes_received) == (2, 128, 128)


async def test_the_worker_folds_per_request_samples_in_on_its_clock(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The hot path appends without a check (NsRecorder): the worker's keep-up task
    folds in every per-request buffer holding a batch each KEEP_UP_S, so none grows with
    the run."""
    rec = recorder(open_loop=True)
    rec.track_kinds(("set", "get"))
    per_request = [rec.latency, rec.service, rec.send_lag, rec.scheduler_lag]
    per_request += [k.latency for k in rec.by_kind.values()]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_keep_up, rec)
        await trio.sleep(KEEP_UP_S / 2)  # its ticks fall between this test's looks
        for _ in range(3):
            for i in range(10_000):  # more than a batch (8,192) of each
                rec.completed(latency_ns=2 * MS, service_ns=MS, sent=8, got=8, kind=i % 2)
                rec.scheduled_send(START, START, START + 1000)
            await trio.sleep(KEEP_UP_S)
            # Folded once a batch waited: never more than a batch left waiting
            assert max(len(r._buffer) for r in per_request) < 8192
        nursery.cancel_scope.cancel()
    assert [r.histogram.get_total_count() for r in per_request] == [30_000] * 4 + [15_000] * 2


def test_closed_loop_keeps_no_service_time_or_send_lag() -> None:
    rec = recorder()
    measured(rec, 5 * MS)
    assert rec.service.histogram.get_total_count() == 0
    assert rec.tally(datagrams=False).extra_histograms == {}


def test_open_loop_splits_latency_into_service_time_and_send_lag() -> None:
    rec = recorder(open_loop=True)
    assert rec.window.admit(START) == MEASURED
    rec.completed(latency_ns=1_900_000, service_ns=400_000, sent=8, got=8)
    assert rec.service.histogram.get_max_value() == 400  # µs under 2048 are exact
    assert rec.send_lag.histogram.get_max_value() == 1500
    extra = rec.tally(datagrams=False).extra_histograms
    assert set(extra) == {"service_time_us", "send_lag_us", "scheduler_lag_us"}
    assert decode(extra["send_lag_us"]).get_total_count() == 1


def test_a_failure_is_an_error_and_a_measured_failure_by_kind() -> None:
    rec = recorder()
    failed(rec, "timeout", 12 * S)
    rec.failed("lost", 3, 13 * S)  # three datagrams at once
    assert rec.failures == {"timeout": 1, "lost": 3}
    assert rec.errors == {"timeout": 1, "lost": 3}


def test_errors_not_tied_to_a_request_are_warm_up_errors_before_the_window() -> None:
    rec = recorder()
    rec.error("refused", START - 1)
    rec.error("refused", START)  # the window's start belongs to the window
    rec.error("reset", 25 * S)  # and so does the drain
    assert rec.warmup_errors == {"refused": 1}
    assert rec.errors == {"refused": 1, "reset": 1}
    assert rec.failures == {}  # no measured request ended


def test_warm_up_replies_count_as_served_only_from_the_windows_start() -> None:
    rec = recorder()
    rec.warmup_reply(START - 1)
    rec.warmup_reply(START)
    rec.warmup_reply(START + S)
    assert rec.warm_replies == 2
    assert rec.replies == 2 and rec.requests == 0


def test_scheduler_lag_counts_sends_due_in_the_window_offered_counts_sends_in_it() -> None:
    rec = recorder(open_loop=True)
    # Due in the warm-up, sent inside the window (a backlog): offered, but no lag kept.
    rec.scheduled_send(due_ns=START - MS, ready_ns=START - MS, sent_ns=START + MS)
    # Due inside, sent 1.8 ms late although it could go at once: all the generator's lag.
    rec.scheduled_send(due_ns=11 * S, ready_ns=11 * S, sent_ns=11 * S + 1_800_000)
    # Due inside, waited 4 ms for a --pipeline slot, then went 0.6 ms later: only that is its.
    rec.scheduled_send(due_ns=12 * S, ready_ns=12 * S + 4 * MS, sent_ns=12 * S + 4_600_000)
    # Due inside at the very end, sent after it: lag kept, not offered.
    rec.scheduled_send(due_ns=END - 1, ready_ns=END - 1, sent_ns=END + MS)
    lag = rec.scheduler_lag.histogram
    assert lag.get_total_count() == 3
    assert (lag.get_min_value(), lag.get_max_value()) == (600, 1800)
    assert rec.offered == 3


def test_each_kind_of_request_is_counted_apart_and_an_undeclared_one_nowhere() -> None:
    rec = WorkerRecorder(1, RequestWindow(TIMEOUT, clients=1, measure_start_ns=0))
    rec.track_kinds(("set", "get"))
    rec.start_intervals(S)
    for kind, latency_ns in [(0, 1_200_000), (1, 1_500_000), (1, 1_900_000), (2, 9 * MS)]:
        rec.completed(latency_ns, latency_ns, 0, 0, kind)
    rec.kind_failed(1, "protocol_error")
    rec.kind_failed(2, "mismatch")
    row = rec.cut_interval(S)
    assert row is not None
    assert [(k.kind, k.requests) for k in row.by_kind] == [("set", 1), ("get", 2)]
    assert row.to_json()["by_kind"]["get"] == {"requests": 2, "rps": 2.0, "p99": 1900}
    tally = rec.tally(datagrams=False)
    assert tally.requests_by_kind == {"set": 1, "get": 2}
    assert tally.errors_by_kind == {"set": {}, "get": {"protocol_error": 1}}
    assert decode(tally.latency_by_kind["set"]).get_max_value() == 1200


@pytest.mark.parametrize("open_loop", [False, True])
def test_a_run_answered_together_counts_as_each_of_its_requests_alone(open_loop: bool) -> None:
    """``completed_run`` (a --pipeline write's replies, one read): the same tally, rows,
    histograms, kinds and misses as one ``completed`` per request."""
    runs = [  # (latency, service, [(sent, got, kind, misses), ...])
        (3 * MS, 2 * MS, [(40, 5, 0, 0), (30, 5, 1, 1), (30, 38, 1, 0), (30, 5, 1, 1)]),
        (7 * MS, 7 * MS, [(30, 38, 1, 0), (30, 38, 1, 0)]),
        (1 * MS, 1 * MS, [(40, 5, 0, 0), (44, 9, 2, 0)]),  # an undeclared kind: nowhere
    ]
    alone, together = (recorder(open_loop=open_loop) for _ in range(2))
    for rec in (alone, together):
        rec.track_kinds(("set", "get"), (0, 1))
        rec.start_intervals(S)
    for latency, service, requests in runs:
        for sent, got, kind, missed in requests:
            assert alone.window.admit(START) == together.window.admit(START) == MEASURED
            alone.completed(latency, service, sent, got, kind, missed)
        together.completed_run(
            latency, service, sum(r[0] for r in requests), sum(r[1] for r in requests),
            len(requests), [r[2] for r in requests],
            [sum(r[3] for r in requests if r[2] == kind) for kind in range(3)],
        )  # fmt: skip
    one, other = alone.tally(datagrams=False), together.tally(datagrams=False)
    assert one == other
    assert one.requests_by_kind == {"set": 2, "get": 5}
    for rec in (alone, together):
        assert (rec.bytes_sent, rec.bytes_received) == (274, 143)
    rows = [rec.cut_interval(START + S) for rec in (alone, together)]
    assert rows[0] == rows[1] is not None
    identities_hold(together)


def test_a_warm_up_request_answered_in_the_window_counts_in_its_kinds_row() -> None:
    """Past the knee the window serves the warm-up's backlog: each kind's rows count those
    replies as the row's own count does, so the kinds add up to the served rate; their
    latencies and keys stay the measured requests' alone."""
    rec = recorder()
    rec.track_kinds(("set", "get"), lookups=(0, 1))
    rec.start_intervals(S)
    rec.warmup_reply(START - 1)
    rec.kind_warm_reply(1, START - 1)  # before the window: served in the warm-up
    for at in (START, START + 1):
        rec.warmup_reply(at)
        rec.kind_warm_reply(1, at)
    rec.completed(MS, MS, 0, 0, 0)
    row = rec.cut_interval(START + S)
    assert row is not None and row.requests == 3
    assert [(k.kind, k.requests) for k in row.by_kind] == [("set", 1), ("get", 2)]
    assert row.by_kind[1].hits == 0 and row.lookups == (0, 0)  # no measured GET
    assert rec.tally(datagrams=False).requests_by_kind == {"set": 1, "get": 0}


def test_each_rows_hits_and_misses_are_its_own_and_add_up_to_the_tallys() -> None:
    """A GET of 2 keys: each row keeps the keys its completed GETs found and missed; the
    window's rows and the drain's add up to the tally's lookups exactly."""
    rec = recorder()
    rec.track_kinds(("set", "get"), lookups=(0, 2))
    rec.start_intervals(S)
    for row_end, misses in ((START + S, (0, 1, 2)), (END, (2,)), (END + S, (1,))):
        for missed in misses:
            rec.completed(MS, MS, 0, 0, 1, missed)
        rec.completed(MS, MS, 0, 0, 0)
        if row_end == END + S:
            rec.close_drain(row_end)
        elif row_end == END:
            rec.close_window(END)
        else:
            rec.cut_interval(row_end)
    tally = rec.tally(datagrams=False)
    rows = [*tally.intervals, tally.drain_interval]
    assert [row.lookups for row in rows if row is not None] == [(3, 3), (0, 2), (1, 1)]
    assert tally.lookups_by_kind == {"get": (4, 6)}
    assert all(row.by_kind[0].hits is None for row in tally.intervals)  # a SET reads none


def test_an_open_loop_row_keeps_its_sends_and_their_lags() -> None:
    """Each row: the sends inside it (offered; they add up to the worker's), the send lag
    of the requests answered in it and the generator's lag of the sends in it."""
    rec = recorder(open_loop=True)
    rec.scheduled_send(due_ns=START + MS, ready_ns=START + MS, sent_ns=START + 3 * MS)
    rec.scheduled_send(due_ns=START + 2 * MS, ready_ns=START + 2 * MS, sent_ns=START + 3 * MS)
    assert rec.window.admit(START) == MEASURED
    rec.completed(latency_ns=2_500_000, service_ns=500_000, sent=8, got=8)  # sent 2 ms late
    first = rec.cut_interval(START + S)
    rec.scheduled_send(due_ns=START + S, ready_ns=START + S, sent_ns=START + S + 100_000)
    second = rec.close_window(END)
    assert first is not None and second is not None
    assert [row.to_json()["offered"] for row in (first, second)] == [2, 1]
    assert sum(row.to_json()["offered"] for row in (first, second)) == rec.offered
    assert first.to_json()["offered_rps"] == 2.0 and second.to_json()["offered_rps"] == 0.111
    assert (first.to_json()["send_lag_p99"], second.to_json()["send_lag_p99"]) == (2000, 0)
    assert first.to_json()["scheduler_lag_p99"] == 2000
    assert second.to_json()["scheduler_lag_p99"] == 100
    assert "offered" not in recorder().cut_interval(START + S).to_json()  # type: ignore[union-attr]


# -- clients retiring, interruption -----------------------------------------------------------


def test_the_recorder_is_retired_once_every_client_is() -> None:
    rec = recorder(clients=2)
    rec.retire()
    assert not rec.retired.is_set()
    rec.retire()
    assert rec.retired.is_set() and rec.window.all_retired
    assert WorkerRecorder(0).retired.is_set()  # no clients: nothing to wait for


def test_in_flight_is_what_an_interrupted_run_left_open_and_zero_otherwise() -> None:
    rec = recorder()
    measured(rec)
    failed(rec, "reset", 11 * S)
    for _ in range(3):
        assert rec.window.admit(12 * S) == MEASURED  # issued, never ended
    assert rec.in_flight() == 0  # a normal end: the exchanges counted them all
    rec.interrupted = True
    assert rec.in_flight() == 3
    tally = rec.tally(datagrams=False)
    assert (tally.issued, tally.requests, tally.failed, tally.in_flight) == (5, 1, {"reset": 1}, 3)
    assert tally.balanced


def test_stream_mode_reports_no_issued_requests_and_nothing_in_flight() -> None:
    rec = recorder()
    rec.interrupted = True
    assert rec.window.admit(START) == MEASURED
    tally = rec.tally(datagrams=False, requests_issued=False)
    assert (tally.issued, tally.in_flight) == (None, 0)


# -- datagrams ----------------------------------------------------------------------------


def test_a_udp_stream_client_without_a_report_leaves_its_datagrams_in_flight() -> None:
    rec = WorkerRecorder(
        2, RequestWindow(TIMEOUT, clients=2, measure_start_ns=0), stream_payload=64
    )
    assert rec.stream is not None
    for client, sent in ((0, 10), (1, 5)):
        for _ in range(sent):
            rec.stream.sent_datagram(client, 64)
    rec.add_stream_datagrams(0, sent=10, report=None)
    rec.add_stream_datagrams(1, sent=5, report=(7, 448))  # more than it sent
    counts = rec.datagram_counts()
    assert counts == DatagramCounts(sent=15, received=5, lost=0, in_flight=10)
    assert counts.balanced
    assert rec.errors == {"no_report": 1}
    tally = rec.tally(datagrams=True, requests_issued=False)
    assert (tally.requests, tally.bytes_sent, tally.bytes_received) == (15, 960, 448)
    assert (tally.client_bytes, tally.client_received) == ((640, 320), (None, 448))


@pure_only
def test_datagram_counts_add_every_exchanges_ledger() -> None:
    rec = recorder()
    assert rec.datagram_counts() is None
    assert rec.tally(datagrams=True).datagrams == DatagramCounts()
    ledgers = [DatagramCounts(sent=4, received=3, lost=1), DatagramCounts(sent=2, in_flight=2)]
    rec.datagram_exchanges = [
        SimpleNamespace(counts=lambda c=c: c)  # type: ignore[misc]
        for c in ledgers
    ]
    rec.datagram_exchanges.append(SimpleNamespace(counts=lambda: None))  # type: ignore[arg-type]
    assert rec.datagram_counts() == DatagramCounts(sent=6, received=3, lost=1, in_flight=2)
    assert rec.tally(datagrams=False).datagrams is None


# -- merging workers ----------------------------------------------------------------------


def test_two_workers_merge_into_one_tally_with_the_identities_intact() -> None:
    a, b = recorder(), recorder()
    for rec, n in ((a, 3), (b, 5)):
        rec.warmup_reply(START + 1)
        for _ in range(n):
            measured(rec)
        rec.cut_interval(START + S)
        measured(rec)
        rec.close_window(END)
        measured(rec)  # answered in the drain
        rec.close_drain(END + 100 * MS)
        identities_hold(rec)
    merged = merge_tallies([a.tally(datagrams=False), b.tally(datagrams=False)])
    assert (merged.requests, merged.served, merged.served_from_warmup) == (12, 12, 2)
    assert merged.drained == 2
    assert [row.requests for row in merged.intervals] == [10, 2]
    assert merged.drain_interval is not None and merged.drain_interval.requests == 2
    assert merged.issued == 12 and merged.balanced
    assert decode(merged.latency).get_total_count() == 12


def test_rows_with_kinds_merge_kind_by_kind_and_exactly() -> None:
    """merge_rows: a worker's kinds are added to the same kind of the other's, and the
    merged row's percentiles are those of one histogram holding every sample."""
    workers = []
    for latencies in ([1_100_000, 1_300_000], [1_700_000, 1_900_000, 2_000_000]):
        rec = WorkerRecorder(1, RequestWindow(TIMEOUT, clients=1, measure_start_ns=0))
        rec.track_kinds(("set", "get"))
        rec.start_intervals(S)
        for i, latency_ns in enumerate(latencies):
            rec.completed(latency_ns, latency_ns, 0, 0, i % 2)
        rec.cut_interval(S)
        workers.append(rec)
    [row] = merge_tallies([rec.tally(datagrams=False) for rec in workers]).intervals
    assert (row.requests, row.p50, row.max) == (5, 1700, 2000)
    assert [(k.kind, k.requests) for k in row.by_kind] == [("set", 3), ("get", 2)]
    assert row.kind_summary(row.by_kind[1]) == {"requests": 2, "rps": 2.0, "p99": 1900}
    assert decode(row.by_kind[0].histogram).get_total_count() == 3


def test_auto_warm_ups_rows_count_warm_up_replies_and_errors_never_the_windows() -> None:
    """--warmup auto: before the window, replies to warm-up requests and warm-up errors
    make the warm-up's own rows (t from the warm-up's start); the window's counts and
    rows are untouched, and a warm-up reply inside the window is served there as before."""
    rec = recorder()
    rec.start_warmup_rows(START - 2 * S, S)
    rec.warmup_reply(START - 2 * S + 10 * MS, 3 * MS)
    rec.warmup_reply(START - 2 * S + 20 * MS, 5 * MS)
    rec.error("refused", START - 2 * S + 30 * MS)
    first = rec.cut_warmup(START - S)
    assert (first.start_s, first.t, first.requests, first.errors) == (0.0, 1.0, 2, 1)
    assert first.p99 == pytest.approx(5_000, rel=0.01)
    rec.warmup_reply(START - 1, 4 * MS)
    second = rec.cut_warmup(START)
    assert (second.start_s, second.t, second.requests, second.errors) == (1.0, 2.0, 1, 0)
    rec.warmup_reply(START + 1, 4 * MS)  # the window's: served in it, not a warm-up row
    assert rec.warmup_rows is not None and rec.warmup_rows.replies == 3
    assert rec.warm_replies == 1 and rec.requests == 0 and rec.errors == {}
    row = rec.cut_interval(START + S)
    assert row is not None and row.requests == 1
