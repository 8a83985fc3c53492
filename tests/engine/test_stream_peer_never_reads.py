"""``--mode stream`` against a target that never reads (issue 33, item 15): it reported
``completed`` at what sat in socket buffers (133 Mbit/s) and ran 16 s for a 5 s window.
Now the throughput is what the peer took (what TCP acknowledged, when no sink reports),
a warning says how much it did not take, and the run ends near its window."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sockbench.engine.clients.bulk import bytes_acked
from tests.conftest import start_ready_process, stop_process
from tests.support.runs import run_engine

pytestmark = pytest.mark.e2e  # real processes and sockets

DEAF = """
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print("READY", s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])  # accepted, never read
"""


@pytest.fixture
def deaf(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "deaf.py"
    script.write_text(DEAF)
    proc, port = start_ready_process([sys.executable, str(script)])
    yield port
    stop_process(proc)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_INFO is Linux's")
def test_a_target_that_never_reads_is_measured_by_what_it_acknowledged(deaf: str) -> None:
    began = time.monotonic()
    result = run_engine(
        target=f"tcp://127.0.0.1:{deaf}", proto="", server_model=None, mode="stream",
        clients=2, duration_s=2.0, warmup_s=0.0, timeout_s=8.0,
    ).result  # fmt: skip
    took_s = time.monotonic() - began
    stream = result["stream"]
    sent = sum(s["sent_bytes"] for s in stream["per_stream"])
    received = [s["received_bytes"] for s in stream["per_stream"]]
    assert None not in received  # what TCP acknowledged, though no sink reported
    assert sum(received) < sent / 2  # most of it never left the buffers
    assert stream["total_bps"] == pytest.approx(sum(received) * 8 / result["duration_s"], 1e-3)
    # Each interval holds what was acknowledged in it: they add up to the same bytes
    # (assert_stream_intervals), not to what sat in the buffers.
    assert None not in [row["received_bytes"] for row in result["intervals"]]
    [warning] = [w for w in result["warning_details"] if w["kind"] == "not_taken"]
    assert f"the target took {sum(received):,} of the {sent:,} bytes" in warning["message"]
    # The writer stops with the window and the report's wait once nothing more is
    # acknowledged for a second: not the whole 8 s drain (--timeout).
    assert result["totals"]["drain_s"] < 3
    assert took_s < 2.0 + 6


def test_bytes_acked_reads_tcp_info_and_is_none_for_a_unix_stream() -> None:
    a, b = socket.socketpair()
    with a, b:
        assert bytes_acked(a) is None
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        with client, peer:
            client.sendall(b"x" * 1000)
            assert peer.recv(1000)
            deadline = time.monotonic() + 5
            while bytes_acked(client) != 1000 and time.monotonic() < deadline:
                time.sleep(0.01)  # the ACK is the kernel's, a moment after the read
            assert bytes_acked(client) == 1000
