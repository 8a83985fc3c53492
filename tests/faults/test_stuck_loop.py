"""A one-worker run whose loop is stuck in a plugin (``check_reply`` never returns) still
stops on a later Ctrl-C, with its result written: the signal is raised in the stuck code,
and the protocol guard ends the worker there."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sockbench.engine.io.interrupts import STUCK_S

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it

PLUGIN = """
from pathlib import Path

NEED_MORE = 0


class Loops:
    name = "loops"

    def __init__(self, options):
        self.calls = 0

    def request(self, client, seq):
        return b"hello\\n"

    def check_reply(self, buf, start, end):
        self.calls += 1
        if self.calls > 100:
            Path(__file__).with_name("stuck").touch()
            while True:
                pass
        nl = buf.find(b"\\n", start, end)
        return NEED_MORE if nl < 0 else nl + 1 - start
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_a_loop_stuck_in_a_plugin(tmp_path: Path, sig: signal.Signals) -> None:
    plugin = tmp_path / "loops.py"
    plugin.write_text(PLUGIN)
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sockbench", "run", "--quiet", "--protocol", f"{plugin}:Loops",
         "--workers", "1", "--clients", "2", "--duration", "60", "--warmup", "0",
         "--out", "", "--json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "stuck").exists():  # polling an observable file
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.05)
        # The loop cannot act on the first; the second, STUCK_S later, is raised in the
        # plugin. (That span is what is tested: a sleep, not a wait for an event.)
        proc.send_signal(sig)
        time.sleep(STUCK_S * 1.5)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr, stderr
    result = json.loads(out.read_text())
    assert result["status"] == "interrupted"
    [fault] = [w for w in result["warning_details"] if w["kind"] == "protocol_failed"]
    assert "LoopStuck" in fault["message"] and "in check_reply()" in fault["message"]
