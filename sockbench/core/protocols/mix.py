"""Options every built-in protocol reads, and the command mix of key/value stores (pure).

The mix follows memtier_benchmark: ``--ratio SETS:GETS`` repeats SETS sets then GETS
gets (``--command`` templates: each template its ``--command-ratio`` times in turn);
``--key-pattern`` picks each side's keys (:mod:`~sockbench.core.protocols.keys`), over
``--key-minimum`` .. ``--key-maximum``; ``--value-size`` is one size or a range drawn
uniformly per SET; ``--multi-key N`` makes each GET look up N keys.
Sequential keys count each kind apart, so gets walk over the keys sets wrote.
Random draws come from one seeded generator per protocol object (per worker): runs
repeat their key sequence for a given ``--seed`` and worker count.

A request is a format per kind with holes for the keys (``%(k0)012d`` ...) and the value
(``%(n)d``, its size, and ``%(v)b``): precomputed once, only the holes filled per request.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from sockbench.core import bounds
from sockbench.core.pickling import PicklesByFields
from sockbench.core.protocols.contract import BatchFrom, note
from sockbench.core.protocols.http import HTTP_DEFAULTS, HttpOptions
from sockbench.core.protocols.keys import (
    Picker,
    check_zipf,
    parse_command_key_patterns,
    parse_key_pattern,
    picker,
)
from sockbench.errors import ConfigError

KEY_DIGITS = 12  # keys are b"key:%012d" (as redis-benchmark), 16 bytes whatever the number
KINDS = ("set", "get")
SET, GET = 0, 1  # indexes into KINDS
MAX_MULTI_KEY = 1000  # keys per multi-get: memtier takes any, servers cap the line
BATCH_FORMATS = 512  # a plain mix's joined formats kept (CommandMix.batch_from)
#: The hole names of a format's keys: ``%(k0)012d``, ``%(k1)012d``, ...
KEY_HOLES = tuple(b"k%d" % i for i in range(MAX_MULTI_KEY))


@dataclass(frozen=True)
class ProtocolOptions(PicklesByFields):
    """What a protocol (built-in or plugin) is built from; all checked already."""

    payload: int = 64
    request: bytes | None = None  # --send / --send-file
    expect: str = "echo"  # echo | exact | size | until (the --expect options)
    expect_value: bytes | int | None = None
    value_size: int = 32
    key_space: int = 10_000_000
    key_pattern: str = "R"  # one letter, or SET:GET (keys.parse_key_pattern)
    ratio: tuple[int, int] = (1, 10)
    seed: int = 0
    http: HttpOptions = HTTP_DEFAULTS  # --protocol http's request
    key_minimum: int = 0  # the lowest key: keys are key_minimum .. + key_space - 1
    key_prefix: str = "key:"
    zipf: float = 1.0  # Z's exponent
    value_size_max: int = 0  # a --value-size range's top; 0: every value is value_size
    multi_key: int = 1  # keys per GET (MGET / get k1 k2 ...)
    commands: tuple[str, ...] = ()  # --command templates (redis)
    command_ratios: tuple[int, ...] = ()  # each template's share; () all 1
    command_key_patterns: tuple[str, ...] = ()  # each template's pattern; () --key-pattern's
    clients: int = 1  # how many clients share the key range (P's slices)

    @property
    def value_sizes(self) -> tuple[int, int]:
        """The smallest and largest value (the same for one size)."""
        return self.value_size, max(self.value_size, self.value_size_max)


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


def parse_size_range(text: str) -> tuple[int, int]:
    """``"32-1024"`` -> (32, 1024); ``"100"`` -> (100, 100) (sizes as --payload reads them)."""
    from sockbench.core.units import parse_size

    low, sep, high = str(text).strip().partition("-")
    try:
        sizes = (parse_size(low), parse_size(high) if sep else parse_size(low))
    except (ConfigError, ValueError):
        raise ConfigError(
            f"malformed --value-size {text!r}; expected BYTES or MIN-MAX like 32-1024"
        ) from None
    if sizes[0] > sizes[1]:
        raise ConfigError(f"--value-size {text!r}: the range's low end is above its high end")
    return sizes


def command_key_patterns(options: ProtocolOptions) -> tuple[str, ...]:
    """Each ``--command`` template's key pattern, in order (none without templates)."""
    default = parse_key_pattern(options.key_pattern)[0]
    return parse_command_key_patterns(options.command_key_patterns, len(options.commands), default)


