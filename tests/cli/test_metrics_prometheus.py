"""A real Prometheus (Debian's ``prometheus``) scrapes a real run's --metrics-port every
0.5 s; its query API returns the series with the values the result JSON has."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

PROMETHEUS = shutil.which("prometheus")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        PROMETHEUS is None, reason="prometheus is not installed (.ci/system-deps installs it)"
    ),
]
WAIT_S = 60.0  # a loaded 2-core machine: only the failure case waits it out
SCRAPE = "500ms"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Prometheus:
    """A private Prometheus on a loopback port, scraping ``target`` every 0.5 s."""

    def __init__(self, folder: Path, target: str) -> None:
        config = folder / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {SCRAPE}\n"
            f"  scrape_timeout: {SCRAPE}\n"
            "scrape_configs:\n"
            "  - job_name: sockbench\n"
            f"    static_configs: [{{targets: ['{target}']}}]\n"
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        assert PROMETHEUS is not None
        self.proc = subprocess.Popen(
            [
                PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip

    def get(self, path: str, **query: str) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return json.loads(reply.read()) if path.startswith("/api/") else reply.read()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                self.get("/-/ready")
                return
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    assert self.proc.stderr is not None
                    pytest.fail(f"prometheus did not start: {self.proc.stderr.read()[-2000:]!r}")
                time.sleep(0.05)  # polls its readiness, as a dashboard would

    def wait_scraping(self) -> None:
        """Until its first scrape of the target (refused: nothing serves it yet). Prometheus
        hands a new target to its scrape loop a few seconds after it starts."""
        deadline = time.monotonic() + WAIT_S
        while True:
            targets = self.get("/api/v1/targets")["data"]["activeTargets"]
            if targets and not targets[0]["lastScrape"].startswith("0001-"):
                return
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus never scraped its target: {targets}")
            time.sleep(0.05)  # polls its state

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector: ``[{metric: {labels}, value: float}]``."""
        found = self.get("/api/v1/query", query=expr)
        assert found["status"] == "success", found
        return [
            {"metric": r["metric"], "value": float(r["value"][1])} for r in found["data"]["result"]
        ]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def prometheus(tmp_path: Path, metrics_port: int) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path, f"127.0.0.1:{metrics_port}")
    try:
        server.wait_ready()
        server.wait_scraping()
        yield server
    finally:
        server.stop()


def last(prometheus: Prometheus, name: str, **labels: str) -> float:
    """The last value Prometheus scraped of ``name`` (a range selector skips the staleness
    marker it writes once the run, and its endpoint, are gone)."""
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = prometheus.query(f"last_over_time({name}{{{selector}}}[5m])")
    assert len(found) == 1, (name, labels, found)
    value: float = found[0]["value"]
    return value


def test_prometheus_scrapes_a_run_and_its_query_api_has_the_results_values(
    prometheus: Prometheus, metrics_port: int, tmp_path: Path
) -> None:
    result = tmp_path / "result.json"
    run = subprocess.run(
        [
            sys.executable, "-m", "sockbench", "run", "--clients", "2", "--duration", "1.5s",
            "--warmup", "0.2s", "--interval", "0.5s", "--metrics-port", str(metrics_port),
            "--out", "", "--json", str(result), "-q",
        ],
        capture_output=True, text=True, cwd=ROOT, timeout=WAIT_S,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    doc = json.loads(result.read_text())
    [info] = prometheus.query("last_over_time(sockbench_run_info[5m])")
    labels = info["metric"]
    assert labels["job"] == "sockbench" and labels["instance"] == f"127.0.0.1:{metrics_port}"
    assert (labels["model"], labels["protocol"], labels["transport"]) == ("asyncio", "echo", "tcp")
    run_id = {"run_id": labels["run_id"]}
    # The run's end waits for Prometheus's next scrape, so it has every interval; on a
    # loaded machine that scrape can come after the wait (3 s at most): then all but the
    # last. Whatever it kept last agrees with the result's rows up to there.
    rows = doc["intervals"]
    seen = int(last(prometheus, "sockbench_intervals_total", **run_id))
    assert len(rows) - 1 <= seen <= len(rows) and seen >= 1, (seen, len(rows))
    upto = rows[:seen]
    assert last(prometheus, "sockbench_requests_total", **run_id) == sum(
        r["requests"] for r in upto
    )
    assert last(prometheus, "sockbench_errors_total", **run_id) == sum(r["errors"] for r in upto)
    assert last(prometheus, "sockbench_interval_end_seconds", **run_id) == upto[-1]["t"]
    assert last(prometheus, "sockbench_rate", **run_id) == upto[-1]["rps"]
    for quantile, key in (("0.5", "p50"), ("0.99", "p99"), ("1", "max")):
        got = last(prometheus, "sockbench_latency_seconds", quantile=quantile, **run_id)
        assert got == pytest.approx(upto[-1][key] / 1e6, rel=1e-12)
    assert last(prometheus, "sockbench_connections", **run_id) == doc["totals"]["connections"]
    # Every sample Prometheus kept is the sum of the result's first rows, 0 to all of them.
    selector = f'sockbench_requests_total{{run_id="{labels["run_id"]}"}}[5m]'
    [kept] = prometheus.get("/api/v1/query", query=selector)["data"]["result"]
    sums = {
        sum(r["requests"] for r in doc["intervals"][:n]) for n in range(len(doc["intervals"]) + 1)
    }
    values = [float(v) for _, v in kept["values"]]
    assert len(values) >= 2 and set(values) <= sums, (values, sorted(sums))
    assert values == sorted(values)
