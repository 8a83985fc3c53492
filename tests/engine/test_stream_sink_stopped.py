"""A UDP ``--mode stream`` whose sink stops: its sends never wait and its rows move on,
so only the sink's report can say. One that reported when the window opened and not
after it closed is a target that stopped: the run is degraded (it read ``completed``,
``received 0 + in flight 4,000``, exit 0)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import start_ready_process, stop_process
from tests.support.runs import run_engine

pytestmark = pytest.mark.e2e  # real processes and sockets

# Answers each client's first report (the window's start), then nothing: a sink that
# stopped. ``--never`` answers none: a target that is no sockbench sink.
SINK = """
import socket, sys
from sockbench.core.sink_report import REPORT_REQUEST, encode_report
never = "--never" in sys.argv
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print("READY", s.getsockname()[1], flush=True)
answered = set()
while True:
    data, peer = s.recvfrom(65536)
    if data == REPORT_REQUEST and not never and peer not in answered:
        answered.add(peer)
        s.sendto(encode_report(0, 0), peer)
"""


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Path]:
    script = tmp_path / "sink.py"
    script.write_text(SINK)
    yield script


def _stream_into(script: Path, *options: str) -> dict[str, Any]:
    proc, port = start_ready_process([sys.executable, str(script), *options])
    try:
        return run_engine(
            target=f"udp://127.0.0.1:{port}", proto="", server_model=None, mode="stream",
            clients=2, rate=400.0, payload=64, duration_s=1.0, warmup_s=0.2, timeout_s=2.0,
        ).result  # fmt: skip
    finally:
        stop_process(proc)


def test_a_sink_that_stopped_reporting_marks_the_stream_degraded(sink: Path) -> None:
    result = _stream_into(sink)
    assert result["status"] == "degraded"
    assert result["totals"]["errors"] == {"sink_stopped": 2}
    said = "the sink of 2 datagram stream(s) reported when the window opened"
    assert any(said in w for w in result["warnings"])


def test_a_target_that_never_reports_is_no_failed_measurement(sink: Path) -> None:
    result = _stream_into(sink, "--never")
    assert result["status"] == "completed"
    assert result["totals"]["errors"] == {"no_report": 2}
