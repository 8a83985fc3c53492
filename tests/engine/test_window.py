"""The window and the drain, in the order a worker goes through them, with made-up times.

``RequestWindow`` decides which requests are measured and when the drain ends; the
recorder cuts the window's rows on the interval grid, snapshots what was served at the
window's end (``close_window``) and puts what ended later in a row of its own
(``close_drain``), as ``engine/worker/run.run_worker`` calls them.
"""

from __future__ import annotations

import pytest

from sockbench.core.exchange import (
    CLOSED,
    MEASURED,
    NEVER,
    OK,
    TIMEOUT,
    UNFINISHED,
    WARMUP,
    RequestWindow,
    StreamExchange,
)
from sockbench.core.expect import Echo
from sockbench.engine.clients.recorder import WorkerRecorder

pytestmark = pytest.mark.unit

MS = 1_000_000
S = 1_000 * MS
START, END = 10 * S, 20 * S
PING = b"PING\r\n"


def window(**kw: int | None) -> RequestWindow:
    return RequestWindow(S, measure_start_ns=START, measure_end_ns=END, **kw)  # type: ignore[arg-type]


def recorder(win: RequestWindow | None = None) -> WorkerRecorder:
    rec = WorkerRecorder(1, win or window())
    rec.start_intervals(S)
    return rec


def answer(rec: WorkerRecorder, n: int = 1) -> None:
    for _ in range(n):
        assert rec.window.admit(START) == MEASURED
        rec.completed(MS, MS, 6, 6)


# -- RequestWindow --------------------------------------------------------------------------


def test_a_request_is_warm_up_before_the_window_measured_in_it_and_closed_after() -> None:
    win = window()
    assert [win.admit(t) for t in (START - 1, START, END - 1, END)] == [
        WARMUP,
        MEASURED,
        MEASURED,
        CLOSED,
    ]
    assert win.issued == 2  # only the measured ones are issued
    assert (win.closed(END - 1), win.closed(END)) == (False, True)


def test_the_request_limit_closes_the_window_for_every_later_request() -> None:
    win = window(limit=2)
    assert [win.admit(START + t) for t in range(4)] == [MEASURED, MEASURED, CLOSED, CLOSED]
    assert win.issued == 2 and win.closed(START)
    assert win.admit(START - 1) == WARMUP  # warm-up is never limited
    assert window(limit=None).limit == window(limit=0).limit == NEVER


def test_the_drain_lasts_the_timeout_unless_told_otherwise() -> None:
    assert window().drain_end_ns == END + S
    assert window(drain_ns=200 * MS).drain_end_ns == END + 200 * MS
    assert window(drain_ns=0).drain_end_ns == END
    unset = RequestWindow(S)  # before the coordinator says when: no window, no drain
    assert (unset.measure_start_ns, unset.measure_end_ns, unset.drain_end_ns) == (NEVER,) * 3
    assert unset.admit(0) == WARMUP
    unset.set_times(START, END, None)
    assert (unset.drain_end_ns, unset.admit(START)) == (END + S, MEASURED)


def test_a_request_open_at_the_drains_end_is_a_timeout_from_its_timeout_on() -> None:
    win = window()
    assert win.end_kind(mark_ns=END - S, now_ns=END) == TIMEOUT
    assert win.end_kind(mark_ns=END - S + 1, now_ns=END) == UNFINISHED


def test_the_drain_is_over_once_every_client_retired() -> None:
    win = window(clients=2)
    assert not win.all_retired
    win.retire()
    assert not win.all_retired
    win.retire()
    assert win.all_retired
    assert window(clients=0).all_retired


# -- rows on the grid -----------------------------------------------------------------------


def test_rows_are_cut_on_the_grid_and_never_empty_or_backwards() -> None:
    rec = WorkerRecorder(1, window())
    assert rec.cut_interval(START + S) is None  # no series before measurement starts
    rec.start_intervals(S)
    answer(rec, 3)
    row = rec.cut_interval(START + S)
    assert row is not None and (row.start_s, row.t, row.requests, row.rps) == (0.0, 1.0, 3, 3.0)
    assert rec.cut_interval(START + S) is None  # the same instant again: nothing to cut
    assert rec.cut_interval(START + S - 1) is None
    rec.error("reset", START + S + 1)
    row = rec.cut_interval(START + 2 * S)
    assert row is not None and (row.requests, row.errors) == (0, 1)


def test_replies_before_the_series_began_are_in_no_row() -> None:
    rec = WorkerRecorder(1, window())
    answer(rec, 2)  # e.g. before start_intervals (the worker begins it before any client goes)
    rec.start_intervals(S)
    answer(rec)
    row = rec.cut_interval(START + S)
    assert row is not None and row.requests == 1
    assert row is not None and rec.latency.histogram.get_total_count() == 3


# -- the window's end ----------------------------------------------------------------------


