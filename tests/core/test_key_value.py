"""memtier's key/value options, without sockets: key patterns (zipf among them), value
size ranges, multi-key GETs, ``--command`` templates, and hits and misses per kind."""

from __future__ import annotations

import random
import re
from collections import Counter
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockbench.core.exchange import OK, RequestWindow, StreamExchange
from sockbench.core.protocols import ProtocolOptions, build_protocol
from sockbench.core.protocols.keys import (
    Zipf,
    expected_distinct,
    hashed_uniform,
    parse_key_pattern,
    picker,
)
from sockbench.core.protocols.memcache import memcache_reply_length, values_in
from sockbench.core.protocols.mix import CommandMix, value_bytes
from sockbench.core.protocols.resp import array_nils, command, resp_reply_length
from sockbench.engine.worker.workload import ProtocolMatcher
from sockbench.errors import ConfigError
from sockbench.machine import build_run_spec
from tests.support.sinks import QuietSink
from tests.support.splits import all_splits

S = 1_000_000_000


def test_key_patterns_name_each_side() -> None:
    assert parse_key_pattern("r") == ("R", "R")
    assert parse_key_pattern("S:Z") == ("S", "Z")
    for bad in ("X", "S:", "SR", "S:R:G", ""):
        with pytest.raises(ConfigError, match="unknown --key-pattern"):
            parse_key_pattern(bad)


@pytest.mark.parametrize("s", [0.5, 0.99, 1.0, 1.5])
def test_zipf_draws_follow_the_exact_masses(s: float) -> None:
    """Rank 1's frequency, and every rank's over a small range, within 5 sigma of the
    exact mass k^-s / H(n, s)."""
    zipf = Zipf(50, s)
    draw = zipf.sampler(random.Random(7).random)
    draws = 40_000
    counts = Counter(draw() for _ in range(draws))
    assert set(counts) <= set(range(1, 51))
    for k in (1, 2, 10, 50):
        p = zipf.probability(k)
        sigma = (draws * p * (1 - p)) ** 0.5
        assert abs(counts[k] - draws * p) < 5 * sigma + 1, (k, counts[k], draws * p)


def test_zipf_is_deterministic_per_seed_and_stays_in_range() -> None:
    one = Zipf(10**12, 0.99).sampler(random.Random(3).random)
    two = Zipf(10**12, 0.99).sampler(random.Random(3).random)
    first = [one() for _ in range(2000)]
    assert first == [two() for _ in range(2000)]
    assert all(1 <= k <= 10**12 for k in first)
    assert Counter(first)[1] > 50  # the hottest key: about 1/28 of draws at n = 10^12
    tiny = Zipf(1, 2.0).sampler(random.Random(0).random)
    assert {tiny() for _ in range(100)} == {1}


def test_zipf_keys_are_a_function_of_seed_client_and_count() -> None:
    """Each client's n-th zipf key is the same in whatever order the clients draw (one
    worker or several), differs between clients and seeds, and rank 1 comes up as
    often as its mass says over the hashed uniforms."""
    pick = picker("Z", 1, 1000, 8, random.Random(0), 0.99, seed=5)
    forward = [pick(c, n) for c in range(8) for n in range(500)]
    again = picker("Z", 1, 1000, 8, random.Random(9), 0.99, seed=5)
    backward = [again(c, n) for c in reversed(range(8)) for n in reversed(range(500))]
    assert forward == [k for block in reversed(_blocks(backward, 500)) for k in block[::-1]]
    assert forward[:500] != forward[500:1000]
    other = picker("Z", 1, 1000, 8, random.Random(0), 0.99, seed=6)
    assert forward[:500] != [other(0, n) for n in range(500)]
    gets = picker("Z", 1, 1000, 8, random.Random(0), 0.99, seed=5, stream=1)
    assert forward[:500] != [gets(0, n) for n in range(500)]  # each kind its own
    p = Zipf(1000, 0.99).probability(1)
    sigma = (len(forward) * p * (1 - p)) ** 0.5
    assert abs(forward.count(1) - len(forward) * p) < 5 * sigma


