"""When a run that ran to its end is marked degraded, and what it says (pure)."""

from __future__ import annotations

import dataclasses

from sockbench.core.datagrams import DatagramCounts
from sockbench.core.degraded import asked_s, degraded_advice, degraded_reason
from sockbench.core.histogram import encode, new_histogram
from sockbench.core.intervals import IntervalRow, PacingRow
from sockbench.core.tally import Tally

EMPTY = Tally.empty()


def _row(start: float, requests: int) -> IntervalRow:
    return IntervalRow(start, start + 0.5, requests, 0, requests * 2.0, 1, 1, 1, "")


def _tally(replies: list[int], errors: dict[str, int]) -> Tally:
    rows = tuple(_row(i * 0.5, n) for i, n in enumerate(replies))
    return dataclasses.replace(
        EMPTY, requests=sum(replies), intervals=rows, errors=errors, served=sum(replies)
    )


def test_a_target_that_answers_throughout_is_not_degraded() -> None:
    assert degraded_reason(_tally([10, 10, 10], {"lost": 3})) is None


def test_a_target_that_answered_nothing_is_degraded() -> None:
    reason = degraded_reason(_tally([0, 0], {"timeout": 4}))
    assert reason == (
        "the target answered nothing usable: no request completed in the measurement window "
        "(timeout 4)"
    )
    # Wrong replies read the same, and the kinds say it was not silence.
    reason = degraded_reason(_tally([0, 0], {"mismatch": 2056}))
    assert reason is not None and reason.endswith("window (mismatch 2,056)")


def test_a_target_that_answered_nothing_is_the_target_to_check() -> None:
    assert degraded_advice(_tally([0, 0], {"timeout": 4})) == (
        "check the target: it died, stopped, or answered nothing usable"
    )


def test_an_open_loop_past_the_knee_that_served_only_the_warm_up_blames_the_rate() -> None:
    """500,000 req/s asked of a target that serves 89,441: the warm-up's backlog fills the
    window's replies, the window's own requests go out behind it and time out."""
    tally = dataclasses.replace(
        _tally([0, 0], {"timeout": 500_000}), served=89_441, served_from_warmup=89_441
    )
    open_loop = dataclasses.replace(tally, offered=89_364)
    assert degraded_reason(open_loop) == (
        "no request of the window completed, though the target answered 89,441 of the "
        "warm-up's inside it (timeout 500,000)"
    )
    assert degraded_advice(open_loop).startswith("the rate asked is past what the target serves")
    # A closed loop has no backlog: the target answered the warm-up, then stopped.
    assert degraded_advice(tally) == (
        "check the target: it answered the warm-up, then stopped answering"
    )


def test_a_target_that_went_silent_says_between_which_rows() -> None:
    """A UDP echo gone silent: its lost datagrams are the errors (issue 25)."""
    reason = degraded_reason(_tally([10, 4, 0, 0], {"lost": 9005}))
    assert reason is not None
    assert reason.startswith("the target stopped answering between 0.5 and 1 s into the window")
    assert "last 2 interval(s), and 9,005 failed" in reason


def _paced(rows: list[tuple[int, int, int]], errors: dict[str, int]) -> Tally:
    """Open-loop rows of 0.25 s: (replies, requests sent, the generator's own lag in ms)."""
    paced = []
    for i, (n, offered, late_ms) in enumerate(rows):
        lag = new_histogram()
        if offered:
            lag.record_value(late_ms * 1000)
        pacing = PacingRow(offered, encode(new_histogram()), encode(lag))
        paced.append(dataclasses.replace(_row(i * 0.25, n), t=(i + 1) * 0.25, pacing=pacing))
    replies = sum(n for n, _, _ in rows)
    return dataclasses.replace(
        EMPTY, requests=replies, intervals=tuple(paced), errors=errors, served=replies
    )


def test_a_stall_of_the_generator_itself_stretches_the_bracket() -> None:
    """The target went silent 1.0 s into the window while the machine held the generator
    for 0.4 s (SIGSTOP, reproduced): what was due in the stall went out late and replies
    were read late, as timeouts, so the rows around it read silent, which says nothing of
    the target. The stall's late sends land in the row open when it began, or the next;
    the bracket runs as much further as they were late, in whole intervals."""
    stopped_at_073 = [(500, 500, 0), (500, 500, 1), (468, 1288, 396), (0, 0, 0), (0, 212, 8)]
    reason = degraded_reason(_paced([*stopped_at_073, (0, 500, 1)], {"lost": 990}))
    assert reason is not None
    assert reason.startswith(
        "the target stopped answering between 0.5 and 1.25 s (the generator itself sent up "
        "to 0.40 s late there, held by the machine: not the target) into the window"
    )
    stopped_at_062 = [(500, 500, 0), (500, 500, 1), (240, 240, 1), (0, 835, 380), (0, 209, 2)]
    reason = degraded_reason(_paced([*stopped_at_062, (0, 500, 1)], {"lost": 990}))
    assert reason is not None and "between 0.5 and 1.25 s (the generator itself" in reason
    # The backlog split over both rows, the later-due part a little late in the second.
    stopped_at_066 = [(500, 500, 0), (500, 500, 1), (330, 900, 395), (0, 300, 150), (0, 500, 2)]
    reason = degraded_reason(_paced(stopped_at_066, {"lost": 990}))
    assert reason is not None and "between 0.5 and 1.25 s (the generator itself" in reason
    # Late by less than an interval: the row after the last reply, as before; a bracket
    # never runs past the window.
    kept_up = [(500, 500, 0), (500, 500, 0), (240, 500, 1), (0, 500, 200), (0, 500, 3)]
    reason = degraded_reason(_paced(kept_up, {"lost": 990}))
    assert reason is not None and "between 0.5 and 0.75 s into the window" in reason
    at_the_end = [(500, 500, 0), (500, 500, 0), (240, 500, 900), (0, 500, 1)]
    reason = degraded_reason(_paced(at_the_end, {"lost": 990}))
    assert reason is not None and "between 0.5 and 1 s (the generator itself" in reason
    # A last row of no length (a window cut on a boundary): no interval to count in.
    tally = _paced(at_the_end, {"lost": 990})
    empty_end = dataclasses.replace(tally.intervals[-1], start_s=1.0, t=1.0)
    rows = (*tally.intervals[:3], empty_end)
    reason = degraded_reason(dataclasses.replace(tally, intervals=rows))
    assert reason is not None and "between 0.5 and 1 s into the window" in reason


