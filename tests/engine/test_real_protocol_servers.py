"""Protocols against real servers: redis-server and memcached count what they served,
and small counting servers do the same for line, length-prefixed and the example plugin."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sockbench.core.protocols.resp import command
from sockbench.report import render
from tests.conftest import start_ready_process, stop_process
from tests.support.drivers import BOTH_DRIVERS, each_on_one_driver
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = f"{ROOT / 'examples' / 'kv_plugin.py'}:KeyValue"


def _ask(port: int, command: bytes, end: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command)
        data = b""
        while not data.endswith(end):
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection"
            data += chunk
    return data


def redis_calls(port: int) -> dict[str, int]:
    """``INFO commandstats``: calls per command, lower case."""
    info = _ask(port, b"INFO commandstats\r\n", b"\r\n")
    calls = {}
    for line in info.decode().splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line[len("cmdstat_") :].partition(":")
            calls[name] = int(dict(f.split("=") for f in fields.split(","))["calls"])
    return calls


def memcached_stats(port: int) -> dict[str, int]:
    stats = _ask(port, b"stats\r\n", b"END\r\n").decode()
    return {
        words[1]: int(words[2])
        for words in (line.split() for line in stats.splitlines())
        if len(words) == 3 and words[0] == "STAT" and words[2].isdigit()
    }


def _kv_run(port: int, protocol: str, **options: Any) -> dict[str, Any]:
    return run_result(
        target=f"tcp://127.0.0.1:{port}", proto="", server_model=None, protocol=protocol,
        **{"clients": 10, "duration_s": 1.5, "key_space": 1000, "ratio": "1:10", **options},
    )  # fmt: skip


def _check_mix(result: dict[str, Any], sets: int, gets: int) -> None:
    """No errors; the result's own per-kind counts add up and follow 1:10 within 10 %."""
    totals = result["totals"]
    assert totals["errors"] == {} and totals["warmup_errors"] == {}
    by_kind = totals["by_kind"]
    assert by_kind["set"]["requests"] + by_kind["get"]["requests"] == totals["requests"]
    assert set(result["latency_by_kind_us"]) == {"set", "get"}
    assert result["latency_by_kind_us"]["get"]["count"] == by_kind["get"]["requests"]
    assert by_kind["get"]["requests"] / by_kind["set"]["requests"] == pytest.approx(10, rel=0.1)
    # The server's own counts include warm-up and the requests in flight at the end.
    assert sets + gets >= totals["requests"] > 1000
    assert gets / sets == pytest.approx(10, rel=0.1)


def test_redis_set_get_mix_as_redis_counts_it(redis_port: int) -> None:
    result = _kv_run(redis_port, "redis")
    calls = redis_calls(redis_port)
    _check_mix(result, calls["set"], calls["get"])
    assert result["config"]["protocol"] == "redis" and result["config"]["ratio"] == [1, 10]
    assert all(set(row["by_kind"]) == {"set", "get"} for row in result["intervals"])
    # A target it did not start is sampled too: the process found serving its port.
    server = result["server_resources"]
    assert server["process"].startswith("redis-server (pid ") and server["cpu_percent_mean"] > 0
    # Every report format carries the per-command table.
    text, md, html, table = (render(result, f) for f in ("text", "md", "html", "csv"))
    for out in (text, md, html):
        assert "Commands" in out and "SET:GET 1:10" in out
    header, row = table.splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert int(cells["set_requests"]) == result["totals"]["by_kind"]["set"]["requests"]
    assert int(cells["get_p99_us"]) == result["latency_by_kind_us"]["get"]["p99"]


@BOTH_DRIVERS
@pytest.mark.parametrize(
    "options",
    [
        {"pipeline": 8, "key_pattern": "S", "workers": "2"},  # closed-loop pipelining, 2 workers
        {"rate": 3000.0, "pipeline": 4, "key_pattern": "G"},  # open loop
        {"value_size": 2000},  # values over a read's worth
    ],
    ids=["pipeline", "open-loop", "big-values"],
)
def test_redis_mix_in_every_driver(redis_port: int, options: dict[str, Any], batch: bool) -> None:
    result = _kv_run(redis_port, "redis", batch=batch, **options)
    calls = redis_calls(redis_port)
    _check_mix(result, calls["set"], calls["get"])
    if "rate" in options:
        assert result["totals"]["throughput_rps"] == pytest.approx(3000, rel=0.05)