def test_hashed_uniforms_are_uniform_and_uncorrelated_along_n() -> None:
    """What Z's keys rest on: 20,000 draws along n (2 clients) fill 100 bins as a
    uniform does (chi-square within 5 sigma of its 99 degrees of freedom) with no
    lag-1 correlation."""
    uniform = hashed_uniform(3, 1)
    draws = [uniform(c, n, 0) for c in (0, 7) for n in range(10_000)]
    assert all(0 <= u < 1 for u in draws)
    bins = Counter(int(u * 100) for u in draws)
    chi2 = sum((bins[i] - 200) ** 2 / 200 for i in range(100))
    assert chi2 < 99 + 5 * (2 * 99) ** 0.5
    mean = sum(draws) / len(draws)
    lag = sum((a - mean) * (b - mean) for a, b in pairwise(draws))
    assert abs(lag / sum((a - mean) ** 2 for a in draws)) < 0.03
    assert uniform(0, 5, 0) == hashed_uniform(3, 1)(0, 5, 0) != hashed_uniform(3, 0)(0, 5, 0)


def _blocks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def test_expected_distinct_matches_a_simulation() -> None:
    n, s, draws = 1000, 0.99, 3000
    draw = Zipf(n, s).sampler(random.Random(1).random)
    seen = len({draw() for _ in range(draws)})
    assert seen == pytest.approx(expected_distinct(n, s, draws), rel=0.03)


@pytest.mark.parametrize("pattern", ["R", "S", "G", "P", "Z"])
def test_every_pattern_stays_in_the_key_range(pattern: str) -> None:
    pick = picker(pattern, 100, 50, 4, random.Random(0), 0.99)
    keys = [pick(c, n) for c in range(4) for n in range(500)]
    assert min(keys) >= 100 and max(keys) <= 149
    assert len(set(keys)) > 25


def test_parallel_keys_give_each_client_its_own_slice() -> None:
    pick = picker("P", 10, 10, 3, random.Random(0), 1.0)
    slices = [[pick(c, n) for n in range(5)] for c in range(3)]
    assert slices == [[10, 11, 12, 10, 11], [13, 14, 15, 13, 14], [16, 17, 18, 19, 16]]


def test_each_side_of_the_mix_has_its_own_pattern() -> None:
    """S:Z: the SETs walk the keys in order from --key-minimum, the GETs draw zipf."""
    mix = CommandMix(ProtocolOptions(key_space=1000, key_minimum=5, key_pattern="S:Z"))
    sets = [mix.key(0, seq) for seq in range(0, 110, 11)]
    assert sets == list(range(5, 15))
    gets = Counter(mix.key(0, seq) for seq in range(4000) if seq % 11)
    assert gets.most_common(1)[0][0] == 5  # rank 1 is the lowest key


def test_prefix_and_minimum_reach_the_requests() -> None:
    options = ProtocolOptions(key_space=10, key_minimum=90, key_prefix="m-", key_pattern="S")
    redis = build_protocol("redis", options)
    memcache = build_protocol("memcache", options)
    assert redis.request(3, 0) == command(b"SET", b"m-%012d" % 93, value_bytes(32))
    assert memcache.request(3, 1) == b"get m-%012d\r\n" % 93


def test_value_size_ranges_are_uniform_and_each_request_exact() -> None:
    options = ProtocolOptions(key_space=10, ratio=(1, 0), value_size=10, value_size_max=20)
    redis = build_protocol("redis", options)
    memcache = build_protocol("memcache", options)
    assert redis.one_kind is None  # sizes vary: noted per request
    sizes: Counter[int] = Counter()
    for seq in range(2200):
        request = redis.request(0, seq)
        assert resp_reply_length(bytearray(request), 0, len(request)) == len(request)
        value = request.rsplit(b"\r\n", 2)[-2]
        assert request.endswith(b"$%d\r\n%s\r\n" % (len(value), value))
        assert value == value_bytes(len(value))
        sizes[len(value)] += 1
    assert set(sizes) == set(range(10, 21)) and min(sizes.values()) > 120
    line, value, _ = memcache.request(0, 0).split(b"\r\n")
    assert int(line.split()[-1]) == len(value) and 10 <= len(value) <= 20


def test_multi_key_gets_name_n_keys() -> None:
    options = ProtocolOptions(key_space=100, key_pattern="S", ratio=(0, 1), multi_key=3)
    redis = build_protocol("redis", options)
    keys = [b"key:%012d" % k for k in (0, 1, 2)]
    assert redis.request(0, 0) == command(b"MGET", *keys)
    assert redis.one_kind == (1, len(command(b"MGET", *keys)))
    assert redis.lookups == (0, 3)
    memcache = build_protocol("memcache", options)
    assert (
        memcache.request(0, 1) == b"get " + b" ".join(b"key:%012d" % k for k in (3, 4, 5)) + b"\r\n"
    )


