"""Truth past the knee (issue 25): servers that fall behind, answer with errors, or go
silent, against what they logged themselves, on both drivers."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sockbench.engine.io.kernel_drops import receive_drops
from tests.conftest import ROOT, start_ready_process, stop_process
from tests.engine.test_key_value_servers import redis_info
from tests.support.drivers import BOTH_DRIVERS
from tests.support.processes import stopped
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e

PLUGIN = f"{ROOT / 'examples' / 'kv_plugin.py'}:KeyValue"
Start = Callable[..., tuple[int, subprocess.Popen[str]]]


@pytest.fixture
def knee_server() -> Iterator[Start]:
    procs: list[subprocess.Popen[str]] = []

    def start(*options: str) -> tuple[int, subprocess.Popen[str]]:
        proc, port = start_ready_process(
            [sys.executable, "-m", "tests.support.knee_servers", *options]
        )
        procs.append(proc)
        return int(port), proc

    yield start
    for proc in procs:
        stop_process(proc)


def _target(port: int, proto: str = "tcp") -> dict[str, Any]:
    return {"target": f"{proto}://127.0.0.1:{port}", "proto": "", "server_model": None}


@BOTH_DRIVERS
def test_a_server_that_falls_behind_is_reported_at_what_it_served(
    knee_server: Start, tmp_path: Path, batch: bool
) -> None:
    """4 connections x 5 ms: about 800 req/s asked for 2000. The rate is what the server
    logged inside the window (it was reported as 2,000 req/s, achieved 1.0)."""
    log = tmp_path / "replies"
    port, proc = knee_server("slow", "--service-ms", "5", "--size", "64", "--log", str(log))
    result = run_result(
        **_target(port), clients=4, rate=2000.0, duration_s=2.0, warmup_s=0.5, timeout_s=1.0,
        batch=batch, checks=["achieved >= 99%", "rps >= 1900"],
    )  # fmt: skip
    stop_process(proc)
    start = result["measurement_started_at_s"]
    seconds = result["duration_s"]
    sent = [float(t) for t in log.read_text().split()]
    truth = sum(start <= t < start + seconds for t in sent) / seconds
    totals = result["totals"]
    assert 300 < truth <= 850
    # The server's clock stamps a reply just before the client reads it: a loose match.
    assert totals["throughput_rps"] == pytest.approx(truth, rel=0.1, abs=30)
    assert totals["achieved_ratio"] < 0.45
    assert totals["offered_rps"] < 0.5 * totals["requested_rps"]  # slots held the sends
    [warning] = [w for w in result["warning_details"] if w["kind"] == "rate_not_kept"]
    assert "the target fell behind" in warning["message"]
    assert [c["passed"] for c in result["checks"]] == [False, False]
    assert sum(r["requests"] for r in result["intervals"]) == totals["served"]


def _redis_errors(port: int) -> dict[str, int]:
    """``INFO errorstats``: redis's own count of each error it replied."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"INFO errorstats\r\n")
        data = b""
        while b"\r\n" not in data or len(data) < data.index(b"\r\n") + 4 + int(
            data[1 : data.index(b"\r\n")]
        ):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    stats = {}
    for line in data.decode().splitlines():
        if line.startswith("errorstat_"):
            name, _, fields = line[len("errorstat_") :].partition(":")
            stats[name] = int(fields.split("=")[1])
    return stats


