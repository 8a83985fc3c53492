"""Which key a request uses: memtier_benchmark's key patterns, one per kind (pure).

``--key-pattern SET:GET`` names a pattern for each side of the mix (one letter: both):
R uniform at random, S sequential (each client walks the keys in order, client *c*
starting at key *c*), G gaussian (centred on the middle of the range, sigma = range / 6),
P parallel (the range cut into one slice per client, each walking its own slice in
order) and Z zipf (rank *k* drawn with probability proportional to 1/k^s, ``--zipf s``;
the hottest key is ``--key-minimum``).

Zipf draws use rejection-inversion (Hörmann and Derflinger, 1996, as in Apache
Commons' sampler). The trade-off against a precomputed CDF and a bisect: no table,
so a range of 10^12 keys costs what 10 does, for about two logarithms and an
exponential per draw and a rejection rate under 1 % at s near 1; the draws are exact
(the method inverts the hat's integral in closed form and accepts by the true mass).
Its uniforms are hashed from ``--seed``, the client and its count (:func:`hashed_uniform`),
so each client's zipf keys are the same run after run, whatever the other clients do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from sockbench.core.pickling import PicklesByFields
from sockbench.errors import ConfigError

KEY_PATTERNS = "RSGPZ"
PATTERN_NAMES = {
    "R": "random", "S": "sequential", "G": "gaussian", "P": "parallel", "Z": "zipf",
}  # fmt: skip
ZIPF_MAX = 5.0  # memtier's (0, 5): higher exponents put every draw on the first keys

#: ``picker(client, n)``: the key of client ``client``'s ``n``-th request of one kind.
Picker = Callable[[int, int], int]


def parse_key_pattern(text: str) -> tuple[str, str]:
    """``"S:R"`` -> ("S", "R"): the SETs' pattern and the GETs'; ``"Z"`` is both."""
    first, sep, second = text.strip().upper().partition(":")
    pair = (first, second if sep else first)
    if not all(len(p) == 1 and p in KEY_PATTERNS for p in pair):
        raise ConfigError(
            f"unknown --key-pattern {text!r}; choose one of {_names()}, or SET:GET like S:R"
        )
    return pair


def parse_command_key_patterns(
    letters: tuple[str, ...], templates: int, default: str
) -> tuple[str, ...]:
    """Each ``--command`` template's pattern (memtier's ``--command-key-pattern``): one
    letter each, in order; none given: ``default`` (the --key-pattern letter) for all."""
    for letter in letters:
        if not (len(letter) == 1 and letter.upper() in KEY_PATTERNS):
            raise ConfigError(
                f"unknown --command-key-pattern {letter!r}; choose one of {_names()}, one "
                "letter per --command"
            )
    return tuple(p.upper() for p in letters) or (default,) * templates


def _names() -> str:
    return ", ".join(f"{p} ({name})" for p, name in PATTERN_NAMES.items())


def check_zipf(exponent: float) -> None:
    if not 0 < exponent < ZIPF_MAX:
        raise ConfigError(f"--zipf must be between 0 and {ZIPF_MAX:g} (exclusive), got {exponent}")


def _log1p_over(x: float) -> float:
    """log(1 + x) / x, exact near 0."""
    return math.log1p(x) / x if abs(x) > 1e-8 else 1 - x * (0.5 - x * (1 / 3 - 0.25 * x))


def _expm1_over(x: float) -> float:
    """(e^x - 1) / x, exact near 0."""
    return math.expm1(x) / x if abs(x) > 1e-8 else 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x))


@dataclass(frozen=True)
class Zipf(PicklesByFields):
    """Ranks 1..``n`` with P(k) = k^-s / H(n, s), drawn from ``uniform`` (``random()``)."""

    n: int
    s: float

    def _h(self, x: float) -> float:
        return math.exp(-self.s * math.log(x))

    def _h_integral(self, x: float) -> float:
        log_x = math.log(x)
        return _expm1_over((1 - self.s) * log_x) * log_x

    def _h_integral_inverse(self, x: float) -> float:
        t = max(x * (1 - self.s), -1.0)
        return math.exp(_log1p_over(t) * x)

    def sampler(self, uniform: Callable[[], float]) -> Callable[[], int]:
        """``draw()``: one rank, from ``uniform()``'s draws."""
        keyed = self.keyed(lambda client, n, attempt: uniform())
        return lambda: keyed(0, 0)

    def keyed(self, uniform: Callable[[int, int, int], float]) -> Picker:
        """``draw(client, n)``: one rank, from ``uniform(client, n, attempt)`` (attempt 0,
        1, ... while the draw is rejected). A closure with the hat's functions inlined,
        as the hot path wants (a method call costs what the arithmetic does)."""
        n_ranks, s = self.n, self.s
        one_minus = 1 - s
        log, exp, log1p = math.log, math.exp, math.log1p
        integral, h = self._h_integral, self._h
        x1 = integral(1.5) - 1.0
        top = integral(n_ranks + 0.5)
        squeeze = 2 - self._h_integral_inverse(integral(2.5) - h(2))
        span = x1 - top

        def draw(client: int, n: int) -> int:
            attempt = 0
            while True:
                u = top + uniform(client, n, attempt) * span
                t = max(u * one_minus, -1.0)  # _h_integral_inverse(u), inline
                x = exp((log1p(t) / t if abs(t) > 1e-8 else 1 - t * (0.5 - t / 3)) * u)
                k = int(x + 0.5)
                k = 1 if k < 1 else n_ranks if k > n_ranks else k
                if k - x <= squeeze:
                    return k
                log_k = log(k + 0.5)  # _h_integral(k + 0.5) - _h(k), inline
                w = one_minus * log_k
                hk = (math.expm1(w) / w if abs(w) > 1e-8 else 1 + w / 2) * log_k
                if u >= hk - exp(-s * log(k)):
                    return k
                attempt += 1

        return draw

    def probability(self, k: int) -> float:
        """The exact mass of rank ``k`` (for tests and expectations; O(n))."""
        return math.pow(k, -self.s) / sum(math.pow(i, -self.s) for i in range(1, self.n + 1))