def test_closing_the_window_cuts_its_last_row_and_snapshots_what_it_served() -> None:
    rec = recorder()
    rec.warmup_reply(START + 1)  # a warm-up request's reply inside the window
    answer(rec, 4)
    rec.cut_interval(START + S)
    answer(rec, 2)
    last = rec.close_window(START + S + 500 * MS)  # the window ended early: every client done
    assert last is not None and (last.start_s, last.t, last.requests, last.rps) == (
        1.0,
        1.5,
        2,
        4.0,
    )
    assert (rec.served, rec.served_from_warmup, rec.drained) == (7, 1, 0)
    answer(rec)  # answered in the drain
    assert (rec.served, rec.drained) == (7, 1)
    assert rec.close_window(END) is None  # once only: a stop after the window changes nothing
    assert rec.served == 7


def test_a_window_whose_last_row_was_already_cut_still_snapshots_served() -> None:
    rec = recorder(window())
    answer(rec, 2)
    rec.cut_interval(END)  # the grid reached the window's end first
    assert rec.close_window(END) is None
    assert rec.window_closed and rec.served == 2


def test_before_the_window_closes_the_tally_counts_every_reply_as_served() -> None:
    rec = recorder()
    rec.warmup_reply(START)
    answer(rec, 2)
    tally = rec.tally(datagrams=False)
    assert (tally.served, tally.served_from_warmup, tally.drained) == (3, 1, 0)


# -- the drain ------------------------------------------------------------------------------


def test_what_ends_in_the_drain_is_a_row_of_its_own_not_one_of_the_windows() -> None:
    rec = recorder()
    answer(rec, 3)
    rec.close_window(END)
    answer(rec, 2)
    assert rec.window.admit(START) == MEASURED
    rec.failed(TIMEOUT, 1, END + S)
    rec.close_drain(END + S)
    drain = rec.drain_row
    assert drain is not None
    assert (drain.start_s, drain.t, drain.requests, drain.errors) == (10.0, 11.0, 2, 1)
    assert rec.series is not None and [r.requests for r in rec.series.rows] == [3]
    tally = rec.tally(datagrams=False)
    assert tally.drain_interval == drain and tally.intervals == tuple(rec.series.rows)
    assert (tally.requests, tally.served, tally.drained) == (5, 3, 2)
    assert tally.served - tally.served_from_warmup + tally.drained == tally.requests
    assert tally.balanced


def test_a_drain_that_ended_nothing_has_no_row() -> None:
    rec = recorder()
    answer(rec)
    rec.close_window(END)
    rec.close_drain(END + S)
    assert rec.drain_row is None and rec.tally(datagrams=False).drain_interval is None


def test_a_drain_that_ends_at_the_windows_end_still_gets_a_row_after_it() -> None:
    rec = recorder()
    rec.close_window(END)
    answer(rec)  # stopped at once, with a reply read at that same instant
    rec.close_drain(END)
    assert rec.drain_row is not None and rec.drain_row.t > 10.0
    assert rec.drain_row.requests == 1


def test_no_drain_row_before_the_window_closed_or_without_a_series() -> None:
    rec = recorder()
    answer(rec)
    rec.close_drain(END + S)  # the window never closed: nothing is the drain's
    assert rec.drain_row is None
    bare = WorkerRecorder(1, window())
    bare.close_window(END)
    answer(bare)
    bare.close_drain(END + S)
    assert bare.drain_row is None and bare.served == 0


# -- a worker's whole sequence, through a real exchange --------------------------------------


def test_one_connection_through_warm_up_window_and_drain_keeps_every_identity() -> None:
    """The order run_worker goes through: rows on the grid, close_window at the window's
    end, the drain, close_drain; the exchange feeding the recorder as a driver would."""
    win = window(clients=1)
    rec = recorder(win)
    ex = StreamExchange(win, rec, Echo(PING), len(PING), pipelined=True)

    def reply(now: int) -> None:
        space = ex.space()
        space[: len(PING)] = PING
        assert ex.received(len(PING), now) == OK

    assert ex.issue(START - 10 * MS, START - 10 * MS)  # warm-up, answered in the window
    reply(START + 5 * MS)
    for k in range(1, 4):  # three measured, answered in the first interval
        assert ex.issue(START + k * 100 * MS, START + k * 100 * MS)
        reply(START + k * 100 * MS + MS)
    assert rec.cut_interval(START + S) is not None
    assert ex.issue(END - 300 * MS, END - 300 * MS)  # answered in the drain
    assert ex.issue(END - 200 * MS, END - 200 * MS)  # still open at the drain's end
    assert not ex.issue(END, END)  # the window closed: not issued
    rec.close_window(END)
    reply(END + 50 * MS)
    ex.finish(win.drain_end_ns)
    rec.close_drain(win.drain_end_ns)

    tally = rec.tally(datagrams=False)
    assert (tally.issued, tally.requests, tally.failed) == (5, 4, {TIMEOUT: 1})
    assert (tally.served, tally.served_from_warmup, tally.drained) == (4, 1, 1)
    assert [row.requests for row in tally.intervals] == [4, 0]
    assert tally.drain_interval is not None
    assert (tally.drain_interval.requests, tally.drain_interval.errors) == (1, 1)
    assert tally.served - tally.served_from_warmup + tally.drained == tally.requests
    assert sum(row.requests for row in tally.intervals) == tally.served
    assert tally.balanced