def _redis_set(port: int, *commands: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for command in commands:
            sock.sendall(command + b"\r\n")
            assert sock.recv(1024).startswith(b"+OK")


@BOTH_DRIVERS
def test_an_oom_reply_fails_only_its_set_and_keeps_the_connection(
    redis_port: int, batch: bool
) -> None:
    """redis with maxmemory 3mb and noeviction answers SETs -OOM; the GETs pipelined with
    them are answered. Every count is redis's own (20,820 errors were counted against
    4,647 rejected SETs, with a reconnect after each -OOM)."""
    _redis_set(redis_port, b"CONFIG SET maxmemory 3mb", b"CONFIG SET maxmemory-policy noeviction")
    result = run_result(
        **_target(redis_port), protocol="redis", ratio="1:10", key_space=100_000,
        value_size=1000, clients=10, pipeline=8, duration_s=1.5, warmup_s=0.0, batch=batch,
    )  # fmt: skip
    oom = _redis_errors(redis_port).get("OOM", 0)
    totals = result["totals"]
    assert oom > 100
    assert totals["errors"] == {"protocol_error": oom}
    assert totals["by_kind"]["set"]["errors"] == {"protocol_error": oom}
    assert totals["by_kind"]["get"]["errors"] == {}
    assert totals["connections"] == 10  # no connection was replaced
    [(said, times)] = totals["error_replies"].items()  # redis's reason, as it said it
    assert said.startswith("-OOM command not allowed") and times == oom


def test_clients_past_maxclients_back_off_and_the_reason_is_reported(redis_port: int) -> None:
    """redis at maxclients 3 takes 3 of 8 clients; each of the others is answered -ERR and
    closed. They back off, each by its own count of replies (the worker's count moved
    with the served clients' replies, so they reconnected ~9,500 times a second), the
    reply's text says why, and the run is not valid: its numbers are 3 clients'."""
    _redis_set(redis_port, b"CONFIG SET maxclients 3")
    before = int(redis_info(redis_port)["rejected_connections"])
    result = run_result(
        **_target(redis_port), protocol="redis", clients=8, duration_s=0.5, warmup_s=0.1
    )
    rejected = int(redis_info(redis_port)["rejected_connections"]) - before
    totals = result["totals"]
    assert 5 <= rejected < 5 * 12  # a back-off from 10 ms, doubling: ~7 tries each in 0.6 s
    assert totals["connections"] <= 3 + rejected + 5  # (and reconnects once the 3 left)
    assert totals["requests"] > 0  # the 3 it took were served
    [(said, times)] = totals["error_replies"].items()
    assert said == "-ERR max number of clients reached" and 0 < times <= rejected
    assert totals["clients_served"] == 3  # and the numbers are theirs alone:
    assert [r["test"] for r in result["validity"]["reasons"]] == ["unserved"]


@BOTH_DRIVERS
@pytest.mark.parametrize("answer", ["error", "garbage"])
def test_every_10th_reply_bad_at_pipeline_4_is_counted_as_the_server_sent_it(
    knee_server: Start, tmp_path: Path, answer: str, batch: bool
) -> None:
    """A well-framed error fails its own request and the stream goes on; a malformed
    reply is its request's mismatch, and the requests behind it are aborted, never
    mismatches (mismatches and protocol errors were 2.7x the truth)."""
    log = tmp_path / "counts"
    port, proc = knee_server("nth", "--every", "10", "--answer", answer, "--log", str(log))
    result = run_result(
        **_target(port), protocol=PLUGIN, clients=4, pipeline=4, duration_s=1.0,
        warmup_s=0.0, batch=batch,
    )  # fmt: skip
    stop_process(proc)
    lines, errors, garbage = map(int, log.read_text().split())
    totals = result["totals"]
    failed = totals["requests_failed"]
    if answer == "error":
        assert failed == {"protocol_error": errors} and errors > 50
        assert totals["requests_issued"] == lines  # every request reached the server
        assert totals["connections"] == 4
    else:
        # A connection is closed at its first garbage reply (its 10th): the server wrote
        # exactly one per connection, and at most 3 more requests were in flight behind it.
        assert failed["mismatch"] == garbage > 20
        assert set(failed) <= {"mismatch", "aborted"}
        assert failed.get("aborted", 0) <= 3 * garbage
        # Each garbage reply replaced its connection, but for a client whose window had
        # closed by then.
        assert 4 + garbage - 4 <= totals["connections"] <= 4 + garbage


@BOTH_DRIVERS
@pytest.mark.parametrize("rate", [None, 2000.0], ids=["closed-loop", "open-loop"])
def test_a_datagram_target_that_goes_silent_is_degraded_and_its_loss_errors(
    knee_server: Start, batch: bool, rate: float | None
) -> None:
    port, _ = knee_server("silent-after", "--after", "1.2")
    result = run_result(
        **_target(port, "udp"), clients=4, rate=rate, duration_s=2.5, warmup_s=0.2,
        timeout_s=0.3, interval_s=0.25, batch=batch, checks=["errors == 0"],
    )  # fmt: skip
    totals = result["totals"]
    assert result["status"] == "degraded"
    assert totals["errors"]["lost"] == result["datagrams"]["lost"] > 0
    [degraded] = [w for w in result["warning_details"] if w["kind"] == "degraded"]
    assert "the target stopped answering" in degraded["message"]
    # It went silent 1.0 s into the window: the message brackets that by its rows. Open
    # loop, a stall of the generator itself (a loaded machine holding this process) widens
    # the bracket and is named (core/degraded.py; seen once in a fresh clone, reproduced
    # with a 0.4 s SIGSTOP, which read "between 0.5 and 0.75 s" before).
    found = re.search(r"answering between ([\d.]+) and ([\d.]+) s", degraded["message"])
    assert found is not None, degraded["message"]
    low, high = float(found[1]), float(found[2])
    assert low <= 1.0 <= high + 0.1, degraded["message"]
    if "the generator itself sent" not in degraded["message"]:
        assert high - low == 0.25, degraded["message"]
    assert result["checks"][0]["passed"] is False
    if rate:
        [warning] = [w for w in result["warning_details"] if w["kind"] == "rate_not_kept"]
        assert "lost" in warning["message"] and "backlog" not in warning["advice"]


@BOTH_DRIVERS
def test_datagrams_the_generator_never_sent_are_issued_and_failed(batch: bool) -> None:
    """A rate far past what one Python worker sends: the window's datagrams it never sent
    by the drain's end are in the accounting, as timeouts or unfinished, not lost (they
    vanished from it before: 600,000 due, 223,104 issued). Uniform arrivals make the
    count exact: the rate times the window, one client."""
    result = run_result(
        proto="udp", clients=1, rate=1_000_000.0, duration_s=0.3, warmup_s=0.1, timeout_s=0.2,
        drain_s=0.1, batch=batch,
    )  # fmt: skip
    totals, datagrams = result["totals"], result["datagrams"]
    assert totals["requests_issued"] == 300_000
    unsent = totals["requests_issued"] - datagrams["sent"] - totals["in_flight"]
    assert unsent > 0  # the point of the test: one Python client sends nowhere near 1M/s
    failed = totals["requests_failed"]
    assert failed.get("timeout", 0) + failed.get("unfinished", 0) >= unsent
    assert datagrams["lost"] == failed.get("lost", 0)


def test_a_target_that_never_reads_drops_at_its_own_socket(tmp_path: Path) -> None:
    """A bound UDP socket nobody reads: what does not fit in its buffer the kernel drops
    there, and the result's count is the kernel's own, read from the socket itself."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as target:
        target.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        target.bind(("127.0.0.1", 0))
        port = target.getsockname()[1]
        result = run_result(
            **_target(port, "udp"), clients=2, rate=400.0, duration_s=0.5, warmup_s=0.2,
            timeout_s=0.2,
        )  # fmt: skip
        kernel = receive_drops(target)
    d = result["datagrams"]
    assert d["received"] == 0 and d["lost"] == d["sent"] > 150  # warm-up's went first
    assert d["target_drops"] == kernel > d["sent"] - 20  # a 4 KiB buffer holds a few
    assert d["generator_drops"] == 0


def _flood_a_stopped_generator(out: Path, datagrams: int, *options: str) -> dict[str, Any]:
    """Run one UDP client against a target that, once it has the client's address, sends
    it ``datagrams`` replies while the generator is stopped (SIGSTOP); the result."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as target:
        target.bind(("127.0.0.1", 0))
        target.settimeout(60)
        proc = subprocess.Popen(
            [sys.executable, "-m", "sockbench", "run", "--target",
             f"udp://127.0.0.1:{target.getsockname()[1]}", "--clients", "1", "--rate", "200",
             "-d", "1", "--warmup", "0.3", "--timeout", "0.3", "--json", str(out), "--out", "",
             "--quiet", *options],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            request, client = target.recvfrom(2048)
            seen = set()
            while client not in seen:  # a client's second request (not the preflight's probe)
                seen.add(client)
                request, client = target.recvfrom(2048)
            with stopped(proc):
                for _ in range(datagrams):
                    target.sendto(request, client)
            _, stderr = proc.communicate(timeout=60)
        finally:
            stop_process(proc)
    result = dict(json.loads(out.read_text()))
    assert result["status"] == "degraded", stderr  # the target answers no request
    return result


@BOTH_DRIVERS
def test_replies_the_generator_did_not_read_are_its_own_drops(tmp_path: Path, batch: bool) -> None:
    """The generator stopped (SIGSTOP) while its target sends it 20,000 datagrams: its
    socket keeps what fits, the kernel drops the rest, and the result counts them as
    the generator's, the run not valid for it."""
    result = _flood_a_stopped_generator(
        tmp_path / "r.json", 20_000, *([] if batch else ["--no-batch"])
    )
    drops = result["datagrams"]["generator_drops"]
    assert 0 < drops < 20_000
    [reason] = [r for r in result["validity"]["reasons"] if r["test"] == "drops"]
    assert f"dropped {drops:,} datagrams" in reason["text"]


def test_the_socket_buffer_asked_is_the_one_the_clients_get(tmp_path: Path) -> None:
    """--socket-buffer 4k: the kernel grants 8 KiB, a few small datagrams, so of 2,000
    sent to the stopped generator it drops all but those (the default, about 200 KiB,
    keeps a few hundred). One driver: both open their sockets in context.open_datagram."""
    result = _flood_a_stopped_generator(tmp_path / "r.json", 2_000, "--socket-buffer", "4k")
    assert result["config"]["socket_buffer"] == 4096
    assert 2_000 - 32 <= result["datagrams"]["generator_drops"] < 2_000


def test_a_full_accept_queue_is_counted_as_the_target_counted_it(
    knee_server: Start, tmp_path: Path
) -> None:
    """8 clients at a backlog of 1 that the server leaves full until the kernel drops a
    handshake: the drops in the result are the listening socket's own count (SO_MEMINFO,
    read by the server), and the warning says what the clients saw."""
    log = tmp_path / "drops"
    port, proc = knee_server("late-accept", "--backlog", "1", "--log", str(log))
    result = run_result(**_target(port), clients=8, duration_s=0.3, warmup_s=0.1)
    stop_process(proc)
    queue = result["accept_queue"]
    assert queue["drops"] == int(log.read_text()) > 0
    assert (queue["backlog"], queue["sockets"]) == (1, 1)
    [warning] = [w for w in result["warning_details"] if w["kind"] == "listen_drops"]
    assert f"dropped {queue['drops']:,} handshake packets" in warning["message"]
    assert result["connect_us"]["max"] >= 900_000  # a retry waits out the 1 s timeout


@BOTH_DRIVERS
def test_a_server_that_times_out_idle_connections_gets_one_per_request(
    knee_server: Start, tmp_path: Path, batch: bool
) -> None:
    """A server that closes a connection idle 150 ms, a fresh one too (uvicorn's
    keep-alive timeout), and requests 500 ms apart on each of 4 clients: each close is
    an idle one (no error), and the client reconnects when its next request is due, so
    every connection carries a request. Reconnecting at once, each fresh connection was
    closed again, backed off longer each time, and the requests due meanwhile waited
    (p50 388 ms from a server answering in 450 µs, at 50 ms and 250 ms apart). The
    150 ms is room for a generator stalled between a connect and its request on a
    loaded machine (at 50 ms a fresh clone's run once sent a request on a connection the
    server had just closed: an honest ``closed`` error, and a failed test)."""
    log = tmp_path / "counts"
    port, proc = knee_server("idle-close", "--idle-ms", "150", "--log", str(log))
    result = run_result(
        **_target(port), clients=4, rate=8.0, duration_s=2.0, warmup_s=0.0, batch=batch
    )
    stop_process(proc)
    accepted, closed_idle = map(int, log.read_text().split())
    totals = result["totals"]
    assert totals["errors"] == {} and totals["requests"] == totals["requests_issued"] >= 12
    # The server also accepted the preflight's connection (servers/preflight.py). One
    # connection per request and one per client (its first, timed out before its first
    # request) is what a run reads; the rest of the bound is room for a generator
    # stalled past the 150 ms between a connect and its request (the reconnect storm read
    # 60 connections for 16 requests).
    assert totals["connections"] == accepted - 1 <= totals["requests_issued"] + 2 * 4
    assert 8 <= totals["closed_idle"] <= closed_idle
    assert "reconnects" in [w["kind"] for w in result["warning_details"]]
