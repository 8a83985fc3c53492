"""What a request is and how it ends: the one place that decides what is counted.

Sans-IO, in the manner of h11's ``Connection``: drivers feed in "request issued at
t", "these bytes arrived at t", "datagram seq arrived at t", "time is now t" and
"the connection failed", and the exchange decides the outcome. It reads no clock
and does no I/O, so every rule here is unit-tested with made-up bytes and times.

The outcomes reach a :class:`Sink` (the worker's recorder) as method calls, and the
driver gets back a small int (``OK``, ``RECONNECT``), because the hot path pays per
Python object created: an outcome object per request would cost more than the
``recv`` it describes. The typed facade is the names below, not a class per outcome.

Rules, the same for every client kind:

- **Membership.** :class:`Window` admits a request if its mark (the send in closed
  loop, the due time in open loop) is inside the measurement window and the
  ``--requests`` limit is not reached; before the window it is warm-up (sent, never
  counted); after the window, or past the limit, nothing more is issued.
- **Every measured request ends exactly once**: completed, or failed by kind
  (``mismatch``, ``timeout``, ``closed``, ``reset``, ``lost``, ...), or, when a
  shortened ``--drain`` ends first, ``unfinished``. Only an interrupted run leaves
  some ``in_flight``. So ``issued == completed + sum(failed) + in_flight``.
- **A reply is on time by the clock.** A reply read ``timeout`` or more after its
  send is a timeout (stream) or late (datagram), however it came to be read late.
- **Bytes belong to requests.** A reply longer than the expectation, or bytes with
  no request outstanding, are a ``mismatch`` counted where they happen. A datagram
  stands alone: one that answers no request (a number never sent, too short) is
  ``unsolicited``, counted apart in the datagram counts, not a request's error.
- **A close the reply announced is no error.** A reply whose protocol says the peer
  closes after it (``reply_kind`` with ``CLOSES``: HTTP's ``Connection: close``)
  completes, and the connection is replaced at once. The requests in flight behind it
  were never served (HTTP/1.1: a server that sends ``close`` processes no further
  request on that connection, RFC 9112 §9.6), so they stay in flight and go out again
  on the next connection (:meth:`StreamExchange.resend`), as wrk and browsers do: each
  still ends once, its latency from its mark, its service time from the resend. A reply
  framed by the close (``reply_at_close``: an HTTP body without a length) completes
  when the close comes.
- **A reply fails only the request it answers.** A well-framed error reply of known
  length (``-OOM``, ``SERVER_ERROR``) is that request's ``protocol_error``, and the
  stream stays in step. A malformed reply is its request's ``mismatch`` and leaves the
  stream out of step, so the connection is replaced: the other requests in flight on
  it end ``aborted`` (``timeout`` where their own ``--timeout`` had passed), never as
  the fault of a reply they did not get. A connection error (``reset``, ``closed``)
  ends every request in flight as that error: it hit them all.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import lru_cache
from typing import Any, ClassVar, Final, Protocol

from sockbench.core import datagrams as dg
from sockbench.core.error_replies import TEXT_BYTES
from sockbench.core.expect import Exact, ReplyBuffer, ReplyMatcher, Size
from sockbench.core.protocols.contract import (
    CLOSES,
    ERROR_REPLY,
    KIND_BITS,
    KIND_MASK,
    ProtocolFault,
)

NEVER = 2**63 - 1

# What a driver is told after feeding an exchange (Final: constants in the compiled build).
OK: Final = 0
RECONNECT: Final = 1  # the connection is out of step (mismatch, timeout): replace it

# How a measured request that never completed is counted at the end.
TIMEOUT: Final = "timeout"
UNFINISHED: Final = "unfinished"
LOST: Final = "lost"
MISMATCHED: Final = "mismatch"
PROTOCOL_ERROR: Final = "protocol_error"  # a well-framed error reply (protocols: ERROR_REPLY)
# In flight on a connection replaced because another request's reply put it out of step.
ABORTED: Final = "aborted"
# The peer closed the connection (as engine/io/error_kinds names it): fail() checks
# first whether the close ends a reply (reply_at_close).
PEER_CLOSED = "closed"
PEER_RESET = "reset"
# A connection (not a request) the target did not serve through the window: a request it
# sent before the window was still unanswered at the window's end (answered after it, or
# never), so it issued nothing measured (closed loop) or its measured requests waited
# behind it. An error, not a failed request; once per client.
STARVED = "starved"

# Window.admit: how a request due/sent at some instant counts.
WARMUP, MEASURED, CLOSED = 0, 1, 2


class Sink(Protocol):
    """Where outcomes go: the worker's recorder."""

    def completed(
        self, latency_ns: int, service_ns: int, sent: int, got: int, kind: int = -1, misses: int = 0
    ) -> None:
        """A measured request answered: ``latency_ns`` from its mark (due, or send),
        ``service_ns`` from its send (the same object in closed loop). A protocol with
        kinds of request has it counted under ``kind`` too (an index into its ``kinds``;
        -1: none), and a kind that reads keys with ``misses`` of them not found (the sink
        knows how many each kind reads). One call per reply, or per run of them
        (:meth:`completed_run`): the hot path pays per call."""
        ...

    def completed_run(
        self,
        latency_ns: int,
        service_ns: int,
        sent: int,
        got: int,
        count: int,
        kinds: list[int] | None,
        misses: list[int] | None,
    ) -> None:
        """``count`` measured requests answered together (one write's, one read's), each
        as :meth:`completed` would have it with the same ``latency_ns`` and
        ``service_ns``; ``sent`` and ``got``: their bytes, summed; ``kinds``: each one's
        kind, in order (None: no kinds), and ``misses`` by kind index, the misses of
        that kind's requests summed (None: no kind reads keys)."""
        ...

    def failed(self, kind: str, count: int, at_ns: int) -> None:
        """``count`` measured requests ended as ``kind``."""
        ...

    def error(self, kind: str, at_ns: int) -> None:
        """An error not tied to a measured request (a failed connect, a warm-up request's).

        ``at_ns`` places it: before the window it is a warm-up error.
        """
        ...

    def error_reply(self, reply: bytes) -> None:
        """A measured request failed on an error reply that said ``reply`` (its first
        bytes, at most :data:`~sockbench.core.error_replies.TEXT_BYTES`): the target's
        reason, counted by text."""
        ...

    def client_served(self) -> None:
        """At the run's end: a client had at least one request of the window answered
        (once per client; one with none was refused, starved or never connected)."""
        ...

    def closed_idle(self, at_ns: int) -> None:
        """The target ended a connection (a close, a reset) with nothing in flight on it:
        no request failed, so no error, but the client reconnects (a server's keep-alive
        timeout, or one out of connection slots). ``at_ns`` places it, as for errors."""
        ...

    def warmup_reply(self, at_ns: int, latency_ns: int = 0) -> None:
        """A warm-up request was answered, on time, at ``at_ns``, ``latency_ns`` after its
        mark: not measured, but the target served it, so inside the window it counts
        toward the served rate (an open-loop backlog from the warm-up is served there),
        and ``--warmup auto`` reads the warm-up's own rows from it."""
        ...


