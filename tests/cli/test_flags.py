"""The command line users already know: short flags, units, help, checks, pipes (e2e)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sockbench.servers.registry import MODELS
from tests.support.refusals import refusal

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

SOCKBENCH = [sys.executable, "-m", "sockbench"]
SHORT = ["--warmup", "0", "--out", ""]


def _run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SOCKBENCH, *args], capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL, **kw,  # type: ignore[call-overload]
    )  # fmt: skip


def test_short_flags_and_units() -> None:
    proc = _run(
        "run", "-c", "4", "-d", "500ms", "-R", "1k", "-P", "2", "-t", "2", "-i", "250ms",
        "-q", "-J", "--percentiles", "50,99.999", *SHORT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result["latency_us"]["percentiles"]) == {"50", "99.999"}
    config = result["config"]
    assert (config["clients"], config["duration_s"], config["rate"]) == (4, 0.5, 1000.0)
    assert (config["pipeline"], config["workers"], config["interval_s"]) == (2, 2, 0.25)
    assert config["timeout_s"] == 10.0  # a stream's give-up, not a measurement


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "lots"], "invalid value for '--clients': 'lots'; expected a whole number"),
        (["-d", "10x"], "expected a duration like 500ms, 10s, 2m"),
        (["-R", "fast"], "expected a number like 2500, 0.5, 10k"),
        (["--check", "p99 5ms"], "malformed --check 'p99 5ms'; expected METRIC OP VALUE"),
        (["--check", "loss < 1%"], "loss is measured over udp and unix-dgram"),
        (["--check", "unsolicited < 1"], "unsolicited is measured over udp and unix-dgram"),
        (["-J", "--json", "x.json"], "give -J or --json PATH, not both"),
        (["--ramp", "soon"], "expected a duration like 500ms, 10s, 2m"),
        (["--ramp", "-1"], "--ramp cannot be negative"),
        (["--connect-rate", "0"], "--connect-rate must be greater than 0"),
        (
            ["-c", "100", "--ramp", "1s", "--connect-rate", "10"],
            "--connect-rate 10 brings --clients 100 up in 10 s, longer than --ramp 1",
        ),
        (["--mode", "churn", "--ramp", "1s"], "--ramp applies to --mode echo and stream"),
    ],
)
def test_errors_say_what_is_accepted_before_any_load(
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    assert message in refusal(["run", *args], monkeypatch, capsys)
    assert time.monotonic() - started < 30  # refused up front, not after a run


def test_version_help_choices_and_completion() -> None:
    from sockbench import __version__, build

    for flag in ("--version", "-V"):  # and which build runs (sockbench/build.py)
        assert _run(flag).stdout == f"sockbench {__version__} ({build.describe()})\n"
    root = _run("-h").stdout
    assert "--install-completion" in root and "-V, --version" in root
    run_help = _run("run", "-h").stdout
    assert "[tcp|udp|unix|unix-dgram]" in run_help
    assert f"[{'|'.join(MODELS)}]" in run_help
    assert "-c, --clients" in run_help and "-R, --rate" in run_help
    compare_help = _run("compare", "--help").stdout
    assert f"[{'|'.join(MODELS)}],..." in compare_help


def test_checks_pass_and_fail_with_their_exit_codes(tmp_path: Path) -> None:
    passing = _run("run", "-c", "4", "-d", "1s", "-q", "-J", *SHORT,
                   "--check", "errors == 0", "--check", "rps >= 1")  # fmt: skip
    assert passing.returncode == 0, passing.stderr
    assert [c["passed"] for c in json.loads(passing.stdout)["checks"]] == [True, True]
    failing = _run("run", "-c", "4", "-d", "1s", "-q", "-J", *SHORT,
                   "--check", "p99 < 1us", "--check", "errors == 0")  # fmt: skip
    assert failing.returncode == 3, failing.stderr
    checks = json.loads(failing.stdout)["checks"]
    assert [(c["expr"], c["passed"]) for c in checks] == [("p99 < 1us", False),
                                                          ("errors == 0", True)]  # fmt: skip
    assert checks[0]["value"] > 1e-6
    assert "Checks" in failing.stderr and "FAIL" in failing.stderr


def test_piped_output_streams_a_line_per_interval() -> None:
    proc = subprocess.Popen(
        [*SOCKBENCH, "run", "-c", "4", "-d", "3s", "-i", "500ms", *SHORT],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert proc.poll() is None, "the first interval line came only at the end"
        rest, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert first.startswith("[") and " s] measuring " in first and "req/s" in first
    lines = (first + rest).splitlines()
    assert sum(" s] measuring " in line for line in lines) >= 5
    assert all(line == line.rstrip() for line in lines), "trailing spaces"
    assert "\x1b" not in first + rest  # no cursor movement or colour in a pipe


def test_jsonl_streams_intervals_then_the_result() -> None:
    proc = _run("run", "-c", "2", "-d", "1s", "-i", "500ms", "--format", "jsonl", *SHORT)
    assert proc.returncode == 0, proc.stderr
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["type"] for o in objects[-3:]] == ["interval", "interval", "result"]
    assert objects[-1]["result"]["schema"] == "sockbench.result/1"


def test_a_60_column_run_keeps_every_column() -> None:
    proc = _run("run", "-c", "2", "-d", "500ms", "-q", *SHORT, env={**os.environ, "COLUMNS": "60"})
    assert proc.returncode == 0, proc.stderr
    assert all(len(line) <= 60 for line in proc.stdout.splitlines())
    latency = proc.stdout.split("Latency")[1].split("Resources")[0]
    for column in ("p50", "p90", "p99", "p99.9", "p99.99", "max"):
        assert column in latency


def _limit_descriptors(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def test_the_server_descriptor_limit_is_explained_up_front() -> None:
    proc = subprocess.run(
        [*SOCKBENCH, "run", "-c", "300", "-t", "3", "-d", "500ms", "-q", *SHORT],
        capture_output=True, text=True, timeout=120, preexec_fn=lambda: _limit_descriptors(200),
    )  # fmt: skip
    warning = proc.stderr.splitlines()[0]
    assert warning.startswith("sockbench: warning: the asyncio server may hold about 184")
    assert "descriptor limit 200" in warning
    assert "use --server prefork --server-processes 2" in warning


def test_threadpool_queue_is_explained_up_front() -> None:
    proc = _run("run", "--server", "threadpool", "--server-threads", "4", "-c", "10",
                "-d", "500ms", "-q", *SHORT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (
        "sockbench: warning: the threadpool server serves 4 connections at once and "
        "--clients 10 opens 10" in proc.stderr
    )
    assert "give --server-threads 10" in proc.stderr


def test_serve_unix_without_bind_uses_the_runtime_dir(tmp_path: Path) -> None:
    from tests.conftest import start_ready_process  # noqa: F401  (same helpers as others)

    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [*SOCKBENCH, "serve", "--proto", "unix"], stdout=subprocess.PIPE, text=True, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        path = tmp_path / "sockbench-unix.sock"
        assert f"serving unix://{path}" in line
        assert path.is_socket()
        assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing named HOST:PORT
    finally:
        proc.terminate()
        proc.wait(10)
    assert not path.exists()


def test_a_reader_that_leaves_ends_the_run_quietly() -> None:
    """`sockbench run | head -1`: exit 141 (128 + SIGPIPE) as shell tools do, no traceback."""
    proc = subprocess.Popen(
        [*SOCKBENCH, "run", "-c", "2", "-d", "1s", "-i", "200ms", *SHORT],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert "measuring" in proc.stdout.readline()
        proc.stdout.close()  # the reader leaves before the final table
        stderr = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 141, stderr
    assert "Traceback" not in stderr and "Error" not in stderr


def test_ramp_brings_clients_up_outside_the_measurement() -> None:
    proc = _run("run", "-c", "20", "-t", "2", "--ramp", "1s", "-d", "500ms", "-q", "-J", *SHORT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    totals = result["totals"]
    assert result["config"]["ramp_s"] == 1.0
    assert totals["connections"] == 20 and totals["errors"] == {}
    # 20 clients over 1 s: the last one's turn is 0.9 s in (per worker: 9/10 of the ramp).
    assert 0.85 <= totals["connect_ramp_s"] < 5
    assert result["duration_s"] < 1.0  # the ramp is not measured


def test_rate_ramp_and_connect_rate() -> None:
    proc = _run("run", "-c", "10", "-R", "2k", "--ramp", "1s", "--connect-rate", "50",
                "-d", "500ms", "-q", "-J", *SHORT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    totals = json.loads(proc.stdout)["totals"]
    # 10 clients at 50/s: the last starts 9 · 20 ms = 180 ms after the first.
    assert 0.17 <= totals["connect_ramp_s"] < 5
    assert totals["connect_rate_per_s"] <= 60
    # The window follows the ramp: the full 2k/s, about 1000 in 0.5 s.
    assert 900 <= totals["requests_issued"] <= 1100
