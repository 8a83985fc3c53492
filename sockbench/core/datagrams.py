"""Exact accounting of datagrams: every one sent is in flight, received or lost.

Each client owns its socket and numbers its datagrams 0, 1, 2, ... in the first
8 bytes. The ledger keeps one state byte per measured sequence number, so a reply
is classified exactly: first reply (received, possibly reordered), a second one
(duplicate), one after its deadline (late: it stays lost, so a datagram is never
counted twice), or a number never sent (unknown). The identity
``sent == received + lost + unfinished + in_flight`` holds at every moment by
construction; ``unfinished`` is only ever non-zero when a shortened ``--drain``
ended the run before the datagrams' deadlines. A datagram that answers no request
(a number never sent, or too short to carry one) is ``unsolicited``: counted apart,
outside the identity, never as a request's error.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from sockbench.core.pickling import PicklesByFields

SEQ = struct.Struct("!Q")
SEQ_SIZE = SEQ.size
# States are kept for this many datagrams behind the oldest one in flight; a reply
# older than that is counted late (it cannot be told from a duplicate any more).
HISTORY = 1 << 16

_IN_FLIGHT, _RECEIVED, _LOST = 0, 1, 2

# What on_reply says about a reply.
RECEIVED, REORDERED, DUPLICATE, LATE, UNKNOWN, WARMUP = range(6)


@dataclass(frozen=True)
class DatagramCounts(PicklesByFields):
    sent: int = 0
    received: int = 0
    lost: int = 0
    duplicates: int = 0
    reordered: int = 0
    late: int = 0
    in_flight: int = 0
    unfinished: int = 0
    # Datagrams that answer no request: a number never sent, or too short to carry one
    # (a target that sends more than it is asked). Not a request's outcome, so outside
    # the identity, and never a request's error.
    unsolicited: int = 0
    # Datagrams the kernel dropped at the generator's own sockets, their receive buffers
    # full, over the sockets' life (warm-up and drain too): replies that came faster than
    # the generator read them. Outside the identity: each is some request's loss (or a
    # duplicate's), but which one is not known (sockbench.core.socket_drops).
    generator_drops: int = 0

    def __add__(self, other: DatagramCounts) -> DatagramCounts:
        return DatagramCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )

    @property
    def balanced(self) -> bool:
        return self.sent == self.received + self.lost + self.unfinished + self.in_flight

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class DatagramLedger:
    """One client's sequence numbers, from the start of measurement on.

    Datagrams numbered below ``first_seq`` belong to the warm-up: their replies are
    ignored, so warm-up never leaks into the measured counts. States are kept from
    ``_base`` on only: the prefix older than ``HISTORY`` datagrams behind the oldest
    in flight is dropped, so memory follows what is in flight, not what was sent.
    """

    __slots__ = (
        "_base",
        "_pending",
        "_state",
        "duplicates",
        "first_seq",
        "highest",
        "late",
        "lost",
        "received",
        "reordered",
        "sent",
        "timeout_ns",
        "unfinished",
    )

    def __init__(self, timeout_ns: int, first_seq: int = 0) -> None:
        self.timeout_ns = timeout_ns
        self.first_seq = first_seq
        self._base = first_seq  # the sequence number of _state[0]
        self._state = bytearray()
        self._pending: dict[int, int] = {}  # seq -> deadline, in send order
        self.received = self.lost = self.duplicates = self.reordered = self.late = 0
        self.sent = self.unfinished = 0
        self.highest = -1

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def on_send(self, seq: int, now_ns: int) -> None:
        """Record datagram ``seq`` as sent at ``now_ns``; sequence numbers must be consecutive."""
        if seq != self.next_seq:
            raise ValueError(f"sequence {seq} sent out of order (expected {self.next_seq})")
        self._state.append(_IN_FLIGHT)
        self._pending[seq] = now_ns + self.timeout_ns
        self.sent += 1
        if len(self._state) > 2 * HISTORY:
            self._trim()

    @property
    def next_seq(self) -> int:
        return self._base + len(self._state)

    def _trim(self) -> None:
        oldest = next(iter(self._pending), self.next_seq)
        drop = oldest - HISTORY - self._base
        if drop > 0:
            del self._state[:drop]
            self._base += drop

    def on_reply(self, seq: int) -> int:
        """Classify a reply carrying ``seq``; returns one of the module's outcome constants."""
        if seq < self.first_seq:
            return WARMUP
        index = seq - self._base
        if index >= len(self._state):
            return UNKNOWN
        if index < 0:
            self.late += 1  # answered or lost long ago: a reply now is late either way
            return LATE
        state = self._state[index]
        if state == _RECEIVED:
            self.duplicates += 1
            return DUPLICATE
        if state == _LOST:
            self.late += 1
            return LATE
        self._state[index] = _RECEIVED
        del self._pending[seq]
        self.received += 1
        if seq < self.highest:
            self.reordered += 1
            return REORDERED
        self.highest = seq
        return RECEIVED

    def expire(self, now_ns: int, forget: Callable[[int], None] | None = None) -> int:
        """Mark every datagram whose deadline has passed as lost; returns how many.

        ``forget(seq)`` is called for each, so a caller can drop what it kept about it.
        """
        expired = 0
        pending = self._pending
        while pending:
            seq = next(iter(pending))
            if pending[seq] > now_ns:
                break
            del pending[seq]
            self._state[seq - self._base] = _LOST
            if forget is not None:
                forget(seq)
            expired += 1
        self.lost += expired
        return expired

    def unsend(self, seq: int) -> None:
        """The send of ``seq`` (the newest) failed: it never left, so it is not counted sent."""
        if seq != self.next_seq - 1 or seq not in self._pending:
            raise ValueError(f"only the newest datagram in flight can be unsent, not {seq}")
        del self._pending[seq]
        self._state[seq - self._base] = _LOST  # a reply to it can only be late
        self.sent -= 1

    def abandon(
        self, overdue: Callable[[int], bool], forget: Callable[[int], None] | None = None
    ) -> int:
        """The drain ended: each datagram still in flight is lost if ``overdue(seq)``, else
        unfinished. Returns how many were lost."""
        lost = 0
        for seq in self._pending:
            self._state[seq - self._base] = _LOST
            if overdue(seq):
                lost += 1
            if forget is not None:
                forget(seq)
        self.unfinished += len(self._pending) - lost
        self.lost += lost
        self._pending.clear()
        return lost

    def next_deadline(self) -> int | None:
        """The deadline of the oldest datagram in flight, if any."""
        for seq in self._pending:
            return self._pending[seq]
        return None

    def counts(self) -> DatagramCounts:
        return DatagramCounts(
            sent=self.sent,
            received=self.received,
            lost=self.lost,
            duplicates=self.duplicates,
            reordered=self.reordered,
            late=self.late,
            in_flight=self.in_flight,
            unfinished=self.unfinished,
        )
