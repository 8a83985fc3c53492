"""--metrics-port: a run and a compare serve OpenMetrics at /metrics while they go, with the
values their result JSON has, on loopback, and stop with them (docs/metrics.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
WAIT_S = 60.0  # a loaded 2-core machine: only the failure case waits it out

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Sockbench:
    """``sockbench ARGS`` with its stderr read as it comes: the ``metrics:`` line's URL."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sockbench", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        self.lines: list[str] = []
        self.url = threading.Event()
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if line.startswith("metrics: "):
                self.url.set()
        self.ended.set()

    def metrics_url(self) -> str:
        assert self.url.wait(WAIT_S), f"no metrics: line; stderr: {self.lines}"
        return next(ln for ln in self.lines if ln.startswith("metrics: ")).split()[1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def sockbench() -> Iterator[type[Sockbench]]:
    started: list[Sockbench] = []

    class Started(Sockbench):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Started
    for run in started:
        run.stop()


def scrape(url: str) -> Series | None:
    """The samples at ``url`` (None once it is gone: the run ended)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            text = reply.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def one(series: Series, name: str, **labels: str) -> float:
    """The value of ``name`` whose labels include ``labels`` (exactly one)."""
    found = [v for (n, ls), v in series.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def counted(series: Series, name: str) -> bool:
    """Whether a scrape shows ``name`` above 0 (a scrape before the run starts shows no
    run at all)."""
    return any(v > 0 for (n, _), v in series.items() if n == name)


def scrapes_until_gone(run: Sockbench, url: str) -> list[Series]:
    """Every scrape of ``url`` while the run serves it, back to back, until it stops."""
    seen: list[Series] = []
    while (found := scrape(url)) is not None:
        seen.append(found)
        try:  # a scrape every 0.1 s, as a fast Prometheus would, until the run exits
            run.proc.wait(0.1)
            break
        except subprocess.TimeoutExpired:
            continue
    run.proc.wait(WAIT_S)
    return seen


def assert_agrees(series: Series, doc: dict[str, Any], **labels: str) -> None:
    """A scrape's series are the result's rows up to the one it shows last."""
    done = int(one(series, "sockbench_intervals_total", **labels))
    rows = doc["intervals"][:done]
    assert one(series, "sockbench_requests_total", **labels) == sum(r["requests"] for r in rows)
    assert one(series, "sockbench_errors_total", **labels) == sum(r["errors"] for r in rows)
    last = rows[-1]
    assert one(series, "sockbench_interval_end_seconds", **labels) == last["t"]
    assert one(series, "sockbench_interval_requests", **labels) == last["requests"]
    assert one(series, "sockbench_rate", **labels) == last["rps"]
    for quantile, key in (("0.5", "p50"), ("0.99", "p99"), ("1", "max")):
        got = one(series, "sockbench_latency_seconds", quantile=quantile, **labels)
        assert got == pytest.approx(last[key] / 1e6, rel=1e-12)


def test_a_run_serves_its_intervals_as_the_result_has_them_and_stops_with_it(
    sockbench: type[Sockbench], tmp_path: Path
) -> None:
    result = tmp_path / "result.json"
    run = sockbench(
        "run", "--clients", "2", "--duration", "1s", "--warmup", "0.2s", "--interval", "0.25s",
        "--metrics-port", "0", "--out", "", "--json", str(result), "-q",
    )  # fmt: skip
    url = run.metrics_url()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
    seen = scrapes_until_gone(run, url)
    assert run.proc.returncode == 0, run.lines
    assert scrape(url) is None  # it stopped with the run
    doc = json.loads(result.read_text())
    measured = [s for s in seen if counted(s, "sockbench_intervals_total")]
    assert measured, f"no scrape saw an interval in {len(seen)} scrapes"
    labels = {"model": "asyncio", "protocol": "echo", "transport": "tcp"}
    for series in measured:
        assert_agrees(series, doc, **labels)
    assert one(measured[-1], "sockbench_connections") == doc["totals"]["connections"] == 2
    for side in ("server", "generator"):  # sampled every 0.5 s, as the result's mean is
        assert one(measured[-1], f"sockbench_{side}_cpu_percent") >= 0
    # The run's end waited for the next scrape, and for its reply to be written: the last
    # one saw every interval.
    assert one(measured[-1], "sockbench_intervals_total") == len(doc["intervals"])
    counts = [one(s, "sockbench_requests_total") for s in measured]
    assert counts == sorted(counts)  # a counter never goes down


def test_an_address_other_hosts_reach_needs_allow_remote(sockbench: type[Sockbench]) -> None:
    run = sockbench("run", "--duration", "1s", "--metrics-port", "0.0.0.0:0", "--out", "", "-q")
    assert run.proc.wait(WAIT_S) == 2  # before any load: nothing was served
    assert not run.url.is_set()
    assert run.ended.wait(WAIT_S)  # its stderr read to the end
    assert run.lines[-1].startswith("sockbench: error: --metrics-port 0.0.0.0:0 listens")
    assert "--allow-remote" in run.lines[-1]


def test_a_compare_serves_each_cell_under_its_own_run_id_and_model(
    sockbench: type[Sockbench], tmp_path: Path
) -> None:
    folder = tmp_path / "cmp"
    run = sockbench(
        "compare", "--server", "asyncio,threaded", "--proto", "tcp", "-c", "2",
        "--duration", "1s", "--warmup", "0.2s", "--metrics-port", "0", "--out", str(folder),
        "-q",
    )  # fmt: skip
    url = run.metrics_url()
    seen = scrapes_until_gone(run, url)
    assert run.proc.returncode == 0, run.lines
    assert scrape(url) is None  # it stopped with the compare
    cells = json.loads((folder / "results.json").read_text())["cells"]
    agreed, every_id = set(), set()
    for series in seen:
        ids = {dict(ls)["run_id"] for n, ls in series if n == "sockbench_run_info"}
        every_id |= ids
        for result in cells:
            index, model = result["cell"]["index"], result["config"]["server_model"]
            [cell_id] = [i for i in ids if i.endswith(f"-cell{index}")] or [None]
            if cell_id is None:
                continue  # not started when this scrape came
            labels = {"run_id": cell_id, "model": model, "transport": "tcp"}
            if one(series, "sockbench_intervals_total", **labels):
                assert_agrees(series, result, **labels)
                agreed.add(index)
    assert agreed == {1, 2}, f"{len(seen)} scrapes saw measured intervals of cells {agreed}"
    # One compare: its id, then the cell's (over every scrape: the last may come when no cell runs)
    assert len({i.rsplit("-", 1)[0] for i in every_id}) == 1, every_id


def test_errors_are_split_by_kind_as_the_result_counts_them(
    sockbench: type[Sockbench], faulty_server: Callable[..., str], tmp_path: Path
) -> None:
    port = faulty_server("--proto", "udp", "--behaviour", "drop10")  # a tenth never answered
    result = tmp_path / "result.json"
    run = sockbench(
        "run", "--target", f"udp://127.0.0.1:{port}", "--clients", "2", "--duration", "1.5s",
        "--warmup", "0.2s", "--interval", "0.25s", "--timeout", "0.1s", "--metrics-port", "0",
        "--out", "", "--json", str(result), "-q",
    )  # fmt: skip
    seen = scrapes_until_gone(run, run.metrics_url())
    doc = json.loads(result.read_text())
    assert doc["totals"]["errors"].get("lost"), doc["totals"]["errors"]
    labels = {"model": "external", "transport": "udp"}
    measured = [s for s in seen if counted(s, "sockbench_errors_total")]
    assert measured, f"no scrape saw an error in {len(seen)} scrapes"
    for series in measured:
        assert_agrees(series, doc, **labels)
        by_kind = {
            dict(ls)["error"]: v
            for (n, ls), v in series.items()
            if n == "sockbench_errors_by_kind_total"
        }
        assert sum(by_kind.values()) == one(series, "sockbench_errors_total", **labels)
        for kind, n in by_kind.items():  # within the window; the result's count adds the drain
            assert n <= doc["totals"]["errors"][kind]


def test_a_sweep_serves_each_step_under_its_own_run_id_with_its_rate(
    sockbench: type[Sockbench], tmp_path: Path
) -> None:
    """Each step is a run of its own: its run_id the sweep's and the step's, its rate as
    sockbench_requested_rate, and the values its saved result has."""
    run = sockbench(
        "sweep", "--server", "asyncio", "-c", "2", "--rate", "400,800", "--duration", "0.6s",
        "--warmup", "0s", "--keep-server", "--metrics-port", "0", "--out", str(tmp_path), "-q",
    )  # fmt: skip
    url = run.metrics_url()
    seen = scrapes_until_gone(run, url)
    assert run.proc.returncode == 0, run.lines
    [folder] = tmp_path.iterdir()
    steps = json.loads((folder / "sweep.json").read_text())["curves"][0]["steps"]
    agreed = set()
    for series in seen:
        for n, step in enumerate(steps, 1):
            ids = {dict(ls)["run_id"] for name, ls in series if name == "sockbench_run_info"}
            [step_id] = [i for i in ids if i.endswith(f"-step{n}")] or [None]
            if step_id is None:
                continue  # not started when this scrape came
            assert one(series, "sockbench_requested_rate", run_id=step_id) == step["rate"]
            if one(series, "sockbench_intervals_total", run_id=step_id):
                result = json.loads((folder / step["result"] / "result.json").read_text())
                assert_agrees(series, result, run_id=step_id)
                agreed.add(n)
    assert agreed == {1, 2}, f"{len(seen)} scrapes saw measured intervals of steps {agreed}"


def test_the_end_waits_until_the_reply_with_the_last_values_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The request threads are daemons: were the end to wait only until the last values
    were read, a process leaving at once would cut their reply off (so the scrape that
    had them came back empty)."""
    import socket
    import time

    from sockbench.report.metrics_export import MetricsExporter, _Collector
    from tests.support.specs import spec_of

    slow = threading.Event()
    collect = _Collector.collect

    def slowly(self: _Collector) -> Iterator[Any]:  # the states read first, then a pause
        made = list(collect(self))
        if slow.is_set():
            time.sleep(1.0)
        yield from made

    monkeypatch.setattr(_Collector, "collect", slowly)
    exporter = MetricsExporter("127.0.0.1", 0, (99.0,))
    with exporter:
        assert scrape(exporter.url) is not None and scrape(exporter.url) is not None
        exporter.start_run(spec_of({"clients": 2}), "r")  # the last values: not yet read
        slow.set()
        last = socket.create_connection(("127.0.0.1", exporter.port))
        last.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
    with last:  # after the end: the whole reply is here already
        last.setblocking(False)
        head, _, body = last.recv(1 << 20).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), head
    [length] = [int(h.split(b":")[1]) for h in head.split(b"\r\n") if b"Content-Length" in h]
    assert len(body) == length and b'run_id="r"' in body
