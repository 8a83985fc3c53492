"""What the engine tells a progress view once per interval (a value, no I/O, pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from sockbench.core.units import format_us

if TYPE_CHECKING:
    from sockbench.core.intervals import IntervalRow


#: The fields of a :class:`Tick` that --metrics-port reads and a jsonl line leaves out.
EXPORTED = ("row", "server_cpu_percent", "generator_cpu_percent", "by_node")
#: Fields only a warm-up or a drain tick sets: a jsonl line (a measured interval) leaves
#: them out.
OTHER_PHASES_ONLY = ("settling", "drain")


@dataclass(frozen=True)
class DrainProgress:
    """Where the drain stands: the window's requests that ended since the window did, and
    those that have not yet.

    Past the knee the drain is the slow part of a run (up to ``--drain``, by default
    ``--timeout``): these numbers say it is not stuck, and how much it waits for.
    ``in_flight`` were sent and are unanswered; ``unsent`` were due in the open-loop
    window and wait for a free slot (None where it is not counted: a closed loop, Poisson
    arrivals, whose count would take a walk through every due time); ``ends_in_s``: the
    drain's end at the latest. ``warmup_unsent``: requests due in the warm-up and not yet
    sent, counted as ``unsent`` is: a generator behind its schedule sends them first, so
    while they last the window's requests wait and nothing of the window is answered.

    A stream's drain (``streams``) answers no request: it waits for the server's counts
    (the sink's of what it read, the source's of what it sent; a datagram stream first
    lets its last datagrams land). ``answered`` are then the clients whose count came (or
    that gave up), ``in_flight`` those it still waits for.
    """

    answered: int
    failed: int
    in_flight: int
    unsent: int | None
    ends_in_s: float
    warmup_unsent: int | None = None
    streams: bool = False

    def __add__(self, other: DrainProgress) -> DrainProgress:
        """Two workers' progress as one: counts add up, the later end holds."""
        return DrainProgress(
            answered=self.answered + other.answered,
            failed=self.failed + other.failed,
            in_flight=self.in_flight + other.in_flight,
            unsent=_sum(self.unsent, other.unsent),
            ends_in_s=max(self.ends_in_s, other.ends_in_s),
            warmup_unsent=_sum(self.warmup_unsent, other.warmup_unsent),
            streams=self.streams or other.streams,
        )

    def text(self) -> str:
        """``answered 2,100  failed 0  in flight 100  not yet sent 19,900  at most 8 s
        more``, as a progress line and the live view say it; while the warm-up's backlog
        goes out, ``not yet sent 300,000 and 12,000 of the warm-up's, sent first``; a
        stream's, ``server's counts in for 3 of 4 clients  at most 8 s more``."""
        # To a tenth of a second: ticks come on the interval, a few ms after its boundary.
        left_s = round(self.ends_in_s, 1)
        left = f"at most {format_us(left_s * 1e6)} more" if left_s > 0 else "ending"
        if self.streams:
            clients = self.answered + self.in_flight
            return f"server's counts in for {self.answered:,} of {clients:,} clients  {left}"
        unsent = f"  not yet sent {self.unsent:,}" if self.unsent is not None else ""
        if unsent and self.warmup_unsent:
            unsent += f" and {self.warmup_unsent:,} of the warm-up's, sent first"
        return (
            f"answered {self.answered:,}  failed {self.failed:,}  in flight {self.in_flight:,}"
            f"{unsent}  {left}"
        )

    def ended(self) -> DrainProgress:
        """A worker's last progress once it reported: nothing of it is open any more (a
        stream's clients all have their count, or gave up)."""
        return replace(
            self,
            answered=self.answered + self.in_flight if self.streams else self.answered,
            in_flight=0,
            unsent=0 if self.unsent is not None else None,
            warmup_unsent=0 if self.warmup_unsent is not None else None,
        )


def _sum(a: int | None, b: int | None) -> int | None:
    """Two workers' counts: unknown if either is."""
    return None if a is None or b is None else a + b