def check_key_options(options: ProtocolOptions) -> None:
    """The key/value options, together: one line for the first that does not hold."""
    space, lowest = options.key_space, options.key_minimum
    if space < 1:
        raise ConfigError(f"--key-space must be at least 1, got {space}")
    if lowest < 0 or lowest + space > 10**KEY_DIGITS:
        raise ConfigError(
            f"the keys must lie in 0 .. 10^{KEY_DIGITS} - 1 (--key-minimum {lowest}, "
            f"--key-space {space})"
        )
    command_key_patterns(options)  # parses --key-pattern, and each template's
    check_zipf(options.zipf)  # Z's or not: out of range it is a mistake, never ignored
    prefix = options.key_prefix
    if len(prefix) > 200 or not prefix.isprintable() or any(c.isspace() for c in prefix):
        raise ConfigError(
            f"--key-prefix {prefix!r}: printable, no spaces, at most 200 characters "
            "(memcached keys are one word of at most 250 bytes)"
        )
    low, high = options.value_sizes
    if low < 1:
        raise ConfigError(f"--value-size must be at least 1 byte, got {low}")
    bounds.stream_message(high, "--value-size")  # every SET builds a value this big
    if not 1 <= options.multi_key <= MAX_MULTI_KEY:
        raise ConfigError(
            f"--multi-key must be between 1 and {MAX_MULTI_KEY}, got {options.multi_key}"
        )