class KindSink(Protocol):
    """Where a protocol with several kinds of request (SET, GET) has each kind's failures
    counted (its completions come with :meth:`Sink.completed`); ``kind`` is the index into
    the protocol's ``kinds`` (an int costs less than a look-up by name on the hot path)."""

    def kind_failed(self, kind: int, error: str) -> None: ...

    def kind_warm_reply(self, kind: int, at_ns: int) -> None:
        """A warm-up request of ``kind`` was answered on time at ``at_ns`` (with
        :meth:`Sink.warmup_reply`): inside the window, that kind's part of the served rate."""
        ...


class RequestWindow:
    """The measurement window, the request limit and the drain, shared by a worker's clients.

    ``issued`` counts measured requests. Each ends exactly once at its exchange, so
    ``issued - ended`` is what an interrupted run left in flight. A client that has
    nothing left to do calls :meth:`retire`; once every client has, the drain is over
    early.
    """

    __slots__ = (
        "clients",
        "drain_end_ns",
        "issued",
        "limit",
        "measure_end_ns",
        "measure_start_ns",
        "retired",
        "timeout_ns",
    )

    def __init__(
        self,
        timeout_ns: int,
        limit: int | None = None,
        clients: int = 0,
        measure_start_ns: int = NEVER,
        measure_end_ns: int = NEVER,
        drain_ns: int | None = None,
    ) -> None:
        self.timeout_ns = timeout_ns
        self.limit = limit or NEVER
        self.clients = clients
        self.issued = 0
        self.retired = 0
        self.measure_start_ns = measure_start_ns
        self.measure_end_ns = measure_end_ns
        self.drain_end_ns = NEVER
        self.set_times(measure_start_ns, measure_end_ns, drain_ns)

    def set_times(self, measure_start_ns: int, measure_end_ns: int, drain_ns: int | None) -> None:
        self.measure_start_ns = measure_start_ns
        self.measure_end_ns = measure_end_ns
        if measure_end_ns != NEVER:
            self.drain_end_ns = measure_end_ns + (self.timeout_ns if drain_ns is None else drain_ns)

    def admit(self, mark_ns: int) -> int:
        """WARMUP, MEASURED (counted as issued) or CLOSED (issue nothing)."""
        if mark_ns < self.measure_start_ns:
            return WARMUP
        if mark_ns >= self.measure_end_ns or self.issued >= self.limit:
            return CLOSED
        self.issued += 1
        return MEASURED

    def closed(self, mark_ns: int) -> bool:
        """Whether a request marked ``mark_ns`` would no longer be issued."""
        return mark_ns >= self.measure_end_ns or self.issued >= self.limit

    def retire(self) -> None:
        self.retired += 1

    @property
    def all_retired(self) -> bool:
        return self.retired >= self.clients

    def end_kind(self, mark_ns: int, now_ns: int) -> str:
        """How a request still open at ``now_ns`` (the drain's end) is counted."""
        return TIMEOUT if now_ns - mark_ns >= self.timeout_ns else UNFINISHED


_NO_BUF = bytearray()
_UNUSED_REPLIES = ReplyBuffer(1, 1)
_SCRATCH: dict[tuple[int, int], bytearray] = {}


def _scratch(size: int) -> bytearray:
    """The read buffer of ``size`` bytes shared by this thread's exchanges (one trio loop:
    a driver reads into it and feeds the exchange with no other read in between)."""
    key = (threading.get_ident(), size)
    buf = _SCRATCH.get(key)
    if buf is None:
        buf = _SCRATCH[key] = bytearray(size)
    return buf


def _no_misses(buf: bytearray, start: int, end: int) -> int:
    return 0


@lru_cache(maxsize=16)
def _with_nul(expected: bytes) -> bytes:
    """``expected`` and a 0 byte, what a whole reply's buffer holds: one per matcher."""
    return expected + b"\0"