MGET_THREE = b"*3\r\n$2\r\nab\r\n$-1\r\n$3\r\n$-1\r\n"  # a value "$-1", a nil
MGET_REPLY = MGET_THREE + b"*4\r\n$-1\r\n$0\r\n\r\n$-1\r\n$-1\r\n"
MC_THREE = b"VALUE k1 0 2\r\nab\r\nVALUE k3 0 5\r\nEND\r\n\r\nEND\r\n"  # a value "END\r\n"
MC_REPLY = MC_THREE + b"END\r\nVALUE k 1 0\r\n\r\nEND\r\n"


def test_multi_key_replies_frame_on_every_cut_and_count_their_misses() -> None:
    """An MGET reply with a value holding "$-1" and nils; memcached's with a value
    holding "END": framed alike on every cut, and the misses counted by key."""
    first = len(MGET_THREE)
    assert all_splits(resp_reply_length, MGET_REPLY) == {(MGET_REPLY[:first], MGET_REPLY[first:])}
    assert array_nils(bytearray(MGET_REPLY), 0, first) == 1
    assert array_nils(bytearray(MGET_REPLY), first, len(MGET_REPLY)) == 3
    cuts = [len(MC_THREE), len(MC_THREE) + 5]
    parts = (MC_REPLY[: cuts[0]], MC_REPLY[cuts[0] : cuts[1]], MC_REPLY[cuts[1] :])
    assert all_splits(memcache_reply_length, MC_REPLY) == {parts}
    assert [values_in(bytearray(p), 0, len(p)) for p in parts] == [2, 0, 1]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.binary(max_size=12)), min_size=1, max_size=6))
def test_mget_misses_are_its_nils(items: list[bytes | None]) -> None:
    reply = b"*%d\r\n" % len(items) + b"".join(
        b"$-1\r\n" if item is None else b"$%d\r\n%s\r\n" % (len(item), item) for item in items
    )
    buf = bytearray(reply)
    assert resp_reply_length(buf, 0, len(buf)) == len(reply)
    assert array_nils(buf, 0, len(buf)) == items.count(None)


def test_templates_encode_once_and_fill_the_key_and_data() -> None:
    options = ProtocolOptions(
        key_space=100, key_pattern="S", value_size=5, value_size_max=5,
        commands=("HSET __key__ f __data__", "HGET u:__key__ f", "HSET __key__ g 1"),
        command_ratios=(2, 1, 1),
    )  # fmt: skip
    redis = build_protocol("redis", options)
    assert redis.kinds == ("hset", "hget", "hset_2")
    assert [redis.kinds[redis.kind_index(0, s)] for s in range(5)] == [
        "hset", "hset", "hget", "hset_2", "hset",
    ]  # fmt: skip
    key = b"key:%012d"
    assert redis.request(0, 0) == command(b"HSET", key % 0, b"f", b"abcde")
    assert redis.request(0, 1) == command(b"HSET", key % 1, b"f", b"abcde")
    assert redis.request(0, 2) == command(b"HGET", b"u:" + key % 0, b"f")
    assert redis.request(0, 3) == command(b"HSET", key % 0, b"g", b"1")
    assert redis.request(0, 4) == command(b"HSET", key % 2, b"f", b"abcde")
    assert redis.lookups == () and redis.misses is None
    ranged = build_protocol(
        "redis", ProtocolOptions(commands=("SET __key__ __data__",), value_size_max=64)
    )
    request = ranged.request(1, 7)
    assert resp_reply_length(bytearray(request), 0, len(request)) == len(request)
    with pytest.raises(ConfigError, match="__data__ must be a whole argument"):
        build_protocol("redis", ProtocolOptions(commands=("SET __key__ x__data__",)))


