"""Open-loop send schedules: when each client is due to send its k-th request.

An open-loop run sends at a fixed total rate whatever the server's latency, and
measures each request from the moment it was *due*, so a stall shows up as the
queueing delay it causes instead of as fewer samples (coordinated omission).

Trade-off: independent random start phases per client would keep clients out of
lockstep, but they cluster (several clients firing within microseconds of each
other) and so send in bursts. Instead the run has one global sequence of due
times exactly ``1/rate`` apart, starting at a random offset, and each client owns
every ``clients``-th slot of it, at a position given by a seeded random
permutation. Each client still sends every ``clients/rate`` seconds with its own
phase in ``[0, interval)``, no two clients fire together, and the total number
of due times in any window is ``rate × window`` to within one request. A rate
below the client count simply gives each client an interval above one second
(wrk2 rounds it to zero and floods).

With a ramp (``--ramp``) the rate rises linearly from 0 to ``rate`` over
``ramp_ns`` and stays there, as Locust's spawn rate does: the global sequence is
the inverse of the integrated rate, ``n = rate·t²/(2·ramp)`` during the ramp and
``n = rate·(t - ramp/2)`` after it. Each request's time is the floor of an exact
rational (an integer square root during the ramp), so the slots stay ordered and the
count due by any time is exact to within one request.

All times are integer nanoseconds relative to the run's start and computed from
``k`` directly, never accumulated, so there is no drift over long runs.
:class:`StartSchedule` does the same for when each client first connects: spread
over ``--ramp`` in closed loop, and no faster than ``--connect-rate``.

Arrivals (``--arrival``): the above is ``uniform``, the smoothest schedule a rate can
have, and so the one that queues least. ``poisson`` makes each client's requests a
Poisson process of rate ``rate/clients`` (independent exponential gaps, as mutilate,
Lancet and Treadmill send), so the run's total is a Poisson process of ``rate``: the
independent arrivals of many users, with the bursts that raise a server's tail.
:class:`PoissonClientSchedule` keeps the same guarantees in its own way: each client
walks a fixed-point *count* ``x`` (in slots of the global sequence, 32 fractional bits)
by exponential steps of mean ``clients`` slots, as exact integer sums, never accumulated
floats, and its due time is that count's time, ``floor(x·period)``, or with a ramp
:func:`ramped_due` of it: the time transform that turns a steady Poisson process into one
whose rate follows the ramp, so ``--ramp`` works with it too. The steps come from a
generator seeded by ``(seed, client index in the run)`` alone, so every worker that
builds client ``i`` builds the same due times.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

from sockbench.core.kinds import Arrival
from sockbench.errors import ConfigError

NS_PER_S = 1_000_000_000
MAX_RATE_PER_S = NS_PER_S  # one request per nanosecond; beyond that slots collide
_RATE_DENOMINATOR = 1_000_000  # rates are exact to 1e-6 of a request per second


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def ramped_due(n: int, period_num: int, period_den: int, ramp_ns: int) -> int:
    """When the ``n``-th request of the global sequence is due, ns after the ramp began.

    During the ramp (``n·period < ramp/2``): ``floor(sqrt(2·n·ramp·period))``; after it,
    ``floor(n·period + ramp/2)``. Both meet at ``ramp`` and never decrease.
    """
    if 2 * n * period_num < ramp_ns * period_den:
        # floor(sqrt(x)) == isqrt(floor(x)) for x >= 0
        return math.isqrt(2 * n * ramp_ns * period_num // period_den)
    return (2 * n * period_num + ramp_ns * period_den) // (2 * period_den)


def ramped_first(u_ns: int, period_num: int, period_den: int, ramp_ns: int) -> int:
    """The first ``n`` with ``ramped_due(n) >= u_ns`` (the inverse of :func:`ramped_due`)."""
    if u_ns <= 0:
        return 0
    if u_ns <= ramp_ns:  # sqrt(2·n·ramp·p) >= u  <=>  n >= u² / (2·ramp·p)
        return _ceil_div(u_ns * u_ns * period_den, 2 * ramp_ns * period_num)
    return _ceil_div((2 * u_ns - ramp_ns) * period_den, 2 * period_num)


class ClientArrivals(Protocol):
    """One client's due times, in ns after the run's start, whatever the arrival process.

    The drivers ask ``due(k)`` for ``k`` = 0, 1, 2, ... (again for the same ``k`` while a
    request waits); any order is answered correctly, that one cheaply.
    """

    def due(self, k: int) -> int:
        """Due time of this client's ``k``-th request (k = 0, 1, ...)."""
        ...

    def index_at(self, t_ns: int) -> int:
        """The first ``k`` with ``due(k) >= t_ns``."""
        ...

    @property
    def phase_ns(self) -> int:
        """Due time of the first request."""
        ...

    @property
    def interval_ns(self) -> float:
        """Mean time between two of this client's requests."""
        ...