class StreamExchange:
    """One stream connection: requests in flight in order, replies matched in order.

    Warm-up requests are always older than measured ones on a connection (marks only
    grow), so the in-flight queue is a count of unmeasured requests at its head
    followed by measured ones: no per-request object beyond two ints.

    A batch issued with nothing in flight (a ``--pipeline`` refill after a read brought
    every reply) shares one mark and one send: its requests after the oldest are a count
    (``_repeat``), not pairs in the deque, so each of its replies is a decrement, not
    two ``popleft`` calls (about 70 ns of a compiled reply's 720 at ``--pipeline 8``).

    Memory is what a parked connection costs (issue 14: 6 KiB per idle connection), so
    nothing here grows with the connection until it needs to: the oldest request in
    flight is two ints (a deque is made only once a second request is in flight), and
    a reply of a known size is read into a buffer shared by every exchange of that
    size, copied to one of this connection's own only when it arrives in pieces.
    """

    __slots__ = (
        "_buf",
        "_check",
        "_expected",
        "_got",
        "_kind",
        "_kinds",
        "_lookups",
        "_mark",
        "_miss_reply",
        "_miss_size",
        "_misses",
        "_repeat",
        "_rest",
        "_scratch",
        "_sent",
        "_size",
        "_starved",
        "_unsent",
        "_warm",
        "_warm_replies",
        "_whole",
        "answered",
        "in_flight",
        "kind_sink",
        "matcher",
        "nbytes",
        "replies",
        "reply_at_close",
        "reply_kind",
        "sink",
        "timeout_ns",
        "window",
    )
    # Whether replies may be read as one known size at a time (_FixedReplies).
    ONE_SIZE: ClassVar[bool] = False

    def __init__(
        self,
        window: RequestWindow,
        sink: Sink,
        matcher: ReplyMatcher,
        nbytes: int,
        replies: ReplyBuffer | None = None,
        *,
        pipelined: bool = False,
        kind_sink: KindSink | None = None,
        kind: int | None = None,
        reply_kind: Callable[[bytearray, int], int] | None = None,
        reply_at_close: Callable[[bytearray, int, int], int] | None = None,
        lookups: tuple[int, ...] = (),
        misses: Callable[[bytearray, int, int], int] | None = None,
        miss_reply: bytes | None = None,
    ) -> None:
        self.window = window
        self.sink = sink
        self.matcher = matcher
        self._check = matcher.check  # bound once: a bound method is made per lookup
        self.nbytes = nbytes
        self.timeout_ns = window.timeout_ns
        # In flight, oldest first: the count, the oldest one's mark and send, and the
        # later ones' (mark, sent, mark, sent, ...) once there are any (--pipeline).
        # ``in_flight`` is read by drivers after every reply, so it is a plain attribute
        # (a property costs a call there); only the exchange writes it.
        self.in_flight = 0
        self._mark = 0
        self._sent = 0
        # Replies that answered their request, warm-up's and late ones too, over the
        # client's connections: the lifecycle tells from it whether a connection served.
        self.answered = 0
        # In flight: the oldest (_mark, _sent), then _repeat more with its mark and send,
        # then the others' (mark, sent) pairs in _rest.
        self._repeat = 0
        self._rest: deque[int] | None = None
        self._warm = 0
        self._warm_replies = 0  # of ``answered``: the warm-up's (the rest: the window's)
        self._starved = False  # STARVED was counted: once per client
        self._unsent = 0  # in flight behind a close the reply announced: to go out again
        # Protocols whose requests vary (a command mix): each request's size and kind as
        # one int (KIND_BITS), in step with the marks; None otherwise, so the common case
        # pays nothing. ``kind``: every request is of that kind and ``nbytes`` long, so
        # nothing is noted per request either.
        self.kind_sink = kind_sink
        self._kind = kind or 0
        noted = kind_sink is not None and kind is None
        self._kinds: deque[int] | None = deque() if noted else None
        # A protocol whose reply decides the kind (HTTP's status class): called with the
        # framed reply, its kind replaces the request's (only with a kind_sink).
        self.reply_kind = reply_kind if kind_sink is not None else None
        # A protocol whose reply may run to the peer's close (an HTTP body without a
        # length): what that reply is once the close came (see fail()).
        self.reply_at_close = reply_at_close
        # A protocol whose requests read keys (GET): each kind's keys per request (one
        # more 0 for an undeclared kind), and how many a reply missed; None otherwise.
        read = kind_sink is not None and misses is not None and any(lookups)
        self._lookups = (*lookups, 0) if read else None
        self._misses = misses or _no_misses
        # One key per read: the reply that missed, compared inline (no call per reply).
        self._miss_reply = miss_reply
        self._miss_size = len(miss_reply or b"")
        # One request at a time with replies of one known size (echo, --expect,
        # --expect-size): a _FixedReplies (stream_exchange() chooses), 0 otherwise.
        self._size = fixed_reply_size(matcher, pipelined) if self.ONE_SIZE else 0
        self._expected = matcher.expected if self._size and isinstance(matcher, Exact) else None
        self._scratch = _scratch(self._size + 1)  # shared: see space()
        self._buf = _NO_BUF  # this connection's own, once a reply came in pieces
        self._whole = _with_nul(self._expected or b"")
        self._got = 0
        if replies is None:
            # The fast path never reads into it: one shared, empty one. The general path's
            # grows for longer replies.
            replies = _UNUSED_REPLIES if self._size else ReplyBuffer(1024, 256)
        self.replies = replies  # the general path's buffer

    def space(self) -> bytearray | memoryview:
        """Where the driver reads the next bytes into, then calls :meth:`received`
        before anything else reads."""
        rb = self.replies
        if not rb.end and rb.data:  # every byte matched (received() resets): no call
            return rb.view
        return rb.space()

    @property
    def measured_in_flight(self) -> int:
        return self.in_flight - self._warm

    def issue(self, mark_ns: int, sent_ns: int, kind: int = -1, nbytes: int = 0) -> bool:
        """Request marked ``mark_ns`` (due, or the send itself) goes out at ``sent_ns``.

        False: the window is closed, send nothing. A protocol whose requests vary (a
        command mix) gives each one's ``kind`` (an index into its ``kinds``, ``kind <
        2**KIND_BITS``) and size, kept in step with the marks so its reply is counted by
        kind; -1: the exchange knows them already (every request alike).
        """
        window = self.window
        if (
            window.measure_start_ns <= mark_ns < window.measure_end_ns
            and window.issued < window.limit
        ):
            window.issued += 1  # RequestWindow.admit's MEASURED, inline: the common case
        else:
            state = window.admit(mark_ns)
            if state == CLOSED:
                return False
            if state == WARMUP:
                self._warm += 1
        if self.in_flight:
            rest = self._rest
            if rest is None:
                rest = self._rest = deque()
            rest.append(mark_ns)
            rest.append(sent_ns)
        else:
            self._mark = mark_ns
            self._sent = sent_ns
        self.in_flight += 1
        if kind >= 0 and self._kinds is not None:
            self._kinds.append(nbytes << KIND_BITS | kind)
        return True

    def issue_many(self, count: int, mark_ns: int, sent_ns: int) -> int:
        """``count`` requests marked ``mark_ns`` go out together at ``sent_ns`` (one write):
        how many of them to send, fewer than ``count`` where the ``--requests`` limit came,
        0 once the window is closed. Each is admitted as :meth:`issue` admits one, at one
        mark, so they are all warm-up or all measured."""
        window = self.window
        if mark_ns < window.measure_start_ns:
            self._warm += count
        elif mark_ns >= window.measure_end_ns:
            return 0
        else:
            count = min(count, window.limit - window.issued)
            if count <= 0:
                return 0
            window.issued += count
        if not self.in_flight:
            self._mark = mark_ns
            self._sent = sent_ns
            self._repeat = count - 1
        else:
            rest = self._rest
            if rest is None:
                rest = self._rest = deque()
            rest.extend((mark_ns, sent_ns) * count)
        self.in_flight += count
        return count

    def note_many(self, notes: list[int]) -> None:
        """The size and kind of each request just issued by :meth:`issue_many`, in order,
        each as :func:`~sockbench.core.protocols.contract.note` packs them (as
        :meth:`issue` takes them for one)."""
        if self._kinds is not None:
            self._kinds.extend(notes)

    def resent(self, sent_ns: int) -> None:
        """The newest request really went out at ``sent_ns`` (churn: after its connect)."""
        if self.in_flight == 1:
            self._sent = sent_ns
        elif self._rest:
            self._rest[-1] = sent_ns
        else:  # the newest is the last of the oldest's batch: it leaves the batch
            self._repeat -= 1
            self._rest = deque((self._mark, sent_ns))

    def _next(self) -> None:
        """The oldest request in flight ended: the next one, if any, becomes the oldest."""
        self.in_flight -= 1
        if self.in_flight:
            self._shift()

    def _shift(self) -> None:
        """The next request in flight becomes the oldest."""
        if self._repeat:  # the next of its batch: the same mark and send
            self._repeat -= 1
            return
        rest = self._rest
        assert rest is not None
        self._mark = rest.popleft()
        self._sent = rest.popleft()

    def _keep(self, got: int) -> None:
        """A reply's first ``got`` bytes came alone: move them from the shared scratch to
        this connection's own buffer (made now, kept), where the rest is read."""
        buf = self._buf
        if not buf:
            buf = self._buf = bytearray(self._size + 1)
        buf[:got] = self._scratch[:got]

    def _marks(self) -> list[int]:
        """The marks of the requests in flight, oldest first."""
        if not self.in_flight:
            return []
        return [self._mark] * (1 + self._repeat) + list(self._rest or ())[::2]

    def received(self, n: int, now_ns: int) -> int:
        """``n`` bytes were written into :meth:`space` and arrived by ``now_ns``: replies
        matched by the matcher, several per read (a reply of one known size, one at a
        time: :class:`_FixedReplies`)."""
        rb = self.replies
        end = rb.end + n
        rb.end = end
        start = rb.start
        data = rb.data
        check = self._check
        reply_kind = self.reply_kind
        while start < end:
            if not self.in_flight:
                # Bytes with no request outstanding: unsolicited, or the tail of an
                # over-long reply that came in a later read.
                self.fail(MISMATCHED, now_ns)
                return RECONNECT
            got = check(data, start, end)
            if got > 0 and (start + got >= end or self.in_flight > 1):
                # A whole reply, the common case (several per read with --pipeline).
                if reply_kind is None:
                    rest = self._rest
                    if self._repeat or (rest and rest[0] == self._mark and rest[1] == self._sent):
                        start = self._answered_run(got, now_ns, start, end)
                        continue
                    self._answered(got, now_ns, -1, start)
                else:
                    decided = reply_kind(data, start)
                    self._answered(got, now_ns, decided, start)
                    if decided >= CLOSES:
                        return self._closing(now_ns)
                start += got
                continue
            if got == 0:
                break
            if got < ERROR_REPLY and ERROR_REPLY - got <= end - start:
                # A well-framed error reply of known length: its request failed, and
                # the next reply starts right after it.
                decided = -1 if reply_kind is None else reply_kind(data, start)
                length = ERROR_REPLY - got
                said = bytes(data[start : start + min(length, TEXT_BYTES)])
                start += length
                self._end_oldest(PROTOCOL_ERROR, now_ns, decided, said)
                if decided >= CLOSES:
                    return self._closing(now_ns)
                continue
            # Wrong bytes, an error reply of unknown length, or more bytes than the one
            # request outstanding asked for: the stream is out of step.
            if got == ERROR_REPLY:  # its length unknown: what came of it
                said = bytes(data[start : min(end, start + TEXT_BYTES)])
                self._end_oldest(PROTOCOL_ERROR, now_ns, said=said)
            else:
                self._end_oldest(MISMATCHED, now_ns)
            self._abort(now_ns)
            return RECONNECT
        if start > end:  # once per read: a reply longer than the bytes it was given
            raise ProtocolFault(
                f"check_reply() returned a reply of {got} bytes where it was given "
                f"{got - (start - end)}"
            )
        if start == end:  # every byte matched: the next read starts at the front
            rb.start = rb.end = 0
        else:
            rb.start = start
        return OK

    def _answered(self, got: int, now_ns: int, decided: int = -1, at: int = 0) -> None:
        """The oldest request in flight got its whole reply (``got`` bytes at ``at`` in the
        replies' buffer); a protocol with kinds has it counted per kind too (``decided``:
        the kind its reply said), with its hits and misses where the kind reads keys."""
        self.answered += 1
        sent = self._sent
        mark = self._mark
        count = self.in_flight = self.in_flight - 1
        if not count:
            pass
        elif self._repeat:  # _shift, inline: a call per reply costs what the shift does
            self._repeat -= 1
        else:
            rest = self._rest
            assert rest is not None
            self._mark = rest.popleft()
            self._sent = rest.popleft()
        size = self.nbytes
        kind = self._kind
        kinds = self._kinds
        if kinds is not None:
            kind = kinds.popleft()
            size = kind >> KIND_BITS
            kind &= KIND_MASK
        if decided >= 0:
            kind = decided & KIND_MASK
        if self._warm:
            self._warm_answered(mark, sent, now_ns, kind)
            return
        # Computed once and handed on: the hot path pays per int it creates.
        service = now_ns - sent
        kind_sink = self.kind_sink
        if service >= self.timeout_ns:
            self.sink.failed(TIMEOUT, 1, now_ns)
            if kind_sink is not None:
                kind_sink.kind_failed(kind, TIMEOUT)
            return
        latency = service if mark == sent else now_ns - mark
        if kind_sink is None:
            self.sink.completed(latency, service, size, got)
            return
        lookups = self._lookups
        if lookups is None or not lookups[kind]:
            self.sink.completed(latency, service, size, got, kind)
            return
        miss = self._miss_reply
        if miss is None:
            missed = self._misses(self.replies.data, at, at + got)
        elif got == self._miss_size and self.replies.data.startswith(miss, at):
            missed = 1
        else:
            missed = 0
        self.sink.completed(latency, service, size, got, kind, missed)

    def _answered_run(self, got: int, now_ns: int, start: int, end: int) -> int:
        """The oldest request in flight got its whole reply (``got`` bytes at ``start``),
        and the next one went out in the same write (one mark, one send): it and every
        later one of that write whose whole reply follows in this read are answered
        together, told to the sink at once (:meth:`Sink.completed_run`). Returns where
        the bytes after them start.

        Trade-off: a ``--pipeline`` refill is one write, and its replies mostly come
        back in one read; each one told alone cost a sink call and its bookkeeping, about
        180 ns a request at ``--pipeline 8`` (benchmarks/python_path.py). One latency is
        every such request's, as it would be alone. A warm-up or timed-out request, or
        a reply that is not a whole good one, ends the run (or starts none): the general
        loop takes it from there, and checks that reply again.
        """
        mark = self._mark
        sent = self._sent
        service = now_ns - sent
        if self._warm or service >= self.timeout_ns:
            self._answered(got, now_ns, -1, start)
            return start + got
        data = self.replies.data
        check = self._check
        rest = self._rest
        notes = self._kinds
        counted = self.kind_sink is not None
        lookups = self._lookups
        miss = self._miss_reply
        miss_size = self._miss_size
        kinds: list[int] = []
        misses = [0] * len(lookups) if lookups is not None else None  # by kind
        size = self.nbytes
        sizes = got_total = count = 0
        in_flight = self.in_flight
        while True:
            count += 1
            kind = self._kind
            if notes is not None:
                kind = notes.popleft()
                size = kind >> KIND_BITS
                kind &= KIND_MASK
            sizes += size
            if counted:
                kinds.append(kind)
            if misses is not None and lookups[kind]:  # type: ignore[index]
                if miss is None:
                    misses[kind] += self._misses(data, start, start + got)
                elif got == miss_size and data.startswith(miss, start):
                    misses[kind] += 1
            got_total += got
            start += got
            in_flight -= 1
            if not in_flight:
                break
            if self._repeat:  # the next of the oldest's batch: its mark and send
                self._repeat -= 1
                if start >= end:
                    break
            else:
                assert rest is not None
                self._mark = rest.popleft()
                self._sent = rest.popleft()
                if self._mark != mark or self._sent != sent or start >= end:
                    break
            got = check(data, start, end)
            if got <= 0 or start + got > end or (start + got < end and in_flight == 1):
                break  # not a whole good reply (or a faulty length): the general loop's
        self.in_flight = in_flight
        self.answered += count
        latency = service if mark == sent else now_ns - mark
        self.sink.completed_run(
            latency, service, sizes, got_total, count, kinds if counted else None, misses
        )
        return start

    def _warm_answered(self, mark_ns: int, sent_ns: int, now_ns: int, kind: int = -1) -> None:
        """A warm-up request's reply: never measured, but served if on time (by ``kind``
        too, where the protocol has kinds). One sent before the window and answered after
        it starved its connection: replies come in order, so none came in the window (a
        target that serves a few connections at a time serves the rest once the others
        leave, after the window: the check at :meth:`finish` alone missed them)."""
        self._warm -= 1
        self._warm_replies += 1
        window = self.window
        if sent_ns < window.measure_start_ns and now_ns >= window.measure_end_ns:
            self._starve(now_ns)
        if now_ns - sent_ns < self.timeout_ns:
            self.sink.warmup_reply(now_ns, now_ns - mark_ns)
            if self.kind_sink is not None:
                self.kind_sink.kind_warm_reply(kind, now_ns)

    def _end_oldest(self, kind: str, now_ns: int, decided: int = -1, said: bytes = b"") -> None:
        """The oldest request in flight failed as ``kind`` (a warm-up one is a warm-up
        error); the connection carries on with the next. ``decided``: the kind its reply
        said (an error reply's, with ``reply_kind``), else the request's own; ``said``:
        an error reply's first bytes, counted by text for a measured request."""
        mark = self._mark
        request_kind = self._kind
        kinds = self._kinds
        if kinds is not None:
            request_kind = kinds.popleft() & KIND_MASK
        if decided >= 0:
            request_kind = decided & KIND_MASK
        self.in_flight -= 1
        if self.in_flight:
            self._shift()
        if self._warm:
            self._warm -= 1
            self.sink.error(kind, mark)
            return
        self.sink.failed(kind, 1, now_ns)
        if said:
            self.sink.error_reply(said)
        if self.kind_sink is not None:
            self.kind_sink.kind_failed(request_kind, kind)

    def _closing(self, now_ns: int) -> int:
        """The reply just taken said the peer closes the connection after it (``CLOSES``:
        HTTP's ``Connection: close``): no error, and the connection is replaced (at once:
        it served). The requests in flight behind it were not served on it, so they stay
        in flight, to go out again on the next connection (:meth:`resend`)."""
        self._unsent = self.in_flight
        self.replies.clear()
        return RECONNECT

    def resend(self, sent_ns: int) -> int:
        """How many requests, the newest in flight, a driver sends again now (at
        ``sent_ns``) on the connection that replaces one whose last reply announced the
        close: 0 but once after such a reply. Their marks stay (the latency counts the
        reconnect); their service times and timeouts run from the resend."""
        count = self._unsent
        if count:
            self._unsent = 0
            self._sent = sent_ns
            rest = self._rest
            if rest is not None:
                for i in range(1, len(rest), 2):
                    rest[i] = sent_ns
        return count

    def _abort(self, now_ns: int) -> None:
        """The connection is out of step and will be replaced: each request still in
        flight ends ``timeout`` if its own ``--timeout`` passed, else ``aborted``."""
        while self.in_flight:
            overdue = now_ns - self._sent >= self.timeout_ns
            self._end_oldest(TIMEOUT if overdue else ABORTED, now_ns)
        self._forget()

    def _measured_kinds(self) -> list[int]:
        """The kind of each measured request in flight, oldest first."""
        kinds = self._kinds
        if kinds is None:
            return [self._kind] * (self.in_flight - self._warm) if self.kind_sink else []
        return [code & KIND_MASK for code in kinds][self._warm :]

    def deadline(self) -> int:
        """When the oldest request in flight times out (NEVER if none)."""
        return self._sent + self.timeout_ns if self.in_flight else NEVER

    def expire(self, now_ns: int) -> int:
        """RECONNECT if the oldest request is overdue: it times out, and the later ones
        end as :meth:`_abort` says (a reply to them may never come on this connection)."""
        if self.in_flight and now_ns - self._sent >= self.timeout_ns:
            self._abort(now_ns)
            return RECONNECT
        return OK

    def _reply_at_close(self, now_ns: int) -> bool:
        """Whether the bytes read since the last reply make a reply now that the stream
        ended (``reply_at_close``); if so, the oldest request ends by it."""
        rb = self.replies
        assert self.reply_at_close is not None
        got = self.reply_at_close(rb.data, rb.start, rb.end)
        if got == 0:
            return False
        decided = -1 if self.reply_kind is None else self.reply_kind(rb.data, rb.start) & KIND_MASK
        if got < ERROR_REPLY:
            self._end_oldest(PROTOCOL_ERROR, now_ns, decided)
        else:
            self._answered(got, now_ns, decided, rb.start)
        rb.clear()
        return True

    def fail(self, kind: str, now_ns: int) -> bool:
        """The connection failed (``kind``: reset, closed, a send's error): every request
        in flight on it ends so, since it hit them all. With none in flight, a close or a
        reset ended an idle connection (``Sink.closed_idle``: HTTP lets a server close
        one at any time), and any other ``kind`` is an error of the connection's (bytes
        with no request outstanding). True for an idle close: the lifecycle reconnects
        for the next request, not at once.

        The peer's close (``closed``) first ends a reply framed by it (``reply_at_close``:
        an HTTP body without a length): that request completes, and when it was the only
        one in flight the close is no error."""
        closing = kind == PEER_CLOSED and self.reply_at_close is not None and self.in_flight
        if closing and self._reply_at_close(now_ns) and not self.in_flight:
            self._forget()
            return False
        measured = self.in_flight - self._warm
        idle = False
        if measured:
            self.sink.failed(kind, measured, now_ns)
            if self.kind_sink is not None:
                for request_kind in self._measured_kinds():
                    self.kind_sink.kind_failed(request_kind, kind)
        elif self._warm:
            self.sink.error(kind, self._mark)  # a warm-up request's: a warm-up error
        elif idle := kind in (PEER_CLOSED, PEER_RESET):
            self.sink.closed_idle(now_ns)
        else:
            self.sink.error(kind, now_ns)
        self._forget()
        return idle

    def finish(self, now_ns: int, interrupted: bool = False, unsent: Iterable[int] = ()) -> None:
        """The run is over: requests still open time out or are unfinished, and a
        connection with a request sent before the window still open is ``starved`` (one
        error). A client with a window request answered is told to the sink as served.

        ``unsent``: marks of requests that were due but never went out (an open-loop
        backlog); they were due inside the window, so they count like any other.
        An interrupted run leaves them all open (``in_flight``), and says so.
        """
        window = self.window
        marks = self._marks()[self._warm :]
        marks.extend(mark for mark in unsent if window.admit(mark) == MEASURED)
        if not interrupted:
            if self._warm and self._sent < window.measure_start_ns:
                # Sent before the window and unanswered through it (an open-loop backlog
                # sent late, in the window, is not: its reply may not be due yet).
                self._starve(now_ns)
            kinds = self._measured_kinds()
            for i, mark in enumerate(marks):
                end = window.end_kind(mark, now_ns)
                self.sink.failed(end, 1, now_ns)
                if self.kind_sink is not None and i < len(kinds):
                    self.kind_sink.kind_failed(kinds[i], end)
        if self.answered > self._warm_replies:
            self.sink.client_served()
        self._forget()

    def _starve(self, now_ns: int) -> None:
        """This client's connection got no reply in the whole window: counted once."""
        if not self._starved:
            self._starved = True
            self.sink.error(STARVED, now_ns)

    def _forget(self) -> None:
        self.in_flight = 0
        self._repeat = 0
        self._unsent = 0
        if self._rest is not None:
            self._rest.clear()
        if self._kinds is not None:
            self._kinds.clear()
        self._warm = 0
        self.replies.clear()
        self._got = 0
        # An over-long reply's extra byte: the whole-compare needs a 0 there.
        self._scratch[-1] = 0
        if self._buf:
            self._buf[-1] = 0


