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

``--reverse`` and ``--bidir`` add the other direction: what each client *read* from the
server (:meth:`StreamMeter.read`), before, inside and after the window, counted as it
arrives (iperf3's receiver counts by arrival too), and, at the end, what the server
said it sent (:meth:`StreamMeter.source_finished`). :class:`ReadCount` holds one
client's and its identity: ``server_sent = before + window + after + lost``, where
``after`` is what was in flight when the window ended, and ``lost`` is 0 over a
stream (exactly) and what the network dropped over datagrams.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sockbench.core.sink_report import window_received

if TYPE_CHECKING:
    from sockbench.core.intervals import IntervalRow
    from sockbench.core.records.counts import PerClient, StreamReverse, StreamSide


@dataclass(frozen=True)
class StreamCut:
    """What one interval moved: bytes written in it, bytes the peer took in it (None:
    not known while the run goes), the messages (``--payload`` units, or datagrams), and
    the bytes read from the server in it (None: the run reads nothing)."""

    sent_bytes: int
    received_bytes: int | None
    messages: int
    read_bytes: int | None = None


@dataclass(frozen=True)
class ReadCount:
    """What one client read from a source: before, inside and after the window (in flight
    at its end), and what the source said it sent (None: it did not say)."""

    before: int = 0
    window: int = 0
    after: int = 0
    server_sent: int | None = None
    # Datagrams the kernel dropped at the client's socket, its buffer full, over its life
    # (sockbench.core.socket_drops): part of ``lost``, and the generator's, not the path's.
    dropped: int = 0

    @property
    def lost(self) -> int | None:
        """Sent but never read: 0 over a stream that ended cleanly; None: not known."""
        if self.server_sent is None:
            return None
        return self.server_sent - (self.before + self.window + self.after)


BEFORE, INSIDE, AFTER = 0, 1, 2  # a read's phase: the warm-up, the window, in flight after it


def phase_of(now_ns: int, start_ns: int, end_ns: int) -> int:
    """The phase of a read at ``now_ns`` of a window ``[start_ns, end_ns)``."""
    if now_ns < start_ns:
        return BEFORE
    return INSIDE if now_ns < end_ns else AFTER


class StreamMeter:
    """One worker's stream clients: bytes written before and inside the window, what each
    peer took of the window's bytes so far, and datagrams sent inside it (UDP).

    Messages are whole ``payload``\\ s of the bytes written (a TCP stream has no message
    boundaries), or, once any datagram was counted, datagrams.
    """

    __slots__ = (
        "_cut_messages",
        "_cut_read",
        "_cut_received",
        "_cut_sent",
        "_received_known",
        "before",
        "datagrams",
        "dropped",
        "finished",
        "payload",
        "reads",
        "received",
        "sending",
        "sent",
        "server_sent",
    )

    def __init__(
        self, clients: int, payload: int, *, reading: bool = False, sending: bool = True
    ) -> None:
        self.payload = max(1, payload)
        self.before = [0] * clients  # written before the window (the warm-up's)
        self.sent = [0] * clients  # written inside the window
        self.received: list[int | None] = [None] * clients  # of ``sent``, what the peer took
        self.finished = [False] * clients  # the receiver's final count is in
        self.datagrams = 0  # UDP: datagrams sent inside the window
        self._cut_sent = self._cut_received = self._cut_messages = self._cut_read = 0
        self._received_known = True
        # --reverse, --bidir: what each client read ([before, window, after]) and what
        # its source said it sent; None when the clients read nothing.
        self.reads: list[list[int]] | None = (
            [[0, 0, 0] for _ in range(clients)] if reading else None
        )
        self.server_sent: list[int | None] = [None] * clients
        self.dropped = [0] * clients  # datagrams the kernel dropped at the client's socket
        self.sending = sending  # False: --reverse, the messages are those read

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

    def read(self, client: int, nbytes: int, phase: int) -> None:
        """``client`` read ``nbytes`` from the server: ``phase`` is :data:`BEFORE`,
        :data:`INSIDE` or :data:`AFTER` the window."""
        assert self.reads is not None
        self.reads[client][phase] += nbytes

    def source_finished(self, client: int, server_sent: int | None, dropped: int = 0) -> None:
        """The source's own count of what it sent ``client`` (None: it did not say), and
        what the kernel dropped at the client's socket (datagrams)."""
        self.server_sent[client] = server_sent
        self.dropped[client] = dropped

    @property
    def read_total(self) -> int | None:
        """What the clients read inside the window so far; None when they read nothing."""
        return None if self.reads is None else sum(r[INSIDE] for r in self.reads)

    def read_counts(self) -> tuple[ReadCount, ...]:
        """Each client's reading, for the result; () when the clients read nothing."""
        if self.reads is None:
            return ()
        rows = zip(self.reads, self.server_sent, self.dropped, strict=True)
        return tuple(ReadCount(b, w, a, sent, dropped) for (b, w, a), sent, dropped in rows)

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
        """Messages written inside the window: datagrams, or whole payloads of the bytes;
        with ``--reverse``, whole payloads of the bytes read."""
        if not self.sending:
            return (self.read_total or 0) // self.payload
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
        read = self.read_total
        read_bytes = None if read is None else read - self._cut_read
        row = StreamCut(
            sent - self._cut_sent, cut_received, messages - self._cut_messages, read_bytes
        )
        self._cut_sent, self._cut_messages, self._cut_read = sent, messages, read or 0
        return row


def settled(rows: Sequence[IntervalRow]) -> tuple[IntervalRow, ...]:
    """The rows as a result keeps them: the received side only where every row has it
    (a side known in some rows only would not add up to the receiver's total)."""
    if all(row.received_bytes is not None for row in rows):
        return tuple(rows)
    return tuple(replace(row, received_bytes=None) for row in rows)


def side_summary(nbytes: int, seconds: float, payload: int) -> StreamSide:
    """One side of a stream in a result: bytes, the seconds they took, bits/s, msg/s."""
    return {
        "bytes": nbytes,
        "seconds": round(seconds, 6),
        "bps": round(nbytes * 8 / seconds, 3),
        "messages_per_s": round(nbytes / payload / seconds, 3),
    }


def per_client_spread(
    nbytes: Sequence[int], seconds: float, payload: int
) -> tuple[PerClient, PerClient]:
    """How one side's rate spreads over its streams: ``{min, median, max}`` of bits/s and
    of messages/s, each stream's bytes over ``seconds`` (the result's: the window; the
    report's received spread: the receiver's, run to its last report, so one stream's
    figures are its receiver line's)."""
    rates = sorted(n * 8 / seconds for n in nbytes) if seconds > 0 else [0.0] * len(nbytes)
    if not rates:
        rates = [0.0]
    median = statistics.median(rates)
    low, high = rates[0], rates[-1]
    bps: PerClient = {"min": round(low, 3), "median": round(median, 3), "max": round(high, 3)}
    size = max(1, payload)
    mps: PerClient = {
        "min": round(low / 8 / size, 3),
        "median": round(median / 8 / size, 3),
        "max": round(high / 8 / size, 3),
    }
    return bps, mps


def read_summary(reads: Sequence[ReadCount], seconds: float, payload: int) -> StreamReverse:
    """The result's ``stream.reverse``: what the clients read from the server in the
    window (``receiver``, iperf3's RX-C), before and after it, and what the server said
    it sent (null where a stream's server did not say: an external target), with the
    identity ``server_sent = before + window + after + lost`` per stream and in total
    (``lost`` 0 over streams; what the network dropped over datagrams)."""
    known = [r for r in reads if r.server_sent is not None]
    everyone = len(known) == len(reads)
    return {
        "receiver": side_summary(sum(r.window for r in reads), seconds, payload),
        "before_bytes": sum(r.before for r in reads),
        "after_bytes": sum(r.after for r in reads),
        "server_sent_bytes": sum(r.server_sent or 0 for r in known) if everyone else None,
        "lost_bytes": sum(r.lost or 0 for r in known) if everyone else None,
        "generator_drops": sum(r.dropped for r in reads),
        "streams": len(reads),
        "streams_reported": len(known),
        "per_stream": [
            {
                "read_bytes": r.window,
                "before_bytes": r.before,
                "after_bytes": r.after,
                "server_sent_bytes": r.server_sent,
            }
            for r in reads
        ],
    }