def test_redis_error_replies_count_as_protocol_errors(redis_port: int, tmp_path: Path) -> None:
    plugin = tmp_path / "wrong.py"
    plugin.write_text(
        "from sockbench.core.protocols.resp import command, resp_reply_length\n"
        "class Wrong:\n"
        "    def __init__(self, options):\n        pass\n"
        "    def request(self, client, seq):\n        return command(b'NOSUCHCOMMAND')\n"
        "    check_reply = staticmethod(resp_reply_length)\n"
    )
    result = _kv_run(redis_port, f"{plugin}:Wrong", clients=2, duration_s=0.5)
    assert result["totals"]["errors"]["protocol_error"] > 10
    assert result["totals"]["requests"] == 0


def test_memcache_set_get_mix_as_memcached_counts_it(memcached_port: int) -> None:
    result = _kv_run(memcached_port, "memcache", value_size=100)
    stats = memcached_stats(memcached_port)
    _check_mix(result, stats["cmd_set"], stats["cmd_get"])
    assert stats["get_hits"] > 0
    # Every GET's key a hit or a miss; memcached also counted the warm-up's.
    get = result["totals"]["by_kind"]["get"]
    assert get["hits"] + get["misses"] == get["requests"]
    assert 0 < get["hits"] <= stats["get_hits"] and get["misses"] <= stats["get_misses"]


@pytest.fixture
def counting_server() -> Iterator[Any]:
    """Start ``tests/support/counting_server.py``; ``stop()`` returns what it counted."""
    started = []

    def start(protocol: str) -> tuple[int, Any]:
        proc, port = start_ready_process(
            [sys.executable, "-m", "tests.support.counting_server", "--protocol", protocol]
        )
        started.append(proc)

        def stop() -> dict[str, int]:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
            line = next(x for x in out.splitlines() if x.startswith("COUNTS "))
            counts: dict[str, int] = json.loads(line.split(" ", 1)[1])
            return counts

        return int(port), stop

    yield start
    for proc in started:
        stop_process(proc)


CLIENTS = 4
REQUESTS = 600
# Requests the server may see beyond the measured ones: those in flight when the limit was
# reached, and, in the fixed-size pump and the task per client, those sent before the stop
# reached them (until exchange-core's drain rule stops every driver issuing at the limit).
SLACK = 3 * CLIENTS


def _counted_run(port: int, protocol: str, **options: Any) -> dict[str, Any]:
    """Exactly REQUESTS measured, no warm-up: the server saw those plus at most one in
    flight per client when the run stopped."""
    return run_result(
        target=f"tcp://127.0.0.1:{port}", proto="", server_model=None, protocol=protocol,
        clients=CLIENTS, warmup_s=0.0, duration_s=60.0, requests=REQUESTS, **options,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("protocol", "server", "kind"),
    [
        ("line", "line", "line"),
        ("length-prefixed:u16", "u16", "message"),
        ("length-prefixed:u32", "u32", "message"),
    ],
)
@BOTH_DRIVERS
def test_fixed_protocols_agree_with_the_servers_count(
    counting_server: Any, protocol: str, server: str, kind: str, batch: bool
) -> None:
    port, stop = counting_server(server)
    result = _counted_run(port, protocol, payload=100, batch=batch)
    counts = stop()
    assert result["totals"]["errors"] == {}
    assert result["totals"]["requests"] == REQUESTS
    assert REQUESTS <= counts[kind] <= REQUESTS + SLACK
    assert result["totals"]["bytes_sent"] == REQUESTS * (
        100 + {"line": 0, "u16": 2, "u32": 4}[server]
    )