class _FixedReplies(StreamExchange):
    """A :class:`StreamExchange` whose replies have one known size (echo, ``--expect``,
    ``--expect-size``) and come one at a time: each is read into a buffer one byte
    longer than it, so an over-long reply shows in the read's length, and compared whole
    (``==`` on a bytearray is several times cheaper than ``startswith`` with offsets).

    Trade-off: a class of its own, which :func:`stream_exchange` chooses when the
    matcher says so, rather than a test in :meth:`space` and :meth:`received` per read:
    the drivers call both per reply, and the general path paid that test and a call to
    reach its body (about 60 ns a reply on the HTTP path, in benchmarks/python_path.py's
    loop).
    """

    __slots__ = ()
    ONE_SIZE = True

    def space(self) -> bytearray | memoryview:
        """As :meth:`StreamExchange.space`: a reply's first bytes go to the scratch
        shared by every exchange of that size."""
        return memoryview(self._buf)[self._got :] if self._got else self._scratch

    def received(self, n: int, now_ns: int) -> int:
        """:meth:`StreamExchange.received` for one reply of ``_size`` bytes at a time.

        The fast path (one request in flight, a reply of ``_size`` bytes) is inlined down
        to the sink's call: on the hot path a Python call costs as much as the rule.
        """
        size = self._size
        got = self._got + n
        if not self.in_flight or got > size:
            self.fail(MISMATCHED, now_ns)  # unsolicited, or longer than expected
            return RECONNECT
        expected = self._expected
        buf = self._buf if self._got else self._scratch
        if got < size:
            if expected is not None and not expected.startswith(buf[:got]):
                self.fail(MISMATCHED, now_ns)  # a wrong byte: known before the rest
                return RECONNECT
            if not self._got:
                self._keep(got)
            self._got = got
            return OK
        self._got = 0
        if expected is not None and buf != self._whole:
            self.fail(MISMATCHED, now_ns)
            return RECONNECT
        self.answered += 1
        sent = self._sent
        mark = self._mark
        if self.in_flight > 1:
            self._next()
        else:
            self.in_flight = 0  # inline, the common case: one request in flight
        if self._warm:
            self._warm_answered(mark, sent, now_ns)
            return OK
        service = now_ns - sent  # computed once and handed on: ints cost on this path
        if service >= self.timeout_ns:
            self.sink.failed(TIMEOUT, 1, now_ns)
        else:
            latency = service if mark == sent else now_ns - mark
            self.sink.completed(latency, service, self.nbytes, size)
        return OK


