"""Whether a run that ran to its end still failed to measure its target (pure).

A run whose target died or stopped answering ends on time, with errors but with
status ``completed``; a script reading exit code 0 would take its numbers for a
benchmark. It is marked ``degraded`` instead, with the reason, when:

- no request completed in the measurement window (the target answered nothing, or only
  the warm-up's requests: an open loop past its rate sends the warm-up's backlog first);
  or
- the run counted errors, and its last interval completed no request after earlier
  intervals did (the target died, or stopped answering, during the run; once the
  clients wait in connect, even the errors stop). Lost datagrams are errors too, so
  a datagram target that goes silent is caught the same way; the rows count replies
  received inside each interval, so a drain's late replies do not hide the silence;
- the window closed early, well before the time asked, on errors: every client stopped
  (a stream whose target reset it ends its client; a run of 0.02 s of the 2 s asked is no
  measurement of the 2 s). A ``--requests`` run ends when its count is done, and one
  that ``--until`` ended on its rule when it measured enough, so neither is asked for a
  time (``asked_s`` None: :func:`asked_s`);
- a byte stream (``--mode stream``) moved nothing in its last interval after earlier
  ones moved bytes: a stream always has bytes to write (or read), so a silent interval
  is a target that stopped reading (or sending), and no error says so (the writes just
  wait on full buffers). A datagram stream is not judged this way (it may be paced
  sparser than an interval, and its sends never wait): its sink reports what arrived, so
  a sink that reported when the window opened and not after it closed
  (``sink_stopped``) is a target that stopped.
"""

from __future__ import annotations

import math

from sockbench.core.histogram import decode
from sockbench.core.intervals import IntervalRow
from sockbench.core.tally import Tally

#: A window this much shorter than asked closed early; rounding and the last tick are less.
CUT_SHORT = 0.9


def asked_s(duration_s: float, requests: int | None, until_stopped: bool) -> float | None:
    """The window's length as asked, for :func:`degraded_reason`: None for a run that
    ends on a count (``--requests``) or that ``--until`` stopped on its rule."""
    return None if requests is not None or until_stopped else duration_s


def degraded_reason(
    tally: Tally, asked_s: float | None = None, measured_s: float | None = None
) -> str | None:
    """Why the run did not measure its target, or None when it did. ``asked_s``: the
    window's length as asked (None: not a timed run); ``measured_s``: as it was."""
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(tally.errors.items()))
    if _served_only_warmup(tally):
        return (
            f"no request of the window completed, though the target answered "
            f"{tally.served:,} of the warm-up's inside it" + (f" ({kinds})" if kinds else "")
        )
    if tally.requests == 0:
        # Silence and wrong replies alike: the errors say which it was.
        return (
            "the target answered nothing usable: no request completed in the measurement "
            "window" + (f" ({kinds})" if kinds else "")
        )
    errors = sum(tally.errors.values())
    if asked_s and measured_s is not None and errors and measured_s < CUT_SHORT * asked_s:
        return (
            f"the window closed after {measured_s:.2f} s of the {asked_s:g} s asked: every "
            f"client stopped on an error ({kinds})"
        )
    stopped = tally.errors.get("sink_stopped", 0)
    if stopped:
        return (
            f"the sink of {stopped:,} datagram stream(s) reported when the window opened "
            "and not after it closed: what arrived is unknown (did the target stop, or die?)"
        )
    rows = tally.intervals
    stalled = _stream_stall(rows) if tally.datagrams is None else None
    if stalled is not None:
        return stalled
    if tally.errors and len(rows) >= 2 and rows[-1].requests == 0:
        silent = next((i for i, r in enumerate(reversed(rows)) if r.requests), len(rows))
        when = _when(rows[-silent - 1 :]) if silent < len(rows) else "from the start"
        return (
            f"the target stopped answering {when} into the window: no request completed "
            f"in the last {silent} interval(s), and {sum(tally.errors.values()):,} failed "
            "(did it die, or stop?)"
        )
    return None


def _stream_stall(rows: tuple[IntervalRow, ...]) -> str | None:
    """Where a byte stream (TCP, Unix: they write as fast as they can, never paced)
    stopped moving for good, or None (not a stream, or it moved to its end). A last row
    cut shorter than half the first (the window's edge) is left out: a few microseconds
    can hold no bytes."""
    if rows and rows[-1].t - rows[-1].start_s < (rows[0].t - rows[0].start_s) / 2:
        rows = rows[:-1]
    if len(rows) < 2 or rows[-1].sent_bytes is None:
        return None
    moved = [(row.sent_bytes or 0) + (row.read_bytes or 0) for row in rows]
    if moved[-1] or not any(moved):
        return None
    silent = next(i for i, n in enumerate(reversed(moved)) if n)
    last = rows[-silent - 1]
    return (
        f"the stream stopped moving between {last.start_s:g} and {last.t:g} s into the "
        f"window: nothing was written or read in the last {silent} interval(s) (did the "
        "target stop reading, or stop?)"
    )


def _served_only_warmup(tally: Tally) -> bool:
    """The window's replies all answered warm-up requests and none of its own ended well:
    an open loop past the target's rate sends its warm-up backlog first, and the window's
    own waited (or, closed loop, the target stopped after the warm-up)."""
    return tally.requests == 0 and tally.served > 0


def degraded_advice(tally: Tally) -> str:
    """What to check for a run :func:`degraded_reason` marked: the target, unless it kept
    answering the warm-up's requests while an open loop's backlog held the window's."""
    if not _served_only_warmup(tally):
        return "check the target: it died, stopped, or answered nothing usable"
    if tally.offered:  # sent on a schedule: an open loop
        return (
            "the rate asked is past what the target serves, and the warm-up's backlog went "
            "out first: lower --rate toward the rate served, or give the drain longer "
            "(--timeout)"
        )
    return "check the target: it answered the warm-up, then stopped answering"


def _when(rows: tuple[IntervalRow, ...]) -> str:
    """Where the silence began: in the last row with replies (``rows[0]``), or later.

    Open loop, when the machine held the generator itself (a stall of its own, not the
    target's), what was due went out late, and replies came in while nothing read them,
    to be read as timeouts, whenever the target went silent; and a stall's late sends
    land in the row open when it began or the next (the interval ticker waits too). So
    where those two rows say the generator sent an interval or more late, the bracket
    runs that much further, in whole intervals, and the stall is named."""
    interval_ns = round((rows[1].t - rows[1].start_s) * 1e9)
    late_ns = max(_lag_us(row) for row in rows[:2]) * 1000
    if late_ns < interval_ns or interval_ns <= 0:  # it kept up: the silence began in the row
        return f"between {rows[0].start_s:g} and {rows[1].start_s:g} s"
    until = min(rows[1].start_s + math.ceil(late_ns / interval_ns) * interval_ns / 1e9, rows[-1].t)
    return (
        f"between {rows[0].start_s:g} and {until:g} s (the generator itself sent up to "
        f"{late_ns / 1e9:.2f} s late there, held by the machine: not the target)"
    )


def _lag_us(row: IntervalRow) -> int:
    """How late the generator itself sent in ``row`` at most (µs; 0: closed loop)."""
    return 0 if row.pacing is None else int(decode(row.pacing.scheduler_lag).get_max_value())
