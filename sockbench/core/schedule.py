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

All times are integer nanoseconds relative to the run's start and computed from
``k`` directly, never accumulated, so there is no drift over long runs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from fractions import Fraction

from sockbench.errors import ConfigError

NS_PER_S = 1_000_000_000
MAX_RATE_PER_S = NS_PER_S  # one request per nanosecond; beyond that slots collide
_RATE_DENOMINATOR = 1_000_000  # rates are exact to 1e-6 of a request per second


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class ClientSchedule:
    """One client's due times: ``due(k) = offset + floor((slot + k·clients) · period)``.

    ``period_num / period_den`` is the exact global spacing ``1e9 / rate`` in ns.
    """

    slot: int
    clients: int
    offset_ns: int
    period_num: int
    period_den: int

    def due(self, k: int) -> int:
        """Due time of this client's ``k``-th request (k = 0, 1, ...), in ns after the start."""
        return self.offset_ns + (self.slot + k * self.clients) * self.period_num // self.period_den

    def index_at(self, t_ns: int) -> int:
        """The first ``k`` with ``due(k) >= t_ns``: how many of this client's are due before it."""
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


@dataclass(frozen=True)
class RateSchedule:
    """A total rate of ``rate_per_s`` requests per second shared by ``clients`` clients.

    Deterministic for a given ``seed``: several workers building the same schedule
    agree on it, so each can take the clients it runs with :meth:`client`.
    """

    rate_per_s: float
    clients: int
    seed: int = 0
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
        object.__setattr__(self, "offset_ns", rng.randrange(max(1, math.floor(period))))
        object.__setattr__(self, "_slots", tuple(rng.sample(range(self.clients), self.clients)))

    def client(self, index: int) -> ClientSchedule:
        """The schedule of client ``index`` (0-based)."""
        return ClientSchedule(
            slot=self._slots[index],
            clients=self.clients,
            offset_ns=self.offset_ns,
            period_num=self.period_num,
            period_den=self.period_den,
        )

    def total_before(self, t_ns: int) -> int:
        """How many requests, over all clients, are due before ``t_ns``."""
        need = (t_ns - self.offset_ns) * self.period_den
        return max(0, _ceil_div(need, self.period_num))

    @property
    def interval_ns(self) -> float:
        """Time between two requests of one client."""
        return self.clients * self.period_num / self.period_den