def fixed_reply_size(matcher: ReplyMatcher, pipelined: bool) -> int:
    """The one size every reply has and comes in alone, or 0: replies vary (a protocol), or
    may share a read (``--pipeline``)."""
    if pipelined:
        return 0
    if isinstance(matcher, Exact):
        return len(matcher.expected)
    return matcher.size if isinstance(matcher, Size) else 0


def stream_exchange(
    window: RequestWindow,
    sink: Sink,
    matcher: ReplyMatcher,
    nbytes: int,
    replies: ReplyBuffer | None = None,
    *,
    pipelined: bool = False,
    **protocol: Any,
) -> StreamExchange:
    """A connection's exchange (the arguments are :class:`StreamExchange`'s): a
    :class:`_FixedReplies` where every reply has one known size and comes alone (echo,
    ``--expect``, ``--expect-size``), the general one otherwise.

    Trade-off: a function, where the exchange used to change its own ``__class__`` in
    ``__init__``; a class compiled by mypyc cannot (docs/performance.md, *The compiled
    build*), and constructing the right class costs nothing more.
    """
    one_size = fixed_reply_size(matcher, pipelined) > 0
    cls = _FixedReplies if one_size else StreamExchange
    return cls(window, sink, matcher, nbytes, replies, pipelined=pipelined, **protocol)


