"""A client's connections, from the first connect to retiring: when to connect, when to
wait, when to stop.

Sans-IO, like :mod:`sockbench.core.exchange`: a driver tells the lifecycle what happened
("the connect failed at t", "the setup failed", "the connection dropped, of this kind,
with the worker's completed count at n", "the window closed with k requests in flight")
and is told what to do next, as a small int: ``SERVE`` (go on), ``CONNECT`` (connect
now), ``WAIT`` (connect at :attr:`~ConnectionLifecycle.wake_ns`) or ``RETIRE``. It reads
no clock and does no I/O, and the back-off's jitter comes from the ``rand`` it is given,
so every rule below is unit-tested with made-up times.

The rules, the same for both drivers (the pump and the task per client):

- **Back off from a target that serves nothing.** A connection that ends having served
  nothing (its client's count of answered requests did not move while it was open: a
  target that accepts and closes at once, or answers an error first, as redis past
  ``maxclients`` does) makes the next connect wait; so does a failed setup and a failed
  connect. A wrong or late reply is an answer: the connection is replaced at once, and
  so is one that served a request. The count is the client's own, not the worker's: a
  worker whose other clients are served would hide a storm of reconnects (40 clients
  refused by a redis serving 10 reconnected 9,500 times a second).
- **The wait** doubles from ``FIRST_BACKOFF_NS`` (10 ms) to ``MAX_BACKOFF_NS`` (1 s)
  while connects fail or connections serve nothing, and drops to nothing once one
  serves. Each wait is drawn from [delay/2, delay], so a thousand clients that lost the
  target together do not come back together.
- **Retire** once the window closed for the client and nothing is in flight on its
  open connection; or when nothing is left to reconnect for: the window closed for
  the client's next request (its mark: now in closed loop, its due time in open loop)
  when a connection ends or a setup fails, or by the clock when a connect fails. A
  client whose window closed while it reconnected retires as the connection opens.
  Requests a close left unserved (the exchange's ``resend``) are something to
  reconnect for: the client retires once they ended on the new connection.
  ``RETIRE`` is said once.
- **A connection the target ended idle** (a close or a reset with nothing in flight: a
  keep-alive timeout) is no refusal and backs nothing off: the client reconnects when
  its next request is due (at once in closed loop), as an HTTP client's pool opens a
  connection for the request that needs one, so that request's latency holds what of
  the connect was not done by its due time. The connect starts ``IDLE_LEAD_NS`` early
  (a wait wakes up to 1 ms late), or at the due time itself after a fresh connection
  was timed out too. Reconnecting at once instead, against a server that also times
  out fresh connections, was a connection every 50 ms idle, each a back-off longer
  than the last, and requests due during one waited for it: p50 388 ms from a server
  answering in 450 µs.
- **The first connect** follows the same rules as a reconnect; the driver tells the
  start gate about it (:func:`sockbench.engine.clients.context.first_connect`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sockbench.core.exchange import MISMATCHED, TIMEOUT, RequestWindow

# What a driver does next.
SERVE = 0  # go on as before: nothing new to do (a retired client is told only this)
CONNECT = 1  # connect now
WAIT = 2  # connect at ``wake_ns``
RETIRE = 3  # nothing left to do: close, finish the exchange, retire the client

# Where a client is.
CONNECTING = 0  # a connect attempt is under way (the first, or a reconnect)
BACKING_OFF = 1  # waiting until ``wake_ns`` before the next attempt
SETTING_UP = 2  # connected: waiting for the start gate, then the protocol's setup
OPEN = 3  # serving requests
RETIRED = 4

FIRST_BACKOFF_NS = 10_000_000
# After an idle close, the connect starts this long before the next request is due: a
# wait wakes up to a millisecond late (epoll's timeout is in whole ms), and a connect
# started late would put the generator's timer, not the connect, in that latency.
IDLE_LEAD_NS = 1_000_000
MAX_BACKOFF_NS = 1_000_000_000

STATE_NAMES = ("CONNECTING", "BACKING_OFF", "SETTING_UP", "OPEN", "RETIRED")


class ConnectionLifecycle:
    """One client's connections: connect, set up, serve, back off, reconnect, retire.

    ``finished`` (the window closed for this client's next request) and ``retired``
    are plain attributes because the pump reads them per reply and per due request; it
    subclasses this class for the same reason (no second object to look through).
    """

    __slots__ = (
        "connections",
        "delay_ns",
        "finished",
        "rand",
        "retired",
        "served_mark",
        "state",
        "wake_ns",
        "window",
    )

    def __init__(self, window: RequestWindow, rand: Callable[[], float] = random.random) -> None:
        self.window = window
        self.rand = rand  # the jitter's draw, in [0, 1)
        self.state = CONNECTING
        self.finished = False  # the window closed for the next request: issue nothing
        self.retired = False
        self.delay_ns = 0  # the back-off: 0 until a connect fails or a connection served nothing
        self.wake_ns = 0  # WAIT: when to connect
        self.connections = 0  # opened so far: a protocol's setup sees it
        self.served_mark = 0  # the client's answered count when the connection opened

    # --- connecting -------------------------------------------------------------------

    def connect_failed(self, now_ns: int) -> int:
        """A connect attempt (the first or a later one) failed at ``now_ns``.

        ``RETIRE`` once the window has closed by the clock (what was due and never sent
        is counted by the exchange's finish); otherwise ``WAIT``, a back-off longer
        than the last.
        """
        if self.retired:
            return SERVE
        if self.finished or self.window.closed(now_ns):
            return self._retire()
        return self._back_off(now_ns)

    def connected(self) -> None:
        """The connect worked: next the start gate and the protocol's setup, if any."""
        if not self.retired:
            self.state = SETTING_UP

    def setup_failed(self, now_ns: int, next_mark_ns: int) -> int:
        """The protocol's setup failed (counted by the driver): the connection served
        nothing, so the next connect waits, unless nothing is left to reconnect for.

        ``next_mark_ns``: the mark of the client's next request (now in closed loop, its
        due time in open loop).
        """
        if self.retired:
            return SERVE
        self.delay_ns = max(self.delay_ns, FIRST_BACKOFF_NS // 2)
        if self._done(next_mark_ns):
            return self._retire()
        return self._back_off(now_ns)

    def opened(self, served: int, unserved: int = 0) -> int:
        """The connection is set up and serves from now; ``served`` is the client's count
        of answered requests, which tells at its end whether it served anything.

        ``RETIRE`` if the window closed for the client while it reconnected, unless
        ``unserved`` requests are in flight to go out again on it (a close the last
        connection's reply announced left them unserved): it retires once they ended.
        """
        if self.retired:
            return SERVE
        self.state = OPEN
        self.connections += 1
        self.served_mark = served
        return self._retire() if self.finished and not unserved else SERVE

    # --- serving ----------------------------------------------------------------------

    def window_closed(self, in_flight: int) -> int:
        """Nothing more is to be issued (the window closed for the next request, or the
        ``--requests`` limit): ``RETIRE`` if the connection is open and idle."""
        self.finished = True
        if self.state == OPEN and not in_flight:
            return self._retire()
        return SERVE

    def nothing_in_flight(self) -> int:
        """The open connection's last request ended: ``RETIRE`` if the window closed."""
        if self.finished and self.state == OPEN:
            return self._retire()
        return SERVE

    def dropped(
        self,
        kind: str | None,
        served: int,
        now_ns: int,
        next_mark_ns: int,
        unserved: int = 0,
        idle: bool = False,
    ) -> int:
        """The open connection ended at ``now_ns``: ``CONNECT``, ``WAIT`` or ``RETIRE``.

        ``kind``: the connection error (``closed``, ``reset``, ...), or None when the
        exchange ended it on a reply or a deadline (a wrong or over-long reply, a
        timeout, a close the reply announced). ``served``: the client's count of answered
        requests now. A wrong or late reply is an answer; a connection the target ended with
        nothing served is not. ``unserved``: requests still in flight, to go out again
        on the next connection (behind a close the reply announced): it is made even
        when nothing more is to be issued. ``idle``: the target ended it with nothing in
        flight (``StreamExchange.fail`` said so): the next connect is at ``next_mark_ns``.
        """
        if self.retired:
            return SERVE
        if self._done(next_mark_ns) and not unserved:
            return self._retire()
        if idle:
            self.delay_ns = 0
            # A fresh connection timed out too: the next waits for the due time itself,
            # so a server that times out connections faster than the lead cannot loop.
            lead = IDLE_LEAD_NS if served != self.served_mark else 0
            if next_mark_ns - lead <= now_ns:
                self.state = CONNECTING
                return CONNECT
            self.wake_ns = next_mark_ns - lead
            self.state = BACKING_OFF
            return WAIT
        if kind is None or kind in (MISMATCHED, TIMEOUT) or served != self.served_mark:
            self.delay_ns = 0
            self.state = CONNECTING
            return CONNECT
        self.delay_ns = max(self.delay_ns, FIRST_BACKOFF_NS // 2)
        return self._back_off(now_ns)

    # --- the rules ----------------------------------------------------------------------

    def _done(self, next_mark_ns: int) -> bool:
        """Nothing left to reconnect for."""
        return self.finished or self.window.closed(next_mark_ns)

    def _back_off(self, now_ns: int) -> int:
        """Wait longer than last time (at most ``MAX_BACKOFF_NS``), jittered."""
        delay = self.delay_ns = min(MAX_BACKOFF_NS, self.delay_ns * 2 or FIRST_BACKOFF_NS)
        half = delay // 2
        self.wake_ns = now_ns + half + int((delay - half) * self.rand())
        self.state = BACKING_OFF
        return WAIT

    def _retire(self) -> int:
        """``RETIRE``, said once: later events of a retired client say ``SERVE``."""
        self.finished = True
        if self.retired:
            return SERVE
        self.retired = True
        self.state = RETIRED
        return RETIRE