class _Lookups(QuietSink):
    """A sink that keeps what the exchange counted per kind: the misses of each kind
    that reads keys (``lookups``: how many per request), the others' kinds."""

    def __init__(self, lookups: tuple[int, ...]) -> None:
        self.lookups = lookups
        self.looked_up: list[tuple[int, int]] = []
        self.completed_kinds: list[int] = []

    def completed(
        self, latency_ns: int, service_ns: int, sent: int, got: int, kind: int = -1, misses: int = 0
    ) -> None:
        if kind >= 0 and self.lookups[kind]:
            self.looked_up.append((kind, misses))
        elif kind >= 0:
            self.completed_kinds.append(kind)

    def failed(self, kind: str, count: int, at_ns: int) -> None:
        raise AssertionError(kind)

    def error(self, kind: str, at_ns: int) -> None:
        raise AssertionError(kind)

    def warmup_reply(self, at_ns: int) -> None:
        raise AssertionError("no warm-up here")

    def kind_failed(self, kind: int, error: str) -> None:
        raise AssertionError(error)


@pytest.mark.parametrize(
    ("spec", "multi", "replies", "want"),
    [
        ("redis", 1, b"+OK\r\n$-1\r\n$3\r\n$-1\r\n", [(1, 0, 1), (1, 1, 0)]),
        ("redis", 3, b"+OK\r\n" + MGET_THREE, [(1, 2, 1)]),
        ("memcache", 1, b"STORED\r\nEND\r\nVALUE k 0 3\r\nEND\r\nEND\r\n", [(1, 0, 1), (1, 1, 0)]),
        ("memcache", 3, b"STORED\r\n" + MC_THREE, [(1, 2, 1)]),
    ],
    ids=["redis", "mget", "memcache", "memcache-multi"],
)
@pytest.mark.parametrize("together", [False, True], ids=["apart", "one-write"])
def test_the_exchange_counts_hits_and_misses_on_every_cut(
    spec: str, multi: int, replies: bytes, want: list[tuple[int, int, int]], together: bool
) -> None:
    """SET then GETs pipelined: each GET's keys counted as hits and misses by its kind,
    the SET as a plain completion, wherever the bytes are cut; sent apart, or as one
    write whose replies are answered as a run."""
    protocol = build_protocol(spec, ProtocolOptions(ratio=(1, 2), multi_key=multi))
    gets = len(want)
    for cut in range(len(replies) + 1):
        window = RequestWindow(S, measure_start_ns=0, measure_end_ns=10 * S)
        sink = _Lookups(protocol.lookups)
        ex = StreamExchange(
            window, sink, ProtocolMatcher(protocol.check_reply), 0, pipelined=True,
            kind_sink=sink, lookups=protocol.lookups, misses=protocol.misses,
            miss_reply=protocol.miss_reply,
        )  # fmt: skip
        if together:  # one write: its replies are answered as a run
            assert ex.issue_many(1 + gets, S, S) == 1 + gets
            ex.note_many(protocol.batch_from(0, 0, 1 + gets, b"")[1])
        else:
            for seq in range(1 + gets):
                assert ex.issue(S + seq, S + seq, protocol.kind_index(0, seq), 10)
        for piece, at in ((replies[:cut], S + 10), (replies[cut:], S + 20)):
            ex.space()[: len(piece)] = piece
            assert ex.received(len(piece), at) == OK
        got = [(kind, multi - missed, missed) for kind, missed in sink.looked_up]
        assert sink.completed_kinds == [0], cut
        if together:  # a run counts a kind's misses together: their sum is what holds
            assert len(got) == len(want) and sum(g[2] for g in got) == sum(w[2] for w in want)
        else:
            assert got == want, cut


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"key_pattern": "Z", "zipf": 7}, "--zipf must be between 0 and 5"),
        ({"value_size": "100-10"}, "the range's low end is above its high end"),
        ({"value_size": "1-x"}, "malformed --value-size '1-x'"),
        ({"key_minimum": 50, "key_maximum": 10}, "--key-maximum 10 is below --key-minimum 50"),
        ({"key_maximum": 10**12}, "the keys must lie in 0 .. 10^12 - 1"),
        ({"key_prefix": "a b"}, "--key-prefix 'a b': printable, no spaces"),
        ({"multi_key": 1001}, "--multi-key must be between 1 and 1000"),
        ({"command": ["GET __key__"], "command_ratio": [1, 2]}, "--command-ratio given 2 times"),
        ({"command": ["GET __key__"], "key_pattern": "S:R"}, "one --key-pattern letter"),
        ({"command": ["GET x__data__"]}, "__data__ must be a whole argument"),
        ({"command": ["GET __key__"], "multi_key": 2}, "--multi-key applies to the SET/GET mix"),
        (
            {"protocol": "memcache", "command": ["GET __key__"]},
            "--command applies to --protocol redis, not --protocol memcache",
        ),
        (
            {"command": ["GET __key__"], "command_key_pattern": ["S", "R"]},
            "--command-key-pattern given 2 times for 1 --command templates",
        ),
        ({"command_key_pattern": ["S"]}, "--command-key-pattern given 1 times for 0 --command"),
        ({"command": ["GET __key__"], "command_key_pattern": ["X"]}, "unknown --command-key-pat"),
        ({"command": ["GET __key__"], "command_key_pattern": ["S:R"]}, "one letter per --command"),
        ({"command": ["GET __key__"], "command_key_pattern": ["z"], "zipf": 9}, "--zipf must be"),
    ],
)
def test_bad_key_value_options_are_one_line_before_any_load(
    values: dict[str, object], message: str
) -> None:
    given = {"target": "tcp://127.0.0.1:9", "protocol": "redis", **values}
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_run_spec(given).protocol.adapter()


