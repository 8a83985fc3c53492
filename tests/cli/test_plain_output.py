"""Output outside a plain terminal, end to end: a pipe, a dumb terminal, jsonl; the closing
checks line; the guard rail. Short loopback runs, one process each."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.support.schema import validate_result

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

DOCS = Path(__file__).parents[2] / "docs"
SHORT = ["--clients", "4", "--duration", "0.6", "--warmup", "0.3", "--interval", "0.2"]
BOX = set("─━│┃┏┓┗┛┡┩└┘├┤┬┴┼")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sockbench", *args], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
    )  # fmt: skip


def _no_trailing_spaces(text: str) -> None:
    assert [line for line in text.splitlines() if line.endswith(" ")] == []


def test_a_piped_run_is_plain_lines_and_ends_with_its_checks(tmp_path: Path) -> None:
    checks = ["--check", "p99 < 1us", "--check", "errors == 0"]
    proc = _run("run", *SHORT, "--out", str(tmp_path / "run"), "-v", *checks)
    assert proc.returncode == 3, proc.stderr
    _no_trailing_spaces(proc.stdout)
    lines = proc.stdout.splitlines()
    assert any(line.startswith("[") and "measuring" in line for line in lines)
    assert lines[-2].startswith("results: ")
    assert lines[-1] == "1 of 2 checks failed"
    # -v into a pipe: one plain line per record, no rich layout
    logged = proc.stderr.splitlines()
    assert any(" INFO sockbench.servers.launcher: server asyncio ready" in x for x in logged)
    _no_trailing_spaces(proc.stderr)


def test_a_piped_compare_has_no_trailing_spaces_and_ends_with_its_checks(tmp_path: Path) -> None:
    proc = _run(
        "compare", "--server", "asyncio,threaded", "--proto", "tcp", "--clients", "4",
        "--duration", "0.3", "--warmup", "0",
        "--out", str(tmp_path / "cmp"), "--check", "errors == 0",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    _no_trailing_spaces(proc.stdout)
    assert "Summary" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "all 2 checks passed"


def test_models_piped_is_aligned_plain_columns() -> None:
    proc = _run("models")
    assert proc.returncode == 0, proc.stderr
    assert not BOX & set(proc.stdout)
    _no_trailing_spaces(proc.stdout)
    assert any(line.split()[:2] == ["asyncio", "tcp,"] for line in proc.stdout.splitlines())


def test_a_dumb_terminal_gets_the_interval_lines_as_the_run_goes(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "sockbench", "run", *SHORT, "--out", ""],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
        env={**os.environ, "TERM": "dumb"},
    ) as proc:  # fmt: skip
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(timeout=60) == 0
    os.close(leader)
    text = out.decode()
    assert "\x1b[" not in text  # no cursor movement, no colour
    assert any(line.startswith("[") and "measuring" in line for line in text.splitlines())


def test_jsonl_lines_are_measured_intervals_valid_against_the_schema(tmp_path: Path) -> None:
    proc = _run("run", *SHORT, "--out", "", "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads((DOCS / "intervals.schema.json").read_text(encoding="utf-8"))
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    for line in lines:
        jsonschema.validate(line, schema)
    *intervals, result = lines
    assert intervals and all(i["type"] == "interval" for i in intervals)
    assert [i["phase"] for i in intervals] == ["measuring"] * len(intervals)
    windows = [i["window_s"] for i in intervals]
    assert windows == sorted(windows) and 0 < windows[0] <= 0.6
    validate_result(result["result"])
    rows = result["result"]["intervals"]  # each line is one of the result's intervals
    assert [i["rps"] for i in intervals] == [r["rps"] for r in rows]
    assert intervals[-1]["requests"] == sum(r["requests"] for r in rows)


def test_redis_against_the_built_in_echo_server_is_one_line_and_exit_2() -> None:
    proc = _run("run", "--protocol", "redis", *SHORT)
    assert proc.returncode == 2
    assert proc.stderr.startswith("sockbench: error: --protocol redis needs a server")
    assert len(proc.stderr.splitlines()) == 1 and proc.stdout == ""
