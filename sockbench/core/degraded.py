"""Whether a run that ran to its end still failed to measure its target (pure).

A run whose target died or stopped answering ends on time, with errors but with
status ``completed``; a script reading exit code 0 would take its numbers for a
benchmark. It is marked ``degraded`` instead, with the reason, when:

- no request completed in the measurement window (the target answered nothing); or
- the run counted errors, and its last interval completed no request after earlier
  intervals did (the target died, or stopped answering, during the run; once the
  clients wait in connect, even the errors stop). Lost datagrams are errors too, so
  a datagram target that goes silent is caught the same way; the rows count replies
  received inside each interval, so a drain's late replies do not hide the silence;
- the window closed early, well before the time asked, on errors: every client stopped
  (a stream whose target reset it ends its client; a run of 0.02 s of the 2 s asked is no
  measurement of the 2 s). A ``--requests`` run ends when its count is done, and one
  that ``--until`` ended on its rule when it measured enough, so neither is asked for a
  time (``asked_s`` None: :func:`asked_s`).
"""

from __future__ import annotations

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
    if tally.requests == 0:
        return "the target answered nothing: no request completed in the measurement window"
    errors = sum(tally.errors.values())
    if asked_s and measured_s is not None and errors and measured_s < CUT_SHORT * asked_s:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(tally.errors.items()))
        return (
            f"the window closed after {measured_s:.2f} s of the {asked_s:g} s asked: every "
            f"client stopped on an error ({kinds})"
        )
    rows = tally.intervals
    if tally.errors and len(rows) >= 2 and rows[-1].requests == 0:
        silent = next((i for i, r in enumerate(reversed(rows)) if r.requests), len(rows))
        # Its last reply came in the last row that had any: silence began within it.
        when = (
            f"between {rows[-silent - 1].start_s:g} and {rows[-silent].start_s:g} s"
            if silent < len(rows)
            else "from the start"
        )
        return (
            f"the target stopped answering {when} into the window: no request completed "
            f"in the last {silent} interval(s), and {sum(tally.errors.values()):,} failed "
            "(did it die, or stop?)"
        )
    return None
