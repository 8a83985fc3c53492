"""Whether a run that ran to its end still failed to measure its target (pure).

A run whose target died or stopped answering ends on time, with errors but with
status ``completed``; a script reading exit code 0 would take its numbers for a
benchmark. It is marked ``degraded`` instead, with the reason, when:

- no request completed in the measurement window (the target answered nothing); or
- the run counted errors, and its last interval completed no request after earlier
  intervals did (the target died, or stopped answering, during the run; once the
  clients wait in connect, even the errors stop). Lost datagrams are errors too, so
  a datagram target that goes silent is caught the same way; the rows count replies
  received inside each interval, so a drain's late replies do not hide the silence.
"""

from __future__ import annotations

from sockbench.core.tally import Tally


def degraded_reason(tally: Tally) -> str | None:
    """Why the run did not measure its target, or None when it did."""
    if tally.requests == 0:
        return "the target answered nothing: no request completed in the measurement window"
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
