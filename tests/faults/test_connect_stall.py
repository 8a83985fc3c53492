"""Clients that cannot connect (a target that accepts nothing more: out of descriptors, a
full backlog) hold the start for one connect timeout at most, not one per batch of
connectors, and the run says what is happening while it waits."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from sockbench.engine.clients.context import CONNECT_TIMEOUT_S

pytestmark = [pytest.mark.e2e, pytest.mark.solo]  # times the start

CLIENTS = 600  # 584 that cannot connect: 3 batches of 256 connectors, 10 s each, before


def test_a_target_that_takes_no_more_connections_holds_the_start_once(tmp_path) -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=16) as full:  # never accepts
        port = full.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "sockbench", "run", "--target", f"tcp://127.0.0.1:{port}",
             "--clients", str(CLIENTS), "--workers", "1", "--duration", "1", "--warmup", "0",
             "--timeout", "1", "--quiet", "--out", "", "--json", str(tmp_path / "r.json")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        took = time.monotonic() - started
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr  # degraded: nothing was served
    # One connect timeout and the run's own seconds; it took 3 timeouts and more.
    assert took < 2.5 * CONNECT_TIMEOUT_S, (took, done.stderr)
    lines = [ln for ln in done.stderr.splitlines() if "clients connected" in ln]
    assert any(ln.startswith("sockbench: connecting: ") for ln in lines), done.stderr
    [warning] = [ln for ln in lines if ln.startswith("sockbench: warning: ")]
    assert f"of {CLIENTS} clients connected" in warning
    assert "(connect_timeout " in warning and "use fewer --clients" in warning
