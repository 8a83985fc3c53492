"""The main process killed outright (SIGKILL): workers leave quietly, and the private
temp folder it could not remove is removed by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.faults.conftest import Target

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it


def test_workers_leave_quietly_and_the_next_run_cleans_up(target, tmp_path) -> None:
    probe: Target = target()
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sockbench", "run", "--quiet", "--target", probe.url,
         "--clients", "20", "--workers", "2", "--duration", "60", "--warmup", "0",
         "--out", ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        probe.wait_for("ECHO 1000")
        [private] = [p for p in tmp_path.iterdir() if p.name.startswith("sockbench-")]
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: its workers see EOF
        # stderr reaches EOF once every worker, which shares it, has exited.
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert private.exists()  # SIGKILL leaves it behind
    again = subprocess.run(
        [sys.executable, "-m", "sockbench", "run", "--quiet", "--target", probe.url,
         "--clients", "1", "--duration", "0.2", "--warmup", "0", "--out", ""],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert not private.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("sockbench-")]
