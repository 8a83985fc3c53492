"""What a target's error replies said: its own reason, counted by text (pure).

A well-framed error reply (Redis ``-ERR max number of clients reached``, memcached
``SERVER_ERROR out of memory``, a plugin's ``error_reply``) fails its request as
``protocol_error``, which says that the target refused and not why. Past the knee the
why is the finding: a redis at ``maxclients`` and a redis out of memory read the same
count. So each one's first line is kept with its count, beside the error kinds.

The trade-off: a text per reply would let a target that puts a counter or a key in its
errors grow the table without end, so a worker keeps the first ``MAX_TEXTS`` distinct
texts, each cut to ``TEXT_BYTES``, and counts the rest under :data:`OTHER`; merged, the
most frequent are kept. Only the error path pays (a copy of at most ``TEXT_BYTES``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

#: Bytes of an error reply kept: a reason's first line fits.
TEXT_BYTES = 120
#: Distinct texts kept, per worker and merged; the others count under ``OTHER``.
MAX_TEXTS = 8
OTHER = "(other texts)"


def error_text(reply: bytes) -> str:
    """An error reply's first line, as text: ``-ERR max number of clients reached``."""
    line = reply[:TEXT_BYTES].split(b"\n", 1)[0].rstrip(b"\r").strip()
    return line.decode("utf-8", "replace") or "(empty)"


def count(texts: Counter[str], reply: bytes) -> None:
    """Count ``reply`` under its text, or under :data:`OTHER` once ``MAX_TEXTS`` are held."""
    text = error_text(reply)
    if text in texts or len(texts) < MAX_TEXTS:
        texts[text] += 1
    else:
        texts[OTHER] += 1


def merged(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Workers' counts as one, the ``MAX_TEXTS`` most frequent kept (ties: by text), the
    rest under :data:`OTHER`; the total is kept exactly."""
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    other = total.pop(OTHER, 0)
    ranked = sorted(total.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:MAX_TEXTS])
    other += sum(n for _, n in ranked[MAX_TEXTS:])
    if other:
        kept[OTHER] = other
    return kept
