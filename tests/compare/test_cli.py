"""`sockbench compare` end to end: real server processes on loopback, real files."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.processes import command_line
from tests.support.schema import validate_compare

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "result.schema.json").read_text())
SHORT = ["--duration", "1", "--warmup", "0.2"]


def _sockbench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sockbench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def small_compare(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """threaded and asyncio × 5 and 60 clients over tcp: four cells, ~7 s."""
    out = tmp_path_factory.mktemp("compare") / "cmp"
    proc = _sockbench(
        "compare", "--server", "threaded,asyncio", "--proto", "tcp", "--clients", "5,60",
        "--payload", "64", *SHORT, "--out", str(out), timeout=120,
    )  # fmt: skip
    return out, proc


def test_compare_writes_every_file(small_compare: tuple[Path, Any]) -> None:
    out, proc = small_compare
    assert proc.returncode == 0, proc.stderr
    assert f"results: {out}" in proc.stdout
    doc = json.loads((out / "results.json").read_text())
    assert doc["schema"] == "sockbench.compare/1"
    validate_compare(doc)
    assert doc["created_at"] and doc["command"].startswith("sockbench compare")
    assert doc["environment"]["cpu_count"]
    cells = doc["cells"]
    assert len(cells) == 4
    for result in cells:
        jsonschema.validate(result, SCHEMA)
        assert result["status"] == "completed"
        assert result["cell"]["proto"] == "tcp" and result["cell"]["repeat"] == 1
        assert result["latency_us"]["histogram"]  # mergeable
        assert result["totals"]["requests"] > 0
    with (out / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(cells)
    assert (out / "report.md").read_text().count("\n| threaded | tcp |") == 2
    html = (out / "report.html").read_text()
    assert '<table id="summary">' in html and html.count("data-cell=") == len(cells)
    hgrms = sorted(p.name for p in out.glob("*.hgrm"))
    assert hgrms == sorted(
        f"tcp-64-c{c}-{m}-r1.hgrm" for m in ("threaded", "asyncio") for c in (5, 60)
    )
    assert "Percentile" in (out / hgrms[0]).read_text()


def test_cells_ran_interleaved(small_compare: tuple[Path, Any]) -> None:
    out, _ = small_compare
    cells = json.loads((out / "results.json").read_text())["cells"]
    order = [(c["cell"]["clients"], c["cell"]["model"]) for c in cells]
    # Per client count both models back to back, the first model rotating.
    assert order == [(5, "threaded"), (5, "asyncio"), (60, "asyncio"), (60, "threaded")]
    starts = [c["started_at"] for c in cells]
    assert starts == sorted(starts)


def test_every_cell_had_its_own_pinned_server(small_compare: tuple[Path, Any]) -> None:
    out, _ = small_compare
    cells = json.loads((out / "results.json").read_text())["cells"]
    assert len({c["server"]["target"] for c in cells}) == len(cells)  # fresh server each
    if len(os.sched_getaffinity(0)) >= 2:
        for c in cells:
            server, client = set(c["server"]["cpus"]), set(c["config"]["client_cpus"])
            assert server and client and not server & client


def test_threaded_server_threads_grow_with_clients(small_compare: tuple[Path, Any]) -> None:
    out, _ = small_compare
    cells = json.loads((out / "results.json").read_text())["cells"]
    threads = {
        (c["cell"]["model"], c["cell"]["clients"]): c["server_resources"]["threads_max"]
        for c in cells
    }
    assert threads[("threaded", 60)] > threads[("threaded", 5)]
    assert threads[("threaded", 60)] >= 60  # one thread per connection
    assert threads[("asyncio", 60)] < 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server", "threaded,nginx"], "unknown --server 'nginx'"),
        (["--clients", "10,,100"], "malformed --clients"),
        (["--clients", "10,many"], "'many'; expected a whole number"),
        (["--proto", "tcp,sctp"], "unknown --proto 'sctp'"),
        (["--payload", "64,12x"], "malformed --payload"),
        (["--repeat", "0"], "--repeat must be between"),
        (["--server-cpus", "0-x"], "malformed --server-cpus"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    out = tmp_path / "never"
    proc = _sockbench("compare", *args, "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("sockbench: error: ")
    assert message.lower() in lines[0].lower()
    assert not out.exists()  # nothing ran, nothing written


def test_server_tls_and_reverse_streams_reach_every_cell(tmp_path: Path) -> None:
    """One compare for two wirings (each CLI compare renders its report's charts: seconds):
    --server-tls (each model serves TLS, each cell's clients speak it, their handshakes
    counted, the report says so) and --mode stream --reverse (each cell a stream the
    server sends, its RX-C in the progress line, the Streams table and the CSV)."""
    out = tmp_path / "cmp"
    proc = _sockbench(
        "compare", "--server-tls", "--mode", "stream", "--reverse", "--server", "asyncio,trio",
        "--clients", "2", "--duration", "0.3", "--warmup", "0", "--out", str(out), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "results.json").read_text())
    validate_compare(doc)
    assert sorted(r["cell"]["model"] for r in doc["cells"]) == ["asyncio", "trio"]
    for result in doc["cells"]:
        jsonschema.validate(result, SCHEMA)
        assert result["server"]["target"].startswith("tls://")
        assert result["config"]["server_tls"] and result["cell"]["proto"] == "tcp"
        assert result["tls"]["handshakes"] == result["tls"]["full"] == 2
        assert result["totals"]["errors"] == {}
        assert result["config"]["direction"] == result["stream"]["direction"] == "reverse"
        reverse = result["stream"]["reverse"]
        assert reverse["receiver"]["bytes"] > 0 and reverse["lost_bytes"] == 0
        assert reverse["server_sent_bytes"] == (
            reverse["before_bytes"] + reverse["receiver"]["bytes"] + reverse["after_bytes"]
        )  # what the server sent: read before, in or after the window, none lost
    assert proc.stdout.count(": RX-C ") == 2
    report = (out / "report.md").read_text()
    assert "the models served TLS (--server-tls)" in report
    assert "RX-C bit/s" in report and report.count("| reverse |") == 2
    with (out / "summary.csv").open() as f:
        assert [row["direction"] for row in csv.DictReader(f)] == ["reverse", "reverse"]


@pytest.mark.parametrize(
    ("args", "old", "new", "message"),
    [
        (["--models", "threaded,nginx"], "--models", "--server", "unknown --models 'nginx'"),
        (["--model", "socat"], "--model", "--server-cmd", "--model expects NAME=COMMAND"),
    ],
)
def test_old_spellings_warn_and_errors_name_them(
    args: list[str], old: str, new: str, message: str, tmp_path: Path
) -> None:
    """compare's --models and --model NAME=CMD are --server and --server-cmd now; the old
    spellings still work, with a one-line warning."""
    proc = _sockbench("compare", "--proto", "tcp", *args, "--out", str(tmp_path / "never"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"sockbench: warning: {old} is deprecated; use {new}",
        f"sockbench: error: {proc.stderr.split('error: ', 1)[1].strip()}",
    ]
    assert message in proc.stderr
    both = _sockbench("compare", *args, new, "x", "--out", str(tmp_path / "never"))
    assert both.returncode == 2
    assert f"give {new} or its old name {old}, not both" in both.stderr


def test_ctrl_c_keeps_finished_cells_and_exits_130(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = [
        "compare", "--server", "threaded,selectors", "--proto", "tcp", "--clients", "5,10,20",
        *SHORT, "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "sockbench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads((out / "results.json").read_text())["cells"]:
                    break
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.1)
        assert proc.poll() is None, "compare ended before it could be interrupted"
        _await_next_server(proc.pid, deadline)  # the first cell's server stopped before it was kept
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["status"] == "interrupted"
    validate_compare(doc)
    assert 1 <= len(doc["cells"]) < 6
    assert doc["cells"][0]["status"] == "completed"
    for result in doc["cells"]:
        jsonschema.validate(result, SCHEMA)
    for name in ("summary.csv", "report.md", "report.html"):
        assert (out / name).is_file()
    assert len(list(out.glob("*.hgrm"))) == len(doc["cells"])
    _no_process_left(proc.pid)


def _await_next_server(pid: int, deadline: float) -> None:
    """Until a server child runs again: the compare is inside its next cell."""
    import psutil

    while time.monotonic() < deadline:
        for child in psutil.Process(pid).children(recursive=True):
            if "sockbench.servers.child" in command_line(child):
                return
        time.sleep(0.05)
    raise AssertionError("the next cell's server never started")


def _no_process_left(pgid: int) -> None:
    """The compare's session (its servers, workers) is gone: they die with it."""
    import psutil

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = []
        for p in psutil.process_iter():
            try:
                if os.getpgid(p.pid) == pgid:
                    left.append(p)
            except (ProcessLookupError, psutil.Error):
                pass
        if not left:
            return
        time.sleep(0.1)
    for p in left:
        p.kill()
    raise AssertionError(f"processes left behind: {left}")
