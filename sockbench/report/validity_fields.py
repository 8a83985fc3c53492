"""What a report shows of a result's ``validity`` section: the verdict line, each
percentile's ± and the notes under the latency table (docs/validity.md).

Results without the section (older ones) show none of it, so they re-render as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sockbench.core.validity import verdict_text
from sockbench.report.document import Doc

CI_NOTE = "± is each percentile's 95 % interval (docs/validity.md)"
UNBOUNDED_NOTE = "no ± where the samples cannot bound the percentile"
TAIL_NOTE = "p99 and up are unreliable: the generator did not follow its schedule"


def _section(result: Doc) -> Mapping[str, Any]:
    found: Mapping[str, Any] = result.get("validity") or {}
    return found


def verdict_fields(result: Doc) -> tuple[tuple[str, str], ...]:
    """``("validity", "valid")``, or nothing for a result without the section."""
    text = verdict_text(_section(result))
    return (("validity", text),) if text else ()


def percentile_key_of(field: str) -> str | None:
    """The ``validity.percentiles`` key of a latency table's field (``p99_9``: ``99.9``,
    ``p:99.5``: ``99.5``); None for min, max, mean and stdev."""
    if field.startswith("p:"):
        return field[2:]
    if field.startswith("p") and field[1:2].isdigit():
        return field[1:].replace("_", ".")
    return None


def plus_minus(result: Doc, field: str) -> str:
    """`` ±3 %`` after a latency percentile, or ``""`` (no interval, or an unbounded one)."""
    key = percentile_key_of(field)
    found = (_section(result).get("percentiles") or {}).get(key) if key else None
    relative = (found or {}).get("relative")
    if relative is None:
        return ""
    percent = 100 * float(relative)
    return f" ±{percent:.0f} %" if percent >= 1 else f" ±{percent:.1f} %"


def latency_notes(result: Doc) -> tuple[str, ...]:
    """Under the latency table: what ± means, what the samples could not tell, and the
    tests' notes (intervals correlated: the ± widened for it)."""
    section = _section(result)
    found: Mapping[str, Mapping[str, Any]] = section.get("percentiles") or {}
    if not found:
        return ()
    notes = [CI_NOTE]
    if any(p.get("relative") is None for p in found.values()):
        notes.append(UNBOUNDED_NOTE)
    if (section.get("arrivals") or {}).get("tail_reliable") is False:
        notes.append(TAIL_NOTE)
    shown = verdict_text(section) or ""
    # The tests' own notes (correlated intervals, counts not tested), less the one the
    # verdict line already says (not enough intervals).
    notes += [str(n) for n in section.get("notes") or () if str(n) not in shown]
    return tuple(notes)
