"""What a worker measured, in a picklable form that merges exactly.

The worker boundary is deliberately narrow: counters and *encoded* histograms go
out, nothing else. Histograms merge by adding counts, so percentiles of the merge
are exactly those of one histogram holding every sample.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sockbench.core import error_replies
from sockbench.core.datagrams import DatagramCounts
from sockbench.core.histogram import encode, merge, new_histogram
from sockbench.core.intervals import IntervalRow, merge_rows, sum_known
from sockbench.core.stream_meter import ReadCount


@dataclass
class ConnectSpan:
    """When the clients came up: the first client's first attempt, and the moment the last
    client's first connection was established (monotonic ns; 0 while none)."""

    first_ns: int = 0
    last_ns: int = 0

    def attempt(self, now_ns: int) -> None:
        if not self.first_ns or now_ns < self.first_ns:
            self.first_ns = now_ns

    def up(self, now_ns: int) -> None:
        self.last_ns = max(self.last_ns, now_ns)

    @staticmethod
    def merged(spans: list[tuple[int, int]]) -> tuple[int, int]:
        firsts = [f for f, _ in spans if f]
        return (min(firsts) if firsts else 0, max((last for _, last in spans), default=0))


@dataclass(frozen=True)
class Tally:
    """Counters and encoded histograms of one worker (or of several, merged)."""

    requests: int  # measured requests answered (in the window or its drain)
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
    client_bytes: tuple[int, ...] = ()  # stream mode: bytes each client sent in the window
    # ...and how many of them its sink reported received (None: not reported).
    client_received: tuple[int | None, ...] = ()
    # --reverse, --bidir: what each client read from the server, and what it sent.
    client_reads: tuple[ReadCount, ...] = ()
    intervals: tuple[IntervalRow, ...] = ()
    # Protocols with several kinds of request: encoded latencies, counts and errors per kind.
    latency_by_kind: dict[str, str] = field(default_factory=dict)
    requests_by_kind: dict[str, int] = field(default_factory=dict)
    errors_by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    # Kinds that read keys (GET): (hits, misses) of their completed requests, per kind.
    lookups_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Requests issued in the window (None where requests are not exchanges: stream mode),
    # the measured ones that failed, by kind, and those an interrupted run left open:
    # issued == requests + sum(failed.values()) + in_flight.
    issued: int | None = None
    failed: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    drain_ns: int = 0  # how long the drain after the window took (the longest worker's)
    # The busiest worker's loop: % of the run it was not idle (waiting or spinning).
    loop_busy_percent: float = 0.0
    # The clients' first connects: (first attempt, last one up), monotonic ns; 0: none.
    connect_span: tuple[int, int] = (0, 0)
    # Replies received inside the window (what the target served there), of them those
    # to warm-up requests (a backlog from the warm-up), and, open loop, the requests sent
    # inside it (offered); the drain's row: what ended after the window (None: nothing).
    served: int = 0
    served_from_warmup: int = 0
    offered: int = 0
    drain_interval: IntervalRow | None = None
    # Why a worker stopped early on its own: a protocol's fault, one line each.
    faults: tuple[str, ...] = ()
    # TLS handshakes that succeeded: "full" and "resumed" (core/tls.py); empty: no TLS.
    handshakes: dict[str, int] = field(default_factory=dict)
    # ...and what they agreed on, by ``version cipher [alpn PROTOCOL]`` (core/tls.py).
    negotiated: dict[str, int] = field(default_factory=dict)
    # What measured requests' error replies said, by text (core/error_replies.py).
    error_replies: dict[str, int] = field(default_factory=dict)
    # Clients with a request of the window answered (None: not counted, not streams'
    # request/reply clients).
    clients_served: int | None = None
    # Connections the target ended with nothing in flight, in the window (no error).
    closed_idle: int = 0

    @property
    def request_reply(self) -> bool:
        """Whether requests are request/reply exchanges, each issued in the window and
        accounted for (answered, failed or in flight): False for ``--mode stream``, whose
        sinks report messages received and nothing is issued (``issued`` is None)."""
        return self.issued is not None

    @property
    def drained(self) -> int:
        """Measured requests answered after the window, in the drain."""
        return self.requests - (self.served - self.served_from_warmup)

    @classmethod
    def empty(cls, *, datagrams: bool = False) -> Tally:
        """Nothing measured: what a run that never reached its window reports."""
        nothing = encode(new_histogram())
        return cls(
            requests=0, bytes_sent=0, bytes_received=0, connections=0, errors={},
            warmup_errors={}, latency=nothing, connect=nothing,
            datagrams=DatagramCounts() if datagrams else None,
        )  # fmt: skip

    @property
    def balanced(self) -> bool:
        """Whether every request issued in the window is accounted for exactly."""
        if not self.request_reply:
            return True
        return self.issued == self.requests + sum(self.failed.values()) + self.in_flight


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
        client_received=tuple(b for t in tallies for b in t.client_received),
        client_reads=tuple(r for t in tallies for r in t.client_reads),
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
        lookups_by_kind={
            kind: (
                sum(t.lookups_by_kind[kind][0] for t in tallies if kind in t.lookups_by_kind),
                sum(t.lookups_by_kind[kind][1] for t in tallies if kind in t.lookups_by_kind),
            )
            for kind in dict.fromkeys(k for t in tallies for k in t.lookups_by_kind)
        },
        issued=sum_known([t.issued for t in tallies]),  # None unless every one is request/reply
        failed=_add_counts([t.failed for t in tallies]),
        in_flight=sum(t.in_flight for t in tallies),
        drain_ns=max(t.drain_ns for t in tallies),
        loop_busy_percent=max(t.loop_busy_percent for t in tallies),
        connect_span=ConnectSpan.merged([t.connect_span for t in tallies]),
        served=sum(t.served for t in tallies),
        served_from_warmup=sum(t.served_from_warmup for t in tallies),
        offered=sum(t.offered for t in tallies),
        drain_interval=_merged_row([t.drain_interval for t in tallies]),
        faults=tuple(fault for t in tallies for fault in t.faults),
        handshakes=_add_counts([t.handshakes for t in tallies]),
        negotiated=_add_counts([t.negotiated for t in tallies]),
        error_replies=error_replies.merged(t.error_replies for t in tallies),
        clients_served=sum_known([t.clients_served for t in tallies]),
        closed_idle=sum(t.closed_idle for t in tallies),
    )


def _merged_row(rows: list[IntervalRow | None]) -> IntervalRow | None:
    """Workers' drain rows as one (they start together, at the window's end)."""
    known = [row for row in rows if row is not None]
    return merge_rows([[row] for row in known])[0] if known else None


def _merged(encoded: list[str]) -> str:
    if len(encoded) == 1:
        return encoded[0]
    return encode(merge(encoded))
