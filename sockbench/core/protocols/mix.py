"""Options every built-in protocol reads, and the command mix of key/value stores (pure).

The mix follows memtier_benchmark: ``--ratio SETS:GETS`` repeats SETS sets then GETS
gets; ``--key-pattern`` picks keys uniformly at random (R), sequentially (S) or
from a gaussian centred on the middle of the key space with sigma = space / 6 (G).
Sequential keys count sets and gets apart, so gets walk over the keys sets wrote.
Random keys come from one seeded generator per protocol object (per worker): runs
repeat their key sequence for a given ``--seed`` and worker count.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from sockbench.core import bounds
from sockbench.core.protocols.http import HTTP_DEFAULTS, HttpOptions
from sockbench.errors import ConfigError

KEY_PATTERNS = ("R", "S", "G")
KEY_DIGITS = 12  # keys are b"key:%012d" (as redis-benchmark), 16 bytes whatever the number
KINDS = ("set", "get")
SET, GET = 0, 1  # indexes into KINDS


@dataclass(frozen=True)
class ProtocolOptions:
    """What a protocol (built-in or plugin) is built from; all checked already."""

    payload: int = 64
    request: bytes | None = None  # --send / --send-file
    expect: str = "echo"  # echo | exact | size | until (the --expect options)
    expect_value: bytes | int | None = None
    value_size: int = 32
    key_space: int = 10_000_000
    key_pattern: str = "R"
    ratio: tuple[int, int] = (1, 10)
    seed: int = 0
    http: HttpOptions = HTTP_DEFAULTS  # --protocol http's request


def parse_ratio(text: str) -> tuple[int, int]:
    """``"1:10"`` -> (1, 10): sets then gets per cycle."""
    first, sep, second = text.strip().partition(":")
    try:
        sets, gets = int(first), int(second)
    except ValueError:
        raise ConfigError(f"malformed --ratio {text!r}; expected SETS:GETS like 1:10") from None
    if not sep or sets < 0 or gets < 0 or sets + gets == 0:
        raise ConfigError(f"malformed --ratio {text!r}; expected SETS:GETS like 1:10")
    return sets, gets


def check_key_options(key_space: int, key_pattern: str, value_size: int) -> None:
    if not 1 <= key_space <= 10**KEY_DIGITS:
        raise ConfigError(f"--key-space must be between 1 and 10^{KEY_DIGITS}, got {key_space}")
    if key_pattern not in KEY_PATTERNS:
        raise ConfigError(
            f"unknown --key-pattern {key_pattern!r}; choose R (random), S (sequential) "
            "or G (gaussian)"
        )
    if value_size < 1:
        raise ConfigError(f"--value-size must be at least 1 byte, got {value_size}")
    bounds.stream_message(value_size, "--value-size")  # every SET builds a value this big


def value_bytes(size: int) -> bytes:
    """A printable value, so a server's logs and MONITOR stay readable."""
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789"
    return (alphabet * (size // len(alphabet) + 1))[:size]


class CommandMix:
    """Which command and key client ``client``'s ``seq``-th request uses."""

    __slots__ = ("_gauss", "_random", "key_space", "pattern", "period", "sets")

    def __init__(self, options: ProtocolOptions) -> None:
        self.sets, gets = options.ratio
        self.period = self.sets + gets
        self.key_space = options.key_space
        self.pattern = options.key_pattern
        rng = random.Random(options.seed)
        self._random = rng.random
        self._gauss = rng.gauss

    def is_set(self, seq: int) -> bool:
        return seq % self.period < self.sets

    def key(self, client: int, seq: int) -> int:
        space = self.key_space
        if self.pattern == "R":
            return int(self._random() * space)
        if self.pattern == "S":
            # The n-th set (or get) of this client: sets and gets each walk the keys in order.
            cycles, phase = divmod(seq, self.period)
            sets_before = cycles * self.sets + min(phase, self.sets)
            n = sets_before if phase < self.sets else seq - sets_before
            return (client + n) % space
        key = int(self._gauss(space / 2, space / 6))
        return min(max(key, 0), space - 1)

    def requests(self, set_format: bytes, get_format: bytes) -> Callable[[int, int], bytes]:
        """``request(client, seq)``: ``set_format`` or ``get_format`` with the key put in
        (one ``%d`` each).

        Trade-off: one ``%`` per request, and for random keys (the default) the key drawn
        inline and the command fixed when the ratio is, rather than calls to
        :meth:`key`/:meth:`is_set`: a call costs as much as the formatting. The keys
        drawn are the same, in the same order.
        """
        sets, period = self.sets, self.period
        if self.pattern != "R":
            key = self.key
            return lambda client, seq: (
                (set_format if seq % period < sets else get_format) % key(client, seq)
            )
        rnd, space = self._random, self.key_space
        if sets == period or sets == 0:
            only = set_format if sets else get_format
            return lambda client, seq: only % int(rnd() * space)
        return lambda client, seq: (
            (set_format if seq % period < sets else get_format) % int(rnd() * space)
        )

    def one_kind(self, set_format: bytes, get_format: bytes) -> tuple[int, int] | None:
        """``(kind, request size)`` when every request is of one kind and size (a ratio
        of ``N:0`` or ``0:N``; keys are all one width), else None."""
        if self.sets and self.sets < self.period:
            return None
        return (SET, len(set_format % 0)) if self.sets else (GET, len(get_format % 0))

    def kind_index(self) -> Callable[[int, int], int]:
        """``kind_index(client, seq)``: ``SET`` or ``GET`` (constant when the ratio is)."""
        sets, period = self.sets, self.period
        if sets == period or sets == 0:
            only = SET if sets else GET
            return lambda client, seq: only
        return lambda client, seq: SET if seq % period < sets else GET


class MixProtocol:
    """A SET/GET ``--ratio`` mix over a text protocol: what redis and memcache share.

    A subclass names itself and hands over its two request formats (SET and GET, one
    ``%d`` for the key's digits each) and its reply parser.
    """

    kinds = KINDS

    def __init__(
        self,
        options: ProtocolOptions,
        formats: tuple[bytes, bytes],
        check_reply: Callable[[bytearray, int, int], int],
    ) -> None:
        self.mix = CommandMix(options)
        self.request = self.mix.requests(*formats)
        self.one_kind = self.mix.one_kind(*formats)
        self.kind_index = self.mix.kind_index()
        self.check_reply = check_reply
        self.options = options

    def kind(self, client: int, seq: int) -> str:
        return KINDS[SET] if self.mix.is_set(seq) else KINDS[GET]