def test_a_quiet_end_without_errors_is_not_degraded() -> None:
    """Every client finished its --requests early: nothing failed, nothing is wrong."""
    assert degraded_reason(_tally([10, 0], {})) is None


def test_a_window_closed_early_on_errors_is_degraded() -> None:
    """A stream whose target reset it: 0.02 s measured of the 2 s asked, completed."""
    reason = degraded_reason(_tally([10], {"reset": 1}), asked_s=2.0, measured_s=0.0182)
    assert reason == (
        "the window closed after 0.02 s of the 2 s asked: every client stopped on an error "
        "(reset 1)"
    )


def test_a_full_window_or_an_untimed_run_is_not_cut_short() -> None:
    assert degraded_reason(_tally([10, 10], {"reset": 1}), asked_s=2.0, measured_s=1.95) is None
    assert degraded_reason(_tally([10], {"reset": 1}), asked_s=None, measured_s=0.1) is None
    assert degraded_reason(_tally([10], {}), asked_s=2.0, measured_s=0.1) is None


def test_a_run_that_until_stopped_or_requests_ended_is_not_asked_for_a_time() -> None:
    """--until ended the window after 2 s of the 60 s maximum, with a few errors on the
    way: it measured what it was asked to, it was not cut short."""
    tally = _tally([10, 10, 10, 10], {"timeout": 2})
    assert asked_s(60.0, None, until_stopped=False) == 60.0
    assert degraded_reason(tally, asked_s(60.0, None, until_stopped=False), 2.0) is not None
    assert asked_s(60.0, None, until_stopped=True) is None
    assert degraded_reason(tally, asked_s(60.0, None, until_stopped=True), 2.0) is None
    assert asked_s(60.0, 1000, until_stopped=False) is None


def _stream(sent: list[int], read: list[int] | None = None, last_s: float = 0.5) -> Tally:
    """A byte stream's tally: each row's bytes written (and read), no errors."""
    rows = tuple(
        dataclasses.replace(
            _row(i * 0.5, n // 64),
            sent_bytes=n,
            read_bytes=None if read is None else read[i],
            t=i * 0.5 + (last_s if i == len(sent) - 1 else 0.5),
        )
        for i, n in enumerate(sent)
    )
    messages = (sum(sent) + sum(read or [])) // 64
    return dataclasses.replace(EMPTY, requests=messages, intervals=rows)


def test_a_stream_whose_target_stopped_reading_is_degraded() -> None:
    """No error says so: the writes wait on full buffers, and the last rows move nothing."""
    reason = degraded_reason(_stream([3 << 30, 1 << 20, 0, 0]))
    assert reason == (
        "the stream stopped moving between 0.5 and 1 s into the window: nothing was written "
        "or read in the last 2 interval(s) (did the target stop reading, or stop?)"
    )
    assert degraded_reason(_stream([0, 0], read=[3 << 30, 0])) is not None  # --reverse


def test_a_stream_that_moved_to_its_end_is_not_degraded() -> None:
    assert degraded_reason(_stream([3 << 30, 3 << 30])) is None
    assert degraded_reason(_stream([0, 0], read=[1 << 30, 1 << 30])) is None
    # A stall in the middle that ended is in the rows, not a failed measurement.
    assert degraded_reason(_stream([1 << 30, 0, 1 << 30])) is None


def test_a_streams_last_row_cut_short_at_the_windows_edge_is_left_out() -> None:
    assert degraded_reason(_stream([1 << 30, 1 << 30, 0], last_s=0.0001)) is None
    assert degraded_reason(_stream([1 << 30, 0, 0], last_s=0.0001)) is not None


def test_a_datagram_stream_is_not_judged_by_its_rows() -> None:
    """Paced, it may send less than once an interval: a silent row is no stall."""
    sparse = dataclasses.replace(_stream([64, 0]), datagrams=DatagramCounts(sent=1, received=1))
    assert degraded_reason(sparse) is None


def test_a_datagram_stream_whose_sink_stopped_reporting_is_degraded() -> None:
    """Its sends never wait, so its rows move on; the sink's missing report is the sign.
    One that never reported (a target that is no sockbench sink) is not."""
    sent = dataclasses.replace(_stream([64 * 1000, 64 * 1000]), datagrams=DatagramCounts(sent=2000))
    stopped = dataclasses.replace(sent, errors={"sink_stopped": 2})
    assert degraded_reason(stopped) == (
        "the sink of 2 datagram stream(s) reported when the window opened and not after it "
        "closed: what arrived is unknown (did the target stop, or die?)"
    )
    assert degraded_reason(dataclasses.replace(sent, errors={"no_report": 2})) is None