_MASK = (1 << 64) - 1


def hashed_uniform(seed: int, stream: int = 0) -> Callable[[int, int, int], float]:
    """``uniform(client, n, attempt)`` in [0, 1), a function of them, ``seed`` and
    ``stream`` (each kind its own, so a GET's n-th key is not the n-th SET's): a client's
    n-th draw is the same whatever the other clients did and however many workers share
    them (a generator per client would cost kilobytes each at 100k clients).

    Trade-off: CPython's tuple hash (xxHash rounds, in C; an int tuple's does not depend
    on ``PYTHONHASHSEED``) and one xorshift-multiply round on top, where splitmix64 in
    Python took three times as long; its 53 top bits pass a chi-square over 1,000 bins
    and show no lag-1 correlation along n (tests/core/test_key_value.py)."""
    base = hash((seed, stream))

    def uniform(client: int, n: int, attempt: int) -> float:
        x = hash((base, client, n, attempt)) & _MASK
        return (((x ^ (x >> 29)) * 0xBF58476D1CE4E5B9 & _MASK) >> 11) * 2.0**-53

    return uniform


def expected_distinct(n: int, s: float, draws: int) -> float:
    """How many distinct ranks ``draws`` zipf draws hit, in expectation (what a server's
    key count should be after that many zipf SETs into an empty store); O(n)."""
    weights = [math.pow(k, -s) for k in range(1, n + 1)]
    total = sum(weights)
    return sum(1 - math.pow(1 - w / total, draws) for w in weights)


def picker(
    pattern: str,
    lowest: int,
    space: int,
    clients: int,
    rng: random.Random,
    zipf: float,
    seed: int = 0,
    stream: int = 0,
) -> Picker:
    """The pattern's ``picker(client, n)`` over keys ``lowest .. lowest + space - 1``;
    ``clients``: how many share the range (P's slices); ``rng``: the seeded generator R
    and G draw from (one per protocol object: per worker); Z's keys are a function of
    ``seed``, ``stream`` (the kind), the client and n (:func:`hashed_uniform`): the same
    per client, always."""
    if pattern == "R":
        rnd = rng.random
        return lambda client, n: lowest + int(rnd() * space)
    if pattern == "S":
        return lambda client, n: lowest + (client + n) % space
    if pattern == "P":
        # Slice c is [c*space//clients, (c+1)*space//clients): near-equal, all keys covered.
        def parallel(client: int, n: int) -> int:
            c = client % clients
            first = c * space // clients
            width = (c + 1) * space // clients - first
            return lowest + first + n % width if width else lowest + n % space

        return parallel
    if pattern == "Z":
        draw = Zipf(space, zipf).keyed(hashed_uniform(seed, stream))
        return lambda client, n: lowest - 1 + draw(client, n)
    gauss = rng.gauss

    def gaussian(client: int, n: int) -> int:
        key = int(gauss(space / 2, space / 6))
        return lowest + min(max(key, 0), space - 1)

    return gaussian
