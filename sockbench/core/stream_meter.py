"""``--mode stream``'s running counts and its time series: what each interval moved (pure).

A stream has no requests to count, so its interval rows count bytes: the bytes its
clients wrote inside the window (the sender's side) and, where the peer's count can be
read while the run goes, the bytes the peer took (the receiver's side: TCP's
acknowledged bytes, ``TCP_INFO``). Each client updates its own counts as it goes
(:meth:`StreamMeter.wrote`, :meth:`StreamMeter.took`) and, at its end, the receiver's
final count (:meth:`StreamMeter.finish`: the sink's report, else what TCP acknowledged).
Each tick :meth:`StreamMeter.cut` hands over what the interval added: differences of
running totals, so the rows add up to the totals exactly, whenever the tick falls.

The receiver's side is in the rows only where it was known at every cut (every
client's peer count could be read: TCP) and the final counts did not fall below
what was read during the run (:func:`settled`); a UDP or Unix stream's sink counts
only at the end, and a last row holding the whole window's received bytes would be
the bug this module replaced (every row 0, then everything at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sockbench.core.sink_report import window_received

if TYPE_CHECKING:
    from sockbench.core.intervals import IntervalRow


@dataclass(frozen=True)
class StreamCut:
    """What one interval moved: bytes written in it, bytes the peer took in it (None:
    not known while the run goes), and the messages (``--payload`` units, or datagrams)."""

    sent_bytes: int
    received_bytes: int | None
    messages: int


class StreamMeter:
    """One worker's stream clients: bytes written before and inside the window, what each
    peer took of the window's bytes so far, and datagrams sent inside it (UDP).

    Messages are whole ``payload``\\ s of the bytes written (a TCP stream has no message
    boundaries), or, once any datagram was counted, datagrams.
    """

    __slots__ = (
        "_cut_messages",
        "_cut_received",
        "_cut_sent",
        "_received_known",
        "before",
        "datagrams",
        "finished",
        "payload",
        "received",
        "sent",
    )

    def __init__(self, clients: int, payload: int) -> None:
        self.payload = max(1, payload)
        self.before = [0] * clients  # written before the window (the warm-up's)
        self.sent = [0] * clients  # written inside the window
        self.received: list[int | None] = [None] * clients  # of ``sent``, what the peer took
        self.finished = [False] * clients  # the receiver's final count is in
        self.datagrams = 0  # UDP: datagrams sent inside the window
        self._cut_sent = self._cut_received = self._cut_messages = 0
        self._received_known = True

    def wrote(self, client: int, nbytes: int, in_window: bool) -> None:
        """``client`` wrote ``nbytes`` (inside the window, or before it)."""
        if in_window:
            self.sent[client] += nbytes
        else:
            self.before[client] += nbytes

    def sent_datagram(self, client: int, nbytes: int) -> None:
        """``client`` sent one datagram of ``nbytes`` inside the window."""
        self.sent[client] += nbytes
        self.datagrams += 1

    def took(self, client: int, taken: int | None) -> None:
        """``client``'s peer has taken ``taken`` bytes of the connection so far (its
        warm-up's first; None: it cannot be read); ignored once the client finished."""
        if self.finished[client]:
            return
        self.received[client] = (
            None
            if taken is None
            else window_received(taken, self.before[client], self.sent[client])
        )

    def finish(self, client: int, received: int | None) -> None:
        """The receiver's final count of ``client``'s window bytes (None: not reported)."""
        self.received[client] = received
        self.finished[client] = True

    @property
    def sent_total(self) -> int:
        return sum(self.sent)

    @property
    def received_total(self) -> int | None:
        """What every peer took of the window's bytes so far; None when one is unknown."""
        known = [r for r in self.received if r is not None]
        return sum(known) if len(known) == len(self.received) else None

    @property
    def messages(self) -> int:
        """Messages written inside the window: datagrams, or whole payloads of the bytes."""
        return self.datagrams if self.datagrams else self.sent_total // self.payload

    def cut(self) -> StreamCut:
        """What was moved since the last cut. The received side is None from the first
        cut at which it was unknown, or would have gone down, on."""
        sent, messages, received = self.sent_total, self.messages, self.received_total
        cut_received: int | None = None
        if received is None or received < self._cut_received:
            self._received_known = False
        elif self._received_known:
            cut_received = received - self._cut_received
            self._cut_received = received
        row = StreamCut(sent - self._cut_sent, cut_received, messages - self._cut_messages)
        self._cut_sent, self._cut_messages = sent, messages
        return row


def settled(rows: Sequence[IntervalRow]) -> tuple[IntervalRow, ...]:
    """The rows as a result keeps them: the received side only where every row has it
    (a side known in some rows only would not add up to the receiver's total)."""
    if all(row.received_bytes is not None for row in rows):
        return tuple(rows)
    return tuple(replace(row, received_bytes=None) for row in rows)