def value_bytes(size: int) -> bytes:
    """A printable value, so a server's logs and MONITOR stay readable."""
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789"
    return (alphabet * (size // len(alphabet) + 1))[:size]


def key_hole(options: ProtocolOptions, index: int = 0) -> bytes:
    """A key as a format's hole: the prefix (``%`` escaped) and 12 digits."""
    return options.key_prefix.encode().replace(b"%", b"%%") + b"%%(k%d)0%dd" % (index, KEY_DIGITS)


def key_length(options: ProtocolOptions) -> int:
    return len(options.key_prefix.encode()) + KEY_DIGITS


@dataclass(frozen=True)
class KindFormat(PicklesByFields):
    """One kind of request: its format, how many keys it names (distinct holes) and
    whether it carries a value (``%(n)d``, ``%(v)b``); ``lookups``: keys it reads (a hit
    or a miss each; 0: not a read)."""

    name: str
    text: bytes
    keys: int = 1
    data: bool = False
    lookups: int = 0


class CommandMix:
    """Which kind, keys and value size client ``client``'s ``seq``-th request uses.

    ``ratios``: each kind's requests per cycle, in turn (the SET/GET mix: ``--ratio``);
    ``patterns``: each kind's key pattern (the mix: ``--key-pattern``'s two sides).
    """

    __slots__ = (
        "_random", "ends", "key_minimum", "key_space", "patterns", "period", "pickers",
        "ratios", "sets", "sizes", "starts",
    )  # fmt: skip

    def __init__(
        self,
        options: ProtocolOptions,
        ratios: tuple[int, ...] | None = None,
        patterns: tuple[str, ...] | None = None,
    ) -> None:
        self.ratios = ratios or options.ratio
        self.period = sum(self.ratios)
        self.starts = tuple(sum(self.ratios[:i]) for i in range(len(self.ratios)))
        self.ends = tuple(start + n for start, n in zip(self.starts, self.ratios, strict=True))
        self.sets = self.ratios[0]
        self.key_space = options.key_space
        self.key_minimum = options.key_minimum
        self.patterns = patterns or parse_key_pattern(options.key_pattern)
        rng = random.Random(options.seed)
        self._random = rng.random
        space, clients = options.key_space, max(options.clients, 1)
        self.pickers: tuple[Picker, ...] = tuple(
            picker(p, options.key_minimum, space, clients, rng, options.zipf, options.seed, kind)
            for kind, p in enumerate(self.patterns)
        )
        self.sizes = options.value_sizes

    def kind_of(self, seq: int) -> int:
        return bisect_right(self.ends, seq % self.period)

    def is_set(self, seq: int) -> bool:
        return self.kind_of(seq) == SET

    def key(self, client: int, seq: int, index: int = 0, keys: int = 1) -> int:
        """Key ``index`` of the ``keys`` that request names (its kind's own walk)."""
        cycles, phase = divmod(seq, self.period)
        kind = bisect_right(self.ends, phase)
        n = cycles * self.ratios[kind] + phase - self.starts[kind]
        return self.pickers[kind](client, n * keys + index)

    def _fast(self, formats: tuple[KindFormat, ...]) -> bool:
        """The SET/GET mix with uniform keys from 0, one key and one value size: what
        the inline closures of :meth:`requests` serve."""
        return (
            len(formats) == 2
            and self.patterns == ("R", "R")
            and self.key_minimum == 0
            and all(f.keys == 1 and not f.data and f.text.count(b"%(k0)") == 1 for f in formats)
        )

    def requests(self, formats: tuple[KindFormat, ...]) -> Callable[[int, int], bytes]:
        """``request(client, seq)``: its kind's format with the holes filled.

        Trade-off: for the plain SET/GET mix (uniform keys from 0, one size, one key), one
        positional ``%`` per request with the key drawn inline and the command fixed when
        the ratio is, rather than calls to :meth:`key`: a call costs as much as the
        formatting. Anything else fills a dict of holes; the keys drawn are the same, in
        the same order, as :meth:`key` draws them.
        """
        if self._fast(formats):
            return self._fast_requests(*(f.text.replace(b"%(k0)", b"%") for f in formats))
        ends, period, ratios, starts, pickers = (
            self.ends, self.period, self.ratios, self.starts, self.pickers,
        )  # fmt: skip
        texts = tuple(f.text for f in formats)
        counts = tuple(f.keys for f in formats)
        data = tuple(f.data for f in formats)
        low, high = self.sizes
        spread = high - low + 1
        value = value_bytes(high)
        rnd = self._random

        def request(client: int, seq: int) -> bytes:
            cycles, phase = divmod(seq, period)
            kind = bisect_right(ends, phase)
            n = cycles * ratios[kind] + phase - starts[kind]
            pick = pickers[kind]
            count = counts[kind]
            if count == 1:
                holes: dict[bytes, int | bytes] = {b"k0": pick(client, n)}
            else:
                holes = {KEY_HOLES[i]: pick(client, n * count + i) for i in range(count)}
            if data[kind]:
                size = low + int(rnd() * spread) if spread > 1 else low
                holes[b"n"] = size
                holes[b"v"] = value[:size]
            return texts[kind] % holes

        return request

    def _fast_requests(self, set_format: bytes, get_format: bytes) -> Callable[[int, int], bytes]:
        sets, period = self.sets, self.period
        rnd, space = self._random, self.key_space
        if sets == period or sets == 0:
            only = set_format if sets else get_format
            return lambda client, seq: only % int(rnd() * space)
        return lambda client, seq: (
            (set_format if seq % period < sets else get_format) % int(rnd() * space)
        )

    def requests_from(
        self, formats: tuple[KindFormat, ...], request: Callable[[int, int], bytes]
    ) -> Callable[[int, int, int], list[bytes]]:
        """``requests_from(client, seq, count)``: ``request`` (:meth:`requests`) for each of
        ``count`` requests from ``seq``, in order, so the keys drawn are the same.

        Trade-off: the plain mix's formats by phase of the cycle in one comprehension, a
        ``%`` and a draw per request and no call; anything else calls ``request`` per
        request (its dict of holes costs more than the call)."""
        if not self._fast(formats):
            return lambda client, seq, count: [request(client, k) for k in range(seq, seq + count)]
        set_format, get_format = (f.text.replace(b"%(k0)", b"%") for f in formats)
        period, sets = self.period, self.sets
        by_phase = tuple(set_format if phase < sets else get_format for phase in range(period))
        rnd, space = self._random, self.key_space
        return lambda client, seq, count: [
            by_phase[k % period] % int(rnd() * space) for k in range(seq, seq + count)
        ]

    def batch_from(self, formats: tuple[KindFormat, ...], noted: bool) -> BatchFrom | None:
        """The contract's ``batch_from`` for the plain mix (None for any other): the
        batch's requests from one ``%`` of its formats joined, keys drawn as
        :meth:`requests_from` draws them, and its notes (none unless ``noted``: one kind
        of request), both kept per phase and count.

        Trade-off: a pipeline's refill is a few requests of fixed sizes (every kind's
        request is one size here), so the joined format and the notes are looked up,
        not built: one formatting and no list of requests per batch (at ``--pipeline 8``
        a refill's Python cost 369 ns a request where a ``%`` each, a join and a note
        each cost 594: docs/performance.md). At most ``BATCH_FORMATS`` are kept (a long
        cycle at a deep pipeline makes more), the rest joined per batch.
        """
        if not self._fast(formats):
            return None
        set_format, get_format = (f.text.replace(b"%(k0)", b"%") for f in formats)
        period, sets = self.period, self.sets
        by_phase = tuple(set_format if phase < sets else get_format for phase in range(period))
        each_note = tuple(
            note(len(fmt % 0), SET if phase < sets else GET) for phase, fmt in enumerate(by_phase)
        )
        rnd, space = self._random, self.key_space
        kept: dict[tuple[int, int], tuple[bytes, list[int]]] = {}

        def joined(phase: int, count: int) -> tuple[bytes, list[int]]:
            phases = [(phase + i) % period for i in range(count)]
            made = b"".join(by_phase[p] for p in phases), [each_note[p] for p in phases if noted]
            if len(kept) < BATCH_FORMATS:
                kept[phase, count] = made
            return made

        def batch(client: int, seq: int, count: int, built: bytes) -> tuple[bytes, list[int]]:
            phase = seq % period
            fmt, notes = kept.get((phase, count)) or joined(phase, count)
            if built:  # request ``seq`` is made: the rest's format
                count -= 1
                if not count:
                    return built, notes
                phase = (phase + 1) % period
                rest = (kept.get((phase, count)) or joined(phase, count))[0]
                return built + rest % tuple([int(rnd() * space) for _ in range(count)]), notes
            return fmt % tuple([int(rnd() * space) for _ in range(count)]), notes

        return batch

    def one_kind(self, formats: tuple[KindFormat, ...]) -> tuple[int, int] | None:
        """``(kind, request size)`` when every request is of one kind and size (one kind
        in the ratio, one value size; keys are all one width), else None."""
        used = [kind for kind, n in enumerate(self.ratios) if n]
        if len(used) > 1 or (formats[used[0]].data and self.sizes[0] != self.sizes[1]):
            return None
        kind = used[0]
        holes: dict[bytes, int | bytes] = dict.fromkeys(KEY_HOLES[: formats[kind].keys], 0)
        holes |= {b"n": self.sizes[0], b"v": value_bytes(self.sizes[0])}
        return kind, len(formats[kind].text % holes)

    def kind_index(self) -> Callable[[int, int], int]:
        """``kind_index(client, seq)`` (constant when one kind is in the ratio)."""
        used = [kind for kind, n in enumerate(self.ratios) if n]
        if len(used) == 1:
            only = used[0]
            return lambda client, seq: only
        sets, period, ends = self.sets, self.period, self.ends
        if len(self.ratios) == 2:
            return lambda client, seq: SET if seq % period < sets else GET
        return lambda client, seq: bisect_right(ends, seq % period)

    def kinds_from(self) -> Callable[[int, int, int], list[int]]:
        """``kinds_from(client, seq, count)``: :meth:`kind_index` of ``count`` requests from
        ``seq``: a slice of the cycle's kinds, repeated (a loop past a long batch)."""
        period = self.period
        cycle = [bisect_right(self.ends, phase) for phase in range(period)]
        ring = cycle * (2 + 64 // period)

        def kinds(client: int, seq: int, count: int) -> list[int]:
            start = seq % period
            if start + count <= len(ring):
                return ring[start : start + count]
            return [cycle[k % period] for k in range(seq, seq + count)]

        return kinds


class MixProtocol:
    """A mix of request kinds over a text protocol: what redis and memcache share.

    A subclass names itself and hands over a format per kind (:class:`KindFormat`),
    each kind's share per cycle and key pattern (None: ``--ratio`` and
    ``--key-pattern``'s SET:GET), its reply parser and, for kinds that read keys, how
    many of a reply's keys missed (``misses``: the contract's optional member).
    """

    def __init__(
        self,
        options: ProtocolOptions,
        formats: tuple[KindFormat, ...],
        check_reply: Callable[[bytearray, int, int], int],
        misses: Callable[[bytearray, int, int], int] | None = None,
        ratios: tuple[int, ...] | None = None,
        patterns: tuple[str, ...] | None = None,
        miss_reply: bytes | None = None,
    ) -> None:
        self.kinds = tuple(f.name for f in formats)
        self.mix = CommandMix(options, ratios, patterns)
        self.request = self.mix.requests(formats)
        self.requests_from = self.mix.requests_from(formats, self.request)
        self.one_kind = self.mix.one_kind(formats)
        self.kind_index = self.mix.kind_index()
        self.kinds_from = self.mix.kinds_from()
        self.batch_from = self.mix.batch_from(formats, self.one_kind is None)
        self.check_reply = check_reply
        self.options = options
        if misses is not None:
            self.lookups = tuple(f.lookups for f in formats)
            self.misses = misses
            self.miss_reply = miss_reply

    def kind(self, client: int, seq: int) -> str:
        return self.kinds[self.mix.kind_of(seq)]
