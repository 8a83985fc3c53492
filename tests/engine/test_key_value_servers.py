"""memtier's key/value options against real redis-server and memcached, each checked
against the server's own counters: hits and misses (one key and multi-key), value size
ranges' bytes, zipf keys' spread (DBSIZE), and ``--command`` templates (commandstats).

No warm-up and a short window: every request the server saw is one the result
measured (the window closes before any later request is sent, and the drain takes
every reply), so the counts agree exactly."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.core.protocols.keys import expected_distinct
from tests.engine.test_real_protocol_servers import _ask, memcached_stats, redis_calls
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)


def _run(port: int, protocol: str, **options: Any) -> dict[str, Any]:
    result = run_result(
        target=f"tcp://127.0.0.1:{port}", proto="", server_model=None, protocol=protocol,
        **{"clients": 4, "duration_s": 0.5, "warmup_s": 0.0, **options},
    )  # fmt: skip
    totals = result["totals"]
    assert totals["errors"] == {} and totals["warmup_errors"] == {}
    assert totals["requests_issued"] == totals["requests"] > 200
    return result


def assert_rows_add_up_to_the_totals(result: dict[str, Any]) -> None:
    """Each row's hits and misses, and its GETs', add up (with the drain's row) to the
    totals' exactly; a row's are its GETs' (the only kind that reads keys)."""
    rows = [*result["intervals"], *filter(None, [result.get("drain_interval")])]
    get = result["totals"]["by_kind"]["get"]
    for name in ("hits", "misses"):
        assert sum(row[name] for row in rows) == result["totals"][name] == get[name]
        assert all(row[name] == row["by_kind"]["get"][name] for row in rows)
    assert all("hits" not in row["by_kind"]["set"] for row in rows)


def redis_info(port: int) -> dict[str, str]:
    info = _ask(port, b"INFO stats\r\n", b"\r\n\r\n").decode()
    return dict(line.split(":", 1) for line in info.splitlines() if ":" in line)


def test_redis_mget_hits_misses_and_value_ranges_match_redis(redis_port: int) -> None:
    result = _run(redis_port, "redis", ratio="1:2", multi_key=3, value_size="10-200", key_space=300)
    get = result["totals"]["by_kind"]["get"]
    info, calls = redis_info(redis_port), redis_calls(redis_port)
    assert (
        calls["mget"] == get["requests"]
        and calls["set"] == result["totals"]["by_kind"]["set"]["requests"]
    )
    assert get["hits"] + get["misses"] == 3 * get["requests"]
    assert (get["hits"], get["misses"]) == (
        int(info["keyspace_hits"]), int(info["keyspace_misses"]),
    )  # fmt: skip
    assert get["hits"] > 0 and get["misses"] > 0
    assert result["totals"]["hits"] == get["hits"]
    assert "hits" not in result["totals"]["by_kind"]["set"]
    assert_rows_add_up_to_the_totals(result)


def test_memcached_multi_get_hits_misses_and_bytes_match_its_stats(memcached_port: int) -> None:
    result = _run(
        memcached_port, "memcache", ratio="1:2", multi_key=2, value_size="10-200", key_space=300
    )
    totals = result["totals"]
    stats = memcached_stats(memcached_port)
    get = totals["by_kind"]["get"]
    assert stats["cmd_set"] == totals["by_kind"]["set"]["requests"]
    assert stats["cmd_get"] == 2 * get["requests"]  # memcached counts each key a get
    assert (get["hits"], get["misses"]) == (stats["get_hits"], stats["get_misses"])
    assert get["hits"] > 0 and get["misses"] > 0
    assert_rows_add_up_to_the_totals(result)
    # Every byte sockbench wrote memcached read, values of every size; besides them only
    # the fixture's readiness probe and this stats line.
    assert stats["bytes_read"] == totals["bytes_sent"] + len(b"version\r\n" + b"stats\r\n")


def test_zipf_keys_fill_the_range_as_zipf_says_and_gets_hit_as_redis_counts(
    redis_port: int,
) -> None:
    """Z:Z over keys 1..1000 with a prefix: as many distinct keys as the zipf expectation
    for that many SETs (DBSIZE), the hottest key is --key-minimum, and the GETs' hits
    and misses are redis's."""
    result = _run(
        redis_port, "redis", ratio="1:1", key_pattern="Z:Z", zipf=0.99, key_minimum=1,
        key_maximum=1000, key_prefix="z-",
    )  # fmt: skip
    by_kind = result["totals"]["by_kind"]
    sets = by_kind["set"]["requests"]
    assert redis_calls(redis_port)["set"] == sets
    info = redis_info(redis_port)  # before EXISTS, which redis counts as a lookup too
    keys = int(_ask(redis_port, b"DBSIZE\r\n", b"\r\n")[1:])
    assert keys == pytest.approx(expected_distinct(1000, 0.99, sets), rel=0.05)
    assert _ask(redis_port, b"EXISTS z-000000000001\r\n", b"\r\n") == b":1\r\n"
    assert _ask(redis_port, b"EXISTS z-000000000000\r\n", b"\r\n") == b":0\r\n"
    get = by_kind["get"]
    assert (get["hits"], get["misses"]) == (
        int(info["keyspace_hits"]), int(info["keyspace_misses"]),
    )  # fmt: skip
    assert get["hits"] > get["misses"] > 0  # the hot keys were set first


def test_command_templates_run_as_redis_counts_them(redis_port: int) -> None:
    """...each with its own key pattern: the HSETs walk each client's slice of the 100,000
    keys in order (P), so each sets a new key (at random, 3,000 HSETs would repeat ~45)."""
    result = _run(
        redis_port, "redis", command=["HSET __key__ f __data__", "HGET __key__ f"],
        command_ratio=[2, 1], command_key_pattern=["P", "R"], key_space=100_000,
        value_size="8-16",
    )  # fmt: skip
    by_kind = result["totals"]["by_kind"]
    calls = redis_calls(redis_port)
    assert calls["hset"] == by_kind["hset"]["requests"]
    assert calls["hget"] == by_kind["hget"]["requests"]
    assert by_kind["hset"]["requests"] == pytest.approx(2 * by_kind["hget"]["requests"], rel=0.1)
    assert result["config"]["commands"] == ["HSET __key__ f __data__", "HGET __key__ f"]
    assert result["config"]["command_key_patterns"] == ["P", "R"]
    assert int(_ask(redis_port, b"DBSIZE\r\n", b"\r\n")[1:]) == by_kind["hset"]["requests"]
    assert "hits" not in result["totals"]
    assert all("hits" not in row for row in result["intervals"])
