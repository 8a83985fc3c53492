"""Worker processes: counts agree with one worker, a dead worker is reported, source IPs spread."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.support.processes import command_line
from tests.support.runs import run_result
from tests.support.schema import validate_result

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)


def _run(**kw: object) -> dict[str, object]:
    return run_result(**{"clients": 20, "duration_s": 30.0, **kw})


def test_two_workers_and_one_agree_on_counts() -> None:
    one = _run(workers="1", requests=3000)
    two = _run(workers="2", requests=3000)
    for result in (one, two):
        totals = result["totals"]
        assert isinstance(totals, dict)
        assert totals["requests"] == 3000
        assert totals["connections"] == 20
        assert totals["errors"] == {}
        assert result["latency_us"]["count"] == 3000  # type: ignore[index]
        assert result["connect_us"]["count"] == 20  # type: ignore[index]
    assert two["generator"]["workers"] == 2  # type: ignore[index]
    assert one["generator"]["workers"] == 1  # type: ignore[index]


def test_udp_over_two_workers_balances(tmp_path: Path) -> None:
    result = _run(proto="udp", workers="2", duration_s=1.0, clients=10)
    d = result["datagrams"]
    assert isinstance(d, dict)
    assert d["sent"] == d["received"] + d["lost"] + d["in_flight"]
    assert d["received"] == result["totals"]["requests"]  # type: ignore[index]


def test_a_killed_worker_is_reported_not_hidden(sockbench_cmd: list[str], tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [*sockbench_cmd, "run", "--clients", "20", "--workers", "2", "--duration", "4",
         "--warmup", "0.2", "--json", str(out), "--out", ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        victim = None
        while victim is None and time.monotonic() < deadline:
            time.sleep(0.2)
            children = psutil.Process(proc.pid).children()
            workers = [c for c in children if "spawn_main" in command_line(c)]
            if len(workers) >= 2:
                victim = workers[0]
        assert victim is not None, "no worker processes appeared"
        # Killed once it carries load: its 10 clients are connected (an observable event).
        while _established(victim) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = validate_result(json.loads(out.read_text()))
    assert result["status"] == "worker_failed"
    assert result["interrupted"] is True
    assert any("died during the run" in w for w in result["warnings"])
    assert result["totals"]["requests"] > 0  # the other worker's measurements are kept
    assert "Traceback" not in stderr


def _established(process: psutil.Process) -> int:
    try:
        conns = process.net_connections(kind="tcp")
    except psutil.Error:
        return 0
    return sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED)


def test_clients_spread_over_source_addresses(sockbench_cmd: list[str]) -> None:
    proc = subprocess.Popen(
        [*sockbench_cmd, "run", "--clients", "40", "--source-ips", "127.0.0.2,127.0.0.3",
         "--duration", "3", "--warmup", "0.5", "--json", "-", "--out", ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and sum(seen.values()) < 40:
            time.sleep(0.2)
            seen = {}
            # Only this run's sockets: other programs may use these addresses too.
            generator = psutil.Process(proc.pid)
            for process in [generator, *generator.children(recursive=True)]:
                try:
                    conns = process.net_connections(kind="tcp")
                except psutil.Error:
                    continue
                for conn in conns:
                    ip = conn.laddr.ip
                    if conn.status == psutil.CONN_ESTABLISHED and ip in ("127.0.0.2", "127.0.0.3"):
                        seen[ip] = seen.get(ip, 0) + 1
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert seen == {"127.0.0.2": 20, "127.0.0.3": 20}
    result = validate_result(json.loads(stdout))
    assert result["totals"]["errors"] == {}
    assert result["totals"]["connections"] == 40
