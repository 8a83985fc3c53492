"""What a worker measured, in a picklable form that merges exactly.

The worker boundary is deliberately narrow: counters and *encoded* histograms go
out, nothing else. Histograms merge by adding counts, so percentiles of the merge
are exactly those of one histogram holding every sample.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sockbench.core.datagrams import DatagramCounts
from sockbench.core.histogram import encode, merge
from sockbench.core.intervals import IntervalRow, merge_rows


@dataclass(frozen=True)
class Tally:
    """Counters and encoded histograms of one worker (or of several, merged)."""

    requests: int
    bytes_sent: int
    bytes_received: int
    connections: int
    errors: dict[str, int]
    warmup_errors: dict[str, int]
    latency: str
    connect: str
    clamped: int = 0
    datagrams: DatagramCounts | None = None
    extra_histograms: dict[str, str] = field(default_factory=dict)
    client_bytes: tuple[int, ...] = ()  # stream mode: bytes per client in the window
    intervals: tuple[IntervalRow, ...] = ()
    # Protocols with several kinds of request: encoded latencies, counts and errors per kind.
    latency_by_kind: dict[str, str] = field(default_factory=dict)
    requests_by_kind: dict[str, int] = field(default_factory=dict)
    errors_by_kind: dict[str, dict[str, int]] = field(default_factory=dict)


def _add_counts(dicts: list[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for d in dicts:
        total.update(d)
    return dict(sorted(total.items()))


def merge_tallies(tallies: list[Tally]) -> Tally:
    if not tallies:
        raise ValueError("nothing to merge")
    datagrams = [t.datagrams for t in tallies if t.datagrams is not None]
    names = sorted({name for t in tallies for name in t.extra_histograms})
    kinds = list(dict.fromkeys(kind for t in tallies for kind in t.latency_by_kind))
    return Tally(
        requests=sum(t.requests for t in tallies),
        bytes_sent=sum(t.bytes_sent for t in tallies),
        bytes_received=sum(t.bytes_received for t in tallies),
        connections=sum(t.connections for t in tallies),
        errors=_add_counts([t.errors for t in tallies]),
        warmup_errors=_add_counts([t.warmup_errors for t in tallies]),
        latency=_merged([t.latency for t in tallies]),
        connect=_merged([t.connect for t in tallies]),
        clamped=sum(t.clamped for t in tallies),
        datagrams=sum(datagrams[1:], datagrams[0]) if datagrams else None,
        extra_histograms={
            name: _merged([t.extra_histograms[name] for t in tallies if name in t.extra_histograms])
            for name in names
        },
        client_bytes=tuple(b for t in tallies for b in t.client_bytes),
        intervals=tuple(merge_rows([t.intervals for t in tallies])),
        latency_by_kind={
            kind: _merged([t.latency_by_kind[kind] for t in tallies if kind in t.latency_by_kind])
            for kind in kinds
        },
        requests_by_kind={
            kind: sum(t.requests_by_kind.get(kind, 0) for t in tallies) for kind in kinds
        },
        errors_by_kind={
            kind: _add_counts([t.errors_by_kind.get(kind, {}) for t in tallies]) for kind in kinds
        },
    )


def _merged(encoded: list[str]) -> str:
    if len(encoded) == 1:
        return encoded[0]
    return encode(merge(encoded))