@dataclass(frozen=True)
class ClientSchedule:
    """One client's due times: ``due(k) = offset + floor((slot + k·clients) · period)``.

    ``period_num / period_den`` is the exact global spacing ``1e9 / rate`` in ns; with
    ``ramp_ns`` the global sequence follows :func:`ramped_due` instead.
    """

    slot: int
    clients: int
    offset_ns: int
    period_num: int
    period_den: int
    ramp_ns: int = 0

    def due(self, k: int) -> int:
        """Due time of this client's ``k``-th request (k = 0, 1, ...), in ns after the start."""
        n = self.slot + k * self.clients
        if self.ramp_ns:
            return self.offset_ns + ramped_due(n, self.period_num, self.period_den, self.ramp_ns)
        return self.offset_ns + n * self.period_num // self.period_den

    def index_at(self, t_ns: int) -> int:
        """The first ``k`` with ``due(k) >= t_ns``: how many of this client's are due before it."""
        if self.ramp_ns:
            n = ramped_first(t_ns - self.offset_ns, self.period_num, self.period_den, self.ramp_ns)
            return max(0, _ceil_div(n - self.slot, self.clients))
        # floor(x) >= n  <=>  x >= n for an integer n, so this is exact.
        need = (t_ns - self.offset_ns) * self.period_den - self.slot * self.period_num
        return max(0, _ceil_div(need, self.clients * self.period_num))

    @property
    def phase_ns(self) -> int:
        """Due time of the first request, in ``[0, interval_ns)``."""
        return self.due(0)

    @property
    def interval_ns(self) -> float:
        """Time between two of this client's requests (exact on average; individual gaps
        differ by at most 1 ns)."""
        return self.clients * self.period_num / self.period_den


def due_between(arrivals: Sequence[ClientArrivals], start_ns: int, end_ns: int) -> int | None:
    """How many of these clients' requests are due in [``start_ns``, ``end_ns``) (ns after
    the schedule's start): O(1) a client. None where one is Poisson: its count is a walk
    through every due time (and its cursor is the sender's, not to be moved)."""
    if not all(isinstance(a, ClientSchedule) for a in arrivals):
        return None
    return sum(a.index_at(end_ns) - a.index_at(start_ns) for a in arrivals)


_FRACTION_BITS = 32  # a Poisson client's count x is in 2^-32 slots of the global sequence
_LEHMER = 0xDA942042E4DD58B5  # a 128-bit multiplicative generator (Lemire's lehmer64)
_STATE = (1 << 128) - 1
_UNIT = 2.0**-53  # (top 53 bits + 0.5) · 2^-53 is uniform in (0, 1), never 0 or 1
_log = math.log


def _client_state(seed: int, client: int) -> int:
    """The generator's starting state for client ``client`` of a run seeded ``seed``:
    odd (the generator's full period), and the same on every worker and platform."""
    digest = hashlib.blake2b(
        f"sockbench arrivals {seed} {client}".encode(), digest_size=16
    ).digest()
    return int.from_bytes(digest, "little") | 1