class DatagramExchange:
    """One datagram socket: numbered requests, replies classified by the ledger.

    Due and send times are kept only while a datagram is in flight, so memory is
    bounded by what is in flight, not by what has been sent. Warm-up datagrams are
    followed too (a closed loop waits for their replies) but never counted.
    """

    __slots__ = (
        "_marks",
        "_sents",
        "_warm",
        "dropped",
        "ledger",
        "nbytes",
        "next_seq",
        "sink",
        "tail",
        "timeout_ns",
        "unsolicited",
        "window",
    )

    def __init__(self, window: RequestWindow, sink: Sink, payload: bytes) -> None:
        self.window = window
        self.sink = sink
        self.timeout_ns = window.timeout_ns
        self.nbytes = len(payload)
        self.tail = payload[dg.SEQ_SIZE :]
        self.ledger: dg.DatagramLedger | None = None
        self._marks: dict[int, int] = {}
        self._sents: dict[int, int] = {}
        self._warm: dict[int, int] = {}  # warm-up seq -> deadline, in send order
        # From the window on: datagrams that answer no request (counts().unsolicited).
        self.unsolicited = 0
        self.next_seq = 0  # the number after the last one issued: an open loop's backlog
        # What the kernel dropped at this socket, its buffer full (the driver reads it as
        # the socket closes): counts().generator_drops.
        self.dropped = 0

    @property
    def in_flight(self) -> int:
        ledger = self.ledger
        return len(self._warm) + (ledger.in_flight if ledger is not None else 0)

    def issue(self, seq: int, mark_ns: int, sent_ns: int) -> bool:
        """Datagram ``seq`` marked ``mark_ns`` goes out at ``sent_ns``; False: send nothing."""
        state = self.window.admit(mark_ns)
        if state == CLOSED:
            return False
        self.next_seq = seq + 1
        if state == WARMUP:
            self._warm[seq] = sent_ns + self.timeout_ns
            return True
        if self.ledger is None:
            self.ledger = dg.DatagramLedger(self.timeout_ns, first_seq=seq)
        self.ledger.on_send(seq, sent_ns)
        self._marks[seq] = mark_ns
        self._sents[seq] = sent_ns
        return True

    def received(self, data: memoryview, n: int, now_ns: int) -> None:
        """A datagram of ``n`` bytes (in ``data``) was read at ``now_ns``."""
        if n < dg.SEQ_SIZE:  # too short to answer anything
            self._unsolicited(now_ns)
            return
        (seq,) = dg.SEQ.unpack_from(data)
        self.expire(now_ns)  # on time or late by the clock, not by when it was read
        ledger = self.ledger
        if ledger is None or seq < ledger.first_seq:
            deadline = self._warm.pop(seq, None)  # a warm-up reply: never measured
            if deadline is not None and now_ns < deadline:  # from its send: marks not kept
                self.sink.warmup_reply(now_ns, now_ns - deadline + self.timeout_ns)
            return
        outcome = ledger.on_reply(seq)
        if outcome != dg.RECEIVED and outcome != dg.REORDERED:
            if outcome == dg.UNKNOWN:  # a number never sent: no request's error
                self._unsolicited(now_ns)
            return
        mark = self._marks.pop(seq)
        sent = self._sents.pop(seq)
        if data[dg.SEQ_SIZE : n] != self.tail:
            self.sink.failed(MISMATCHED, 1, now_ns)
        else:
            service = now_ns - sent
            latency = service if mark == sent else now_ns - mark
            self.sink.completed(latency, service, self.nbytes, n)

    def _unsolicited(self, now_ns: int) -> None:
        """A datagram that answers no request: counted apart from the window on (a target
        that sends extra datagrams made tens of thousands of errors of 690 requests)."""
        if now_ns >= self.window.measure_start_ns:
            self.unsolicited += 1

    def counts(self) -> dg.DatagramCounts | None:
        """The ledger's counts, the unsolicited datagrams and the socket's drops; None
        before the window with nothing to say."""
        ledger = self.ledger
        if ledger is None and not self.unsolicited and not self.dropped:
            return None
        counts = ledger.counts() if ledger is not None else dg.DatagramCounts()
        if self.unsolicited or self.dropped:
            counts = replace(counts, unsolicited=self.unsolicited, generator_drops=self.dropped)
        return counts

    def deadline(self) -> int:
        """When the oldest datagram in flight expires (NEVER if none)."""
        for deadline in self._warm.values():
            return deadline
        ledger = self.ledger
        found = ledger.next_deadline() if ledger is not None else None
        return NEVER if found is None else found

    def expire(self, now_ns: int) -> int:
        """Datagrams past their deadline are lost; returns how many measured ones."""
        warm = self._warm
        while warm:
            seq = next(iter(warm))
            if warm[seq] > now_ns:
                break
            del warm[seq]
        ledger = self.ledger
        if ledger is None:
            return 0
        lost = ledger.expire(now_ns, self._forget)
        if lost:
            self.sink.failed(LOST, lost, now_ns)
        return lost

    def send_failed(self, seq: int, kind: str, now_ns: int) -> None:
        """The send of ``seq`` (the newest) failed: it never left, so it is that request's
        failure (``kind``), not a lost datagram."""
        if seq in self._marks:
            assert self.ledger is not None
            self.ledger.unsend(seq)
            del self._marks[seq], self._sents[seq]
            self.sink.failed(kind, 1, now_ns)
        else:
            self._warm.pop(seq, None)
            self.sink.error(kind, now_ns)

    def finish(self, now_ns: int, interrupted: bool = False, unsent: Iterable[int] = ()) -> None:
        """The run is over: datagrams still in flight are lost if they were due a
        ``timeout`` ago or more, else unfinished (a shortened drain); an interrupted run
        leaves them in flight.

        ``unsent``: marks of datagrams that were due but never went out (an open-loop
        backlog the generator did not catch up with). They were due inside the window, so
        they count as the stream's do (:meth:`StreamExchange.finish`): issued, and failed
        as ``timeout`` or ``unfinished``, never ``lost``, which the ledger keeps for
        datagrams that were sent.
        """
        self._warm.clear()
        window = self.window
        backlog = [mark for mark in unsent if window.admit(mark) == MEASURED]
        if interrupted:
            return
        ends = Counter(window.end_kind(mark, now_ns) for mark in backlog)
        for end in sorted(ends):
            self.sink.failed(end, ends[end], now_ns)
        ledger = self.ledger
        if ledger is None:
            return
        self.expire(now_ns)
        left = ledger.in_flight
        marks = self._marks

        def overdue(seq: int) -> bool:
            return window.end_kind(marks[seq], now_ns) == TIMEOUT

        lost = ledger.abandon(overdue, self._forget)
        if lost:
            self.sink.failed(LOST, lost, now_ns)
        if left - lost:
            self.sink.failed(UNFINISHED, left - lost, now_ns)

    def _forget(self, seq: int) -> None:
        del self._marks[seq], self._sents[seq]