def test_key_value_options_reach_the_config() -> None:
    spec = build_run_spec(
        {"target": "tcp://127.0.0.1:9", "protocol": "redis", "key_pattern": "z:z",
         "zipf": 0.99, "key_minimum": 1, "key_maximum": 1000, "key_prefix": "memtier-",
         "value_size": "32-1k", "multi_key": 4}
    )  # fmt: skip
    config = spec.to_json()
    assert config["key_space"] == 1000 and config["key_minimum"] == 1
    assert config["key_pattern"] == "Z:Z" and config["zipf"] == 0.99
    assert (config["value_size"], config["value_size_max"]) == (32, 1024)
    assert config["key_prefix"] == "memtier-" and config["multi_key"] == 4
    plain = build_run_spec({"target": "tcp://127.0.0.1:9", "protocol": "redis"}).to_json()
    assert not {"key_minimum", "zipf", "value_size_max", "multi_key", "commands"} & set(plain)


def test_each_template_walks_its_keys_by_its_own_pattern() -> None:
    """memtier's --command-key-pattern: HSET in order (S), HGET from client 1's slice (P),
    the third at random (R); the keys each template names are its own walk."""
    options = ProtocolOptions(
        key_space=100, clients=4, commands=("HSET __key__ f 1", "HGET __key__ f", "DEL __key__"),
        command_key_patterns=("S", "P", "R"), seed=3,
    )  # fmt: skip
    redis = build_protocol("redis", options)
    key = b"key:%012d"
    sets = [redis.request(1, 3 * n) for n in range(5)]
    assert sets == [command(b"HSET", key % (1 + n), b"f", b"1") for n in range(5)]
    gets = [redis.request(1, 3 * n + 1) for n in range(30)]
    assert gets[:3] == [command(b"HGET", key % k, b"f") for k in (25, 26, 27)]
    assert {g for g in gets} == {command(b"HGET", key % k, b"f") for k in range(25, 50)}
    dels = [redis.request(1, 3 * n + 2) for n in range(30)]
    assert len(set(dels)) > 20 and dels != sorted(dels)  # drawn at random
    plain = build_protocol(
        "redis",
        ProtocolOptions(key_space=100, key_pattern="S", commands=("GET __key__", "DEL __key__")),
    )
    assert [plain.request(0, s) for s in range(4)] == [
        command(b"GET", key % 0),
        command(b"DEL", key % 0),
        command(b"GET", key % 1),
        command(b"DEL", key % 1),
    ]  # none given: every template takes the --key-pattern letter


def test_command_key_patterns_reach_the_config_and_its_summary() -> None:
    from sockbench.report.run_fields import _protocol as protocol_line

    given = {"target": "tcp://127.0.0.1:9", "protocol": "redis", "command": ["SET __key__ x",
             "GET __key__"], "command_key_pattern": ["p", "Z"], "zipf": 0.9}  # fmt: skip
    config = build_run_spec(given).to_json()
    assert config["command_key_patterns"] == ["P", "Z"] and config["zipf"] == 0.9
    assert "commands SET x1 (P), GET x1 (Z)" in protocol_line(config)
    del given["command_key_pattern"], given["zipf"]  # no Z left: --zipf would be refused
    assert "command_key_patterns" not in build_run_spec(given).to_json()