class PoissonClientSchedule:
    """One client's Poisson arrivals: exponential gaps of mean ``clients`` global slots.

    ``x_k`` (the count at which request ``k`` is due, in 2^-32 slots) is the integer sum of
    ``k + 1`` gaps, ``floor(-ln(u)·clients·2^32)`` with ``u`` uniform in (0, 1) from a
    128-bit multiplicative congruential generator's top 53 bits (period 2^126, each client
    starting at a hashed point of it: two clients' streams overlapping in a run is as
    likely as a 100-bit hash colliding). ``due(k)`` is ``floor(x_k·period)``, or
    :func:`ramped_due` of ``x_k`` with a ramp: exact integer arithmetic, so a due time
    never drifts, whatever ``k``.

    A sum has no closed form, so the schedule keeps a cursor (``k``, ``x_k``, the
    generator's state): the next ``k`` costs one step, the same ``k`` nothing, a later one
    a step per request skipped, an earlier one a walk from the first request. Memory stays
    a few integers whatever is asked.
    """

    __slots__ = (
        "_den", "_due", "_k", "_origin", "_scale", "_state", "_x", "clients",
        "period_den", "period_num", "ramp_ns",
    )  # fmt: skip

    def __init__(
        self,
        seed: int,
        client: int,
        clients: int,
        period_num: int,
        period_den: int,
        ramp_ns: int = 0,
    ) -> None:
        self.clients = clients
        self.period_num = period_num
        self.period_den = period_den
        self.ramp_ns = ramp_ns
        self._den = period_den << _FRACTION_BITS
        self._scale = -float(clients << _FRACTION_BITS)  # ln(u) < 0: a positive gap
        self._origin = _client_state(seed, client)
        self._rewind()

    def _rewind(self) -> None:
        """Back to before the first request (``k = -1``, at count 0)."""
        self._k = -1
        self._x = 0
        self._due = 0
        self._state = self._origin

    def _step(self) -> None:
        """On to the next request: one exponential gap."""
        state = self._state * _LEHMER & _STATE
        self._state = state
        x = self._x + int(_log(((state >> 75) + 0.5) * _UNIT) * self._scale)
        self._x = x
        self._k += 1
        if self.ramp_ns:
            self._due = ramped_due(x, self.period_num, self._den, self.ramp_ns)
        else:
            self._due = x * self.period_num // self._den

    def due(self, k: int) -> int:
        """Due time of this client's ``k``-th request (k = 0, 1, ...), in ns after the start."""
        if k == self._k:
            return self._due
        if k != self._k + 1 or self.ramp_ns:
            if k < self._k:
                self._rewind()
            while self._k < k:
                self._step()
            return self._due
        # The hot path (the pump asks for the next request after each send): _step, inline.
        state = self._state * _LEHMER & _STATE
        self._state = state
        x = self._x + int(_log(((state >> 75) + 0.5) * _UNIT) * self._scale)
        self._x = x
        self._k = k
        due = self._due = x * self.period_num // self._den
        return due

    def index_at(self, t_ns: int) -> int:
        """The first ``k`` with ``due(k) >= t_ns`` (the cursor moves there)."""
        if self._k < 0 or self._due >= t_ns:
            if self._k >= 0:  # somewhere before the cursor: walk again from the start
                self._rewind()
            self._step()
        while self._due < t_ns:
            self._step()
        return self._k

    @property
    def phase_ns(self) -> int:
        """Due time of the first request: exponential, of mean :attr:`interval_ns`."""
        return self.due(0)

    @property
    def interval_ns(self) -> float:
        """Mean time between two of this client's requests (gaps are exponential)."""
        return self.clients * self.period_num / self.period_den


