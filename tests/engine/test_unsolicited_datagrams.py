"""Datagrams that answer no request are counted apart as ``unsolicited``, never as a
request's error (issue 33, item 16: a target that sent extra datagrams made 84,776
errors of 690 requests, while the accounting line said 6 failed)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sockbench.core import datagrams as dg
from sockbench.core.exchange import DatagramExchange, RequestWindow
from sockbench.engine.clients.recorder import WorkerRecorder
from tests.conftest import start_ready_process, stop_process
from tests.support.drivers import BOTH_DRIVERS
from tests.support.runs import run_engine

MS = 1_000_000
S = 1_000 * MS

# Answers every datagram, then again (a duplicate), then 20 datagrams numbered as none
# was sent and one too short to carry a number.
CHATTY = """
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print("READY", s.getsockname()[1], flush=True)
while True:
    data, addr = s.recvfrom(65536)
    s.sendto(data, addr)
    s.sendto(data, addr)
    for k in range(20):
        s.sendto(struct.pack("!Q", 2**40 + k) + data[8:], addr)
    s.sendto(b"hi", addr)
"""


def _datagram(seq: int, payload: bytes = bytes(64)) -> memoryview:
    data = bytearray(payload)
    dg.SEQ.pack_into(data, 0, seq)
    return memoryview(data)


def _exchange() -> tuple[DatagramExchange, WorkerRecorder]:
    window = RequestWindow(1 * S, measure_start_ns=10 * S, measure_end_ns=20 * S, clients=1)
    recorder = WorkerRecorder(1, window)
    ex = DatagramExchange(window, recorder, bytes(64))
    recorder.datagram_exchanges.append(ex)
    return ex, recorder


@pytest.mark.unit
def test_a_datagram_numbered_as_none_sent_or_too_short_is_unsolicited_not_an_error() -> None:
    ex, recorder = _exchange()
    ex.issue(0, 11 * S, 11 * S)
    ex.received(_datagram(0), 64, 11 * S + MS)  # the answer
    ex.received(_datagram(0), 64, 11 * S + 2 * MS)  # a second answer: a duplicate
    ex.received(_datagram(7), 64, 11 * S + 3 * MS)  # never sent
    ex.received(_datagram(2**40), 64, 11 * S + 3 * MS)  # never sent
    ex.received(memoryview(b"hi"), 2, 11 * S + 4 * MS)  # too short to carry a number
    counts = recorder.datagram_counts()
    assert counts is not None
    assert (counts.sent, counts.received, counts.duplicates, counts.unsolicited) == (1, 1, 1, 3)
    assert counts.balanced  # sent == received + lost + unfinished + in_flight, exactly
    assert not recorder.errors and not recorder.failures
    assert recorder.requests == 1


@pytest.mark.unit
def test_unsolicited_datagrams_before_the_window_are_not_counted() -> None:
    ex, recorder = _exchange()
    ex.issue(0, 5 * S, 5 * S)  # warm-up
    ex.received(memoryview(b"hi"), 2, 5 * S + MS)
    ex.received(_datagram(9), 64, 5 * S + MS)
    assert recorder.datagram_counts() is None
    assert not recorder.errors and not recorder.warmup_errors
    ex.received(memoryview(b"hi"), 2, 10 * S)  # the window's first instant: counted
    counts = recorder.datagram_counts()
    assert counts is not None and counts.unsolicited == 1 and counts.sent == 0


@pytest.mark.unit
def test_unsolicited_adds_up_over_clients_and_stays_out_of_the_identity() -> None:
    one = dg.DatagramCounts(sent=3, received=2, lost=1, unsolicited=5)
    two = dg.DatagramCounts(sent=1, in_flight=1, unsolicited=2)
    total = one + two
    assert total.unsolicited == 7 and total.balanced
    assert total.to_json()["unsolicited"] == 7


@pytest.fixture
def chatty(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "chatty.py"
    script.write_text(CHATTY)
    proc, port = start_ready_process([sys.executable, str(script)])
    yield f"udp://127.0.0.1:{port}"
    stop_process(proc)


@pytest.mark.e2e
@BOTH_DRIVERS
@pytest.mark.parametrize("rate", [None, 200.0], ids=["closed", "open"])
def test_a_target_that_sends_more_than_asked_makes_no_request_errors(
    chatty: str, batch: bool, rate: float | None
) -> None:
    result: dict[str, Any] = run_engine(
        target=chatty, proto="", server_model=None, clients=2, duration_s=1.0, warmup_s=0.2,
        timeout_s=0.5, batch=batch, rate=rate,
    ).result  # fmt: skip
    totals = result["totals"]
    d = result["datagrams"]
    assert result["status"] == "completed"
    assert totals["requests"] > 0
    assert d["sent"] == d["received"] + d["lost"] + d["unfinished"] + d["in_flight"]
    # Each answered datagram brought 21 that answer nothing (more in flight at the end).
    assert d["unsolicited"] >= 21 * d["received"] * 0.9
    assert "mismatch" not in totals["errors"]
    assert sum(totals["errors"].values()) == sum(totals["requests_failed"].values())
    assert sum(row["errors"] for row in result["intervals"]) <= sum(totals["errors"].values())
    [warning] = [w for w in result["warning_details"] if w["kind"] == "unsolicited"]
    assert f"{d['unsolicited']:,} datagrams that answer no request" in warning["message"]
