"""Stream reports: a sender line and a receiver line, each with its own numbers, checked
against real runs: on the built-in sink (which reports what it read, over every
transport) and on a counting sink written apart from it (tests/support/counting_sink.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sockbench.cli.lines import tick_line
from sockbench.core.progress import Tick
from sockbench.report import numbers, render
from sockbench.report.stream_fields import stream_fields
from tests.conftest import start_ready_process, stop_process
from tests.support.runs import run_engine, run_result

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it


def fields(result: dict[str, Any]) -> dict[str, str]:
    return dict(stream_fields(result))


def side_line(side: dict[str, Any], nbytes: int, seconds: float, payload: int) -> str:
    """The line for one side, after checking the side's figures are these counts over
    these seconds (the document rounds its rates from the unrounded seconds, so a rate
    recomputed here may land on the other side of a rounding step: compare approx)."""
    assert side["bytes"] == nbytes
    assert side["seconds"] == pytest.approx(seconds, abs=1e-6)
    assert side["bps"] == pytest.approx(nbytes * 8 / seconds, rel=1e-5)
    assert side["messages_per_s"] == pytest.approx(nbytes / payload / seconds, rel=1e-5)
    return (
        f"{numbers.fmt_bytes(nbytes)}, {numbers.fmt_bps(side['bps'])}, "
        f"{numbers.fmt_rate(side['messages_per_s'])} msg/s over {seconds:.2f} s"
    )


def test_udp_stream_sender_and_receiver_lines() -> None:
    result = run_result(proto="udp", mode="stream", clients=2, rate=2000.0, payload=512,
                        duration_s=1.0, warmup_s=0.2)  # fmt: skip
    d, totals, s = result["datagrams"], result["totals"], result["stream"]
    seconds = result["duration_s"]
    # The identities the lines are built from: the sink's count is what was received.
    assert totals["bytes_sent"] == d["sent"] * 512 == s["sender"]["bytes"]
    assert totals["bytes_received"] == d["received"] * 512 == s["receiver"]["bytes"]
    assert d["sent"] == d["received"] + d["lost"] + d["in_flight"]
    assert len(s["per_stream"]) == 2
    assert sum(p["sent_bytes"] for p in s["per_stream"]) == totals["bytes_sent"]
    shown = fields(result)
    assert shown["sender"] == side_line(s["sender"], d["sent"] * 512, seconds, 512)
    assert shown["receiver"] == side_line(s["receiver"], d["received"] * 512, seconds, 512)
    text = render(result, "text")
    assert "throughput" not in text.split("Stream\n")[0]  # no mixed sent/received line


@pytest.mark.parametrize("proto", ["tcp", "unix"])
def test_stream_receiver_is_the_sinks_count(proto: str) -> None:
    result = run_result(proto=proto, mode="stream", clients=3, payload=16384, duration_s=1.0,
                        warmup_s=0.2)  # fmt: skip
    s, totals = result["stream"], result["totals"]
    assert totals["errors"] == {}
    assert s["streams"] == s["streams_reported"] == 3
    # After the half-close nothing sits in a socket buffer: exact, per stream and total.
    for stream in s["per_stream"]:
        assert stream["received_bytes"] == stream["sent_bytes"] > 0
    assert s["receiver"]["bytes"] == s["sender"]["bytes"] == totals["bytes_sent"]
    assert totals["bytes_received"] == totals["bytes_sent"]
    # The receiver's time runs to the last report, as iperf3's does.
    assert s["receiver"]["seconds"] == pytest.approx(result["duration_s"] + totals["drain_s"])
    shown = fields(result)
    sent, sender, receiver = totals["bytes_sent"], s["sender"], s["receiver"]
    assert shown["sender"] == side_line(sender, sent, sender["seconds"], 16384)
    assert shown["receiver"] == side_line(receiver, sent, receiver["seconds"], 16384)
    assert "0 B received" not in render(result, "text")


@pytest.fixture
def counting_sink() -> Iterator[Any]:
    """Start tests/support/counting_sink.py; ``stop()`` returns its bytes per connection."""
    started = []

    def start(*args: str) -> tuple[str, Any]:
        proc, where = start_ready_process(
            [sys.executable, "-m", "tests.support.counting_sink", *args]
        )
        started.append(proc)

        def stop() -> list[int]:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
            line = next(x for x in out.splitlines() if x.startswith("COUNTS "))
            counts: list[int] = json.loads(line.split(" ", 1)[1])
            return [n for n in counts if n]  # not run --target's reachability probe

        return where, stop

    yield start
    for proc in started:
        stop_process(proc)


def _sink_run(target: str, warmup_s: float) -> dict[str, Any]:
    return run_result(target=target, proto="", server_model=None, mode="stream", clients=4,
                      payload=65536, duration_s=1.0, warmup_s=warmup_s)  # fmt: skip


def test_sender_and_receiver_agree_with_a_counting_sink(counting_sink: Any) -> None:
    port, stop = counting_sink()
    result = _sink_run(f"tcp://127.0.0.1:{port}", warmup_s=0.0)
    counts = stop()
    s = result["stream"]
    # No warm-up and no write after the window: the sink read exactly what was sent,
    # stream by stream, and told each stream so.
    assert sorted(counts) == sorted(p["sent_bytes"] for p in s["per_stream"])
    assert all(p["received_bytes"] == p["sent_bytes"] for p in s["per_stream"])
    assert sum(counts) == s["sender"]["bytes"] == s["receiver"]["bytes"]
    assert result["totals"]["bytes_received"] == sum(counts)


def test_warm_up_bytes_reach_the_sink_but_not_the_window(counting_sink: Any) -> None:
    port, stop = counting_sink()
    result = _sink_run(f"tcp://127.0.0.1:{port}", warmup_s=0.3)
    counts = stop()
    s = result["stream"]
    assert s["receiver"]["bytes"] == s["sender"]["bytes"]
    # What the sink read beyond the window is the warm-up's, written before it.
    assert sum(counts) > s["sender"]["bytes"] > 0


def test_a_sink_that_does_not_report_leaves_the_receiver_unknown(
    counting_sink: Any, tmp_path: Path
) -> None:
    path = str(tmp_path / "quiet.sock")
    where, stop = counting_sink("--unix", path, "--no-report")
    result = _sink_run(f"unix://{where}", warmup_s=0.0)
    counts = stop()
    s = result["stream"]
    assert s["receiver"] is None and s["streams_reported"] == 0
    assert sum(counts) == s["sender"]["bytes"] > 0  # it did read it all; it just did not say
    assert result["totals"]["errors"] == {}
    assert fields(result)["receiver"].startswith("not reported")
    assert "0 B received" not in render(result, "text")


def test_a_slow_sinks_drain_says_so_and_the_last_line_stays_in_the_window(
    counting_sink: Any, tmp_path: Path
) -> None:
    # The sink reports 1.5 s after each half-close: the window's last row (which takes
    # the sink's count) comes in the drain, 3 intervals of 0.5 s after the window.
    where, stop = counting_sink("--unix", str(tmp_path / "slow.sock"), "--delay-report", "1.5")
    ticks: list[Tick] = []
    outcome = run_engine(
        progress=ticks.append, target=f"unix://{where}", proto="", server_model=None,
        mode="stream", clients=2, payload=65536, duration_s=1.0, warmup_s=0.0,
        interval_s=0.5, drain_s=5.0, timeout_s=5.0,
    )  # fmt: skip
    stop()
    assert outcome.result["stream"]["streams_reported"] == 2
    draining = [t for t in ticks if t.phase == "draining"]
    assert draining and all(t.drain is not None and t.drain.streams for t in draining)
    first = tick_line(draining[0], 0.0)
    assert "draining   server's counts in for 0 of 2 clients  at most" in first, first
    measuring = [t for t in ticks if t.phase == "measuring"]
    last = measuring[-1]
    assert ticks.index(last) > ticks.index(draining[-1])  # it came after the drain...
    assert last.row is not None and last.row.t == pytest.approx(1.0)
    assert last.elapsed_s > 1.4
    # ...and its line is the window's last interval, never past the window's 1 s.
    assert tick_line(last, 0.0).startswith("[   1.0 s] measuring  ")
    assert all(t.shown_s(0.0) <= 1.0 + 1e-9 for t in measuring)