@dataclass(frozen=True)
class RateSchedule:
    """A total rate of ``rate_per_s`` requests per second shared by ``clients`` clients.

    Deterministic for a given ``seed``: several workers building the same schedule
    agree on it, so each can take the clients it runs with :meth:`client`.
    """

    rate_per_s: float
    clients: int
    seed: int = 0
    ramp_ns: int = 0  # the rate rises linearly from 0 over this long (--ramp)
    arrival: Arrival = Arrival.UNIFORM
    period_num: int = field(init=False, repr=False)
    period_den: int = field(init=False, repr=False)
    offset_ns: int = field(init=False, repr=False)
    _slots: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_per_s) and 0 < self.rate_per_s <= MAX_RATE_PER_S):
            raise ConfigError(
                f"rate must be above 0 and at most {MAX_RATE_PER_S} requests/s, "
                f"got {self.rate_per_s}"
            )
        if self.clients < 1:
            raise ConfigError(f"an open-loop rate needs at least 1 client, got {self.clients}")
        rate = Fraction(self.rate_per_s).limit_denominator(_RATE_DENOMINATOR)
        period = NS_PER_S / rate
        rng = random.Random(self.seed)
        object.__setattr__(self, "period_num", period.numerator)
        object.__setattr__(self, "period_den", period.denominator)
        if self.arrival is Arrival.POISSON:  # no global sequence: each client draws its own
            object.__setattr__(self, "offset_ns", 0)
            object.__setattr__(self, "_slots", ())
            return
        object.__setattr__(self, "offset_ns", rng.randrange(max(1, math.floor(period))))
        object.__setattr__(self, "_slots", tuple(rng.sample(range(self.clients), self.clients)))

    def client(self, index: int) -> ClientArrivals:
        """The schedule of client ``index`` (0-based, its number in the run)."""
        if self.arrival is Arrival.POISSON:
            if not 0 <= index < self.clients:
                raise IndexError(f"client {index} of {self.clients}")
            return PoissonClientSchedule(
                self.seed, index, self.clients, self.period_num, self.period_den, self.ramp_ns
            )
        return ClientSchedule(
            slot=self._slots[index],
            clients=self.clients,
            offset_ns=self.offset_ns,
            period_num=self.period_num,
            period_den=self.period_den,
            ramp_ns=self.ramp_ns,
        )

    def total_before(self, t_ns: int) -> int:
        """How many requests, over all clients, are due before ``t_ns`` (Poisson: a walk
        through every client's, O(requests))."""
        if self.arrival is Arrival.POISSON:
            return sum(self.client(i).index_at(t_ns) for i in range(self.clients))
        if self.ramp_ns:
            u = t_ns - self.offset_ns
            return ramped_first(u, self.period_num, self.period_den, self.ramp_ns)
        need = (t_ns - self.offset_ns) * self.period_den
        return max(0, _ceil_div(need, self.period_num))

    @property
    def interval_ns(self) -> float:
        """Time between two requests of one client (Poisson: on average)."""
        return self.clients * self.period_num / self.period_den


@dataclass(frozen=True)
class StartSchedule:
    """When each of a worker's ``here`` clients (of the run's ``clients``) first connects.

    Client ``i`` starts ``i·ramp/here`` after the start (``--ramp`` in closed loop: the
    clients come up linearly, each worker spreading its share over the whole ramp), and
    no earlier than ``i / (connect_rate·here/clients)`` (``--connect-rate``: the run's
    cap, shared by the workers in proportion to their clients). Exact integer ns.
    """

    here: int
    clients: int
    ramp_ns: int = 0
    connect_rate: float | None = None

    def start_ns(self, i: int) -> int:
        ramp = i * self.ramp_ns // self.here if self.ramp_ns else 0
        if not self.connect_rate:
            return ramp
        rate = Fraction(self.connect_rate).limit_denominator(_RATE_DENOMINATOR)
        paced = _ceil_div(
            i * self.clients * NS_PER_S * rate.denominator, self.here * rate.numerator
        )
        return max(ramp, paced)

    @property
    def span_ns(self) -> int:
        """When the last client starts."""
        return self.start_ns(self.here - 1) if self.here else 0