@BOTH_DRIVERS
def test_example_plugin_agrees_with_the_servers_count(counting_server: Any, batch: bool) -> None:
    port, stop = counting_server("kv")
    result = _counted_run(port, PLUGIN, key_space=50, batch=batch)
    counts = stop()
    totals = result["totals"]
    assert totals["errors"] == {}
    assert totals["requests"] == REQUESTS
    assert counts["hello"] == CLIENTS  # setup once per connection, never measured
    assert "bad" not in counts
    by_kind = totals["by_kind"]
    for kind in ("put", "fetch"):
        assert by_kind[kind]["requests"] <= counts[kind] <= by_kind[kind]["requests"] + CLIENTS
    assert counts["put"] + counts["fetch"] <= REQUESTS + CLIENTS
    assert by_kind["put"]["requests"] == pytest.approx(REQUESTS / 4, abs=CLIENTS)
    assert result["config"]["protocol"] == PLUGIN


SEQ_PLUGIN = """
class Numbered:
    def __init__(self, options):
        pass
    def request(self, client, seq):
        return b"SEQ %d %d\\n" % (client, seq)
    def check_reply(self, buf, start, end):
        return 3 if end - start >= 3 else 0
"""


@BOTH_DRIVERS
@pytest.mark.parametrize(
    "options",
    [{}, {"pipeline": 4, "workers": "2"}, {"rate": 2000.0}],
    ids=["closed-loop", "pipeline", "open-loop"],
)
def test_each_clients_requests_go_out_once_each_in_order(
    counting_server: Any, tmp_path: Path, options: dict[str, Any], batch: bool
) -> None:
    """A varying request is built ahead of its turn (the pump): the server still sees each
    client's requests numbered 0, 1, 2, ..., none twice, none skipped."""
    plugin = tmp_path / "numbered.py"
    plugin.write_text(SEQ_PLUGIN)
    port, stop = counting_server("seq")
    result = _counted_run(port, f"{plugin}:Numbered", batch=batch, **options)
    counts = stop()
    assert result["totals"]["errors"] == {}
    assert result["totals"]["requests"] == REQUESTS
    assert counts.get("out_of_order", 0) == 0
    assert REQUESTS <= counts["in_order"] <= REQUESTS + SLACK


def test_live_ticks_carry_each_kinds_rate_and_p99(memcached_port: int) -> None:
    from sockbench.core.progress import Tick
    from sockbench.engine.orchestration.runner import run
    from sockbench.machine import build_run_spec
    from tests.support.runs import BASE

    ticks: list[Tick] = []
    options = {
        **BASE, "target": f"tcp://127.0.0.1:{memcached_port}", "proto": "", "server_model": None,
        "protocol": "memcache", "duration_s": 1.0, "interval_s": 0.25, "ratio": "1:3",
    }  # fmt: skip
    run(build_run_spec(options), command="test", progress=ticks.append)
    measuring = [t for t in ticks if t.phase == "measuring"]
    assert len(measuring) >= 3
    for tick in measuring:
        kinds = dict((kind, (rps, p99)) for kind, rps, p99 in tick.by_kind)
        assert set(kinds) == {"set", "get"}
        assert kinds["get"][0] == pytest.approx(3 * kinds["set"][0], rel=0.2)
        assert kinds["get"][1] > 0


@each_on_one_driver("ratio", ["1:0", "0:1"])  # both drivers issue through reference.issue
def test_redis_one_sided_mix_counts_every_request_as_its_one_kind(
    redis_port: int, ratio: str, batch: bool
) -> None:
    """``--ratio 1:0``/``0:1`` (``one_kind``: nothing noted per request): every request is
    counted as its kind, with its size, and redis counts as many."""
    result = _kv_run(redis_port, "redis", batch=batch, ratio=ratio, value_size=100)
    totals = result["totals"]
    assert totals["errors"] == {} and totals["warmup_errors"] == {}
    only, other = ("set", "get") if ratio == "1:0" else ("get", "set")
    by_kind = totals["by_kind"]
    assert by_kind[only]["requests"] == totals["requests"] > 1000
    assert by_kind[other]["requests"] == 0
    assert result["latency_by_kind_us"][only]["count"] == totals["requests"]
    key = b"key:%012d" % 0  # every key is as long
    size = len(command(b"SET", key, b"v" * 100) if only == "set" else command(b"GET", key))
    assert totals["bytes_sent"] == size * totals["requests"]
    calls = redis_calls(redis_port)
    assert calls.get(other, 0) == 0
    assert calls[only] >= totals["requests"]
