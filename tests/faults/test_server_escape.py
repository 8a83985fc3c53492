"""A ``--server-cmd`` that daemonizes escapes any stop; the run says so, naming the pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it

SERVER = Path(__file__).with_name("daemon_server.py")


def _run(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    events = tmp_path / "events"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sockbench", "run", "--quiet", "--server-cmd",
             f"{sys.executable} {SERVER} {{port}} {events} {' '.join(extra)}".strip(),
             "--clients", "2", "--duration", "0.5", "--warmup", "0", "--out", "",
             "--json", str(tmp_path / "r.json")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        pids = [int(ln.split()[1]) for ln in events.read_text().splitlines()]
        for pid in pids:  # the daemon escaped the run: this test stops it
            os.kill(pid, signal.SIGKILL)
    return done, pids


def test_a_server_that_daemonized_is_named_in_the_result(tmp_path: Path) -> None:
    done, [daemon] = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["server"]["escaped"].startswith("127.0.0.1:")
    [warning] = [w for w in result["warning_details"] if w["kind"] == "server_escaped"]
    assert f"(pid {daemon})" in warning["message"] and "daemonized" in warning["message"]
    assert "in the foreground" in warning["advice"]


def test_a_server_that_daemonized_at_once_is_named_in_the_error(tmp_path: Path) -> None:
    """The command exits 0 as soon as its daemon listens. Which the start sees first is a
    race the machine's load decides: the exit (one line, exit 2), or the port served (the
    run starts, its server is gone at once: server_died, exit 1). Either names the pid."""
    done, [daemon] = _run(tmp_path, "exit")
    if done.returncode == 2:
        [line] = done.stderr.strip().splitlines()
        assert "exited with code 0 before it was ready" in line
        assert f"(pid {daemon}): it daemonized" in line and "in the foreground" in line
        return
    assert done.returncode == 1, done.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["status"] == "server_died"
    [warning] = [w for w in result["warning_details"] if w["kind"] == "server_escaped"]
    assert f"(pid {daemon})" in warning["message"]