@dataclass(frozen=True)
class Tick:
    """One progress update. Counts are for the measurement window so far.

    ``phase`` is ``"ramp"``, ``"warmup"``, ``"measuring"`` or ``"draining"`` (after the
    window, with ``drain``); ``elapsed_s``/``remaining_s`` count the whole run after
    connecting (warm-up plus measurement; in the drain, until its end at the latest).
    """

    phase: str
    elapsed_s: float
    remaining_s: float
    requests: int
    rps: float
    p99_us: int
    errors: int
    connections: int
    # Protocols with several kinds of request: (kind, req/s, p99 µs) of the last interval.
    by_kind: tuple[tuple[str, float, int], ...] = ()
    # --mode stream: the last interval's bytes written and its sender's and receiver's
    # bits/s (the receiver's None where it is not known per interval); None otherwise.
    sent_bytes: int | None = None
    sent_bps: float | None = None
    received_bps: float | None = None
    read_bytes: int | None = None  # --reverse, --bidir: what the clients read
    read_bps: float | None = None
    # Key-value runs: the keys the last interval's requests that read keys found and did
    # not find (the row's hits and misses); None where no kind of request reads keys.
    hits: int | None = None
    misses: int | None = None
    # The last interval's row, merged over the workers, as the result keeps it (its
    # histogram included): what --metrics-port exports (core/live_metrics.py); None
    # before the window.
    row: IntervalRow | None = None
    # The latest 0.5 s samples of the server's and the generator's CPU (100: one core), as
    # the result's server_resources and generator average them; None where not sampled.
    server_cpu_percent: float | None = None
    generator_cpu_percent: float | None = None
    # --cluster: the last interval's rows merged per node, (node id, row); () locally.
    by_node: tuple[tuple[str, IntervalRow], ...] = ()
    # --warmup auto: a warm-up tick with its last interval's ``rps`` and ``p99_us`` (counted
    # nowhere): True while the rule waits for them to settle, False once it has (the
    # window starts on a coming boundary); None for a tick without them.
    settling: bool | None = None
    # A "draining" tick's numbers; None for every other phase.
    drain: DrainProgress | None = None

    def numbers(self) -> dict[str, Any]:
        """The tick's fields but those only --metrics-port reads (:data:`EXPORTED`): a jsonl
        interval line's keys (cli/lines.py)."""
        found = asdict(replace(self, row=None, by_node=()))
        return {k: v for k, v in found.items() if k not in EXPORTED + OTHER_PHASES_ONLY}

    def shown_s(self, window_after_s: float | None) -> float:
        """The run's time a progress line gives this tick: when it came (``elapsed_s``),
        but a measured interval that came after the window closed (``remaining_s`` 0) at
        its own end, ``window_after_s`` (the ramp and warm-up before the window; None: not
        known) plus its row's ``t``. A stream's last row comes once the server's counts
        are in, after the window (its drain, :class:`DrainProgress`), and is still the
        window's: ``[   2.0 s] measuring`` in a 2 s window, not the ``3.0 s`` it came at.
        (``--warmup auto`` starts the window before ``window_after_s``, its maximum: the
        earlier of the two is shown.)"""
        late = self.phase == "measuring" and self.row is not None and self.remaining_s <= 0
        if not late or self.row is None or window_after_s is None:
            return self.elapsed_s
        return min(self.elapsed_s, window_after_s + self.row.t)

    @property
    def phase_name(self) -> str:
        """The phase as a progress line and the live view name it (``warm-up``)."""
        return "warm-up" if self.phase == "warmup" else self.phase

    @property
    def warmup_state(self) -> str:
        """What a --warmup auto tick's numbers are: ``not counted (settling)``."""
        return f"not counted ({'settling' if self.settling else 'settled'})"

    @property
    def interval(self) -> dict[str, Any]:
        """The last interval as a result's interval row keeps it (``rps``, ``p99`` and
        ``by_kind``; docs/result.md), for reading through the metric registry like the
        rows of a result (``metric("rps").per_interval(tick.interval)``). ``requests``
        and ``errors`` count the window so far, not the interval, so they are not in it."""
        return {
            "rps": self.rps,
            "p99": self.p99_us,
            "by_kind": {kind: {"rps": rps, "p99": p99} for kind, rps, p99 in self.by_kind},
        }


ProgressFn = Callable[[Tick], None]
