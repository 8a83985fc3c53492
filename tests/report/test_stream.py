"""Stream reports: a sender line and a receiver line, each with its own numbers, checked
against real runs on the counting sink server (it reports what reached it over UDP)."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.report import numbers, render
from sockbench.report.sections import stream_fields
from tests.support.runs import run_result

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it


def fields(result: dict[str, Any]) -> dict[str, str]:
    return dict(stream_fields(result))


def test_udp_stream_sender_and_receiver_lines() -> None:
    result = run_result(proto="udp", mode="stream", clients=2, rate=2000.0, payload=512,
                        duration_s=1.0, warmup_s=0.2)  # fmt: skip
    d, totals = result["datagrams"], result["totals"]
    seconds = result["duration_s"]
    # The identities the lines are built from: the sink's count is what was received.
    assert totals["bytes_sent"] == d["sent"] * 512
    assert totals["bytes_received"] == d["received"] * 512
    assert d["sent"] == d["received"] + d["lost"] + d["in_flight"]
    shown = fields(result)
    sent_line = (
        f"{numbers.fmt_bytes(d['sent'] * 512)}, {numbers.fmt_bps(d['sent'] * 512 * 8 / seconds)}, "
        f"{numbers.fmt_rate(d['sent'] / seconds)} msg/s"
    )
    received_line = (
        f"{numbers.fmt_bytes(d['received'] * 512)}, "
        f"{numbers.fmt_bps(d['received'] * 512 * 8 / seconds)}, "
        f"{numbers.fmt_rate(d['received'] / seconds)} msg/s"
    )
    assert shown["sender"] == sent_line
    assert shown["receiver"] == received_line
    text = render(result, "text")
    assert "throughput" not in text.split("Stream\n")[0]  # no mixed sent/received line


def test_tcp_stream_says_the_receiver_is_not_reported() -> None:
    result = run_result(mode="stream", clients=2, payload=16384, duration_s=1.0, warmup_s=0.2)
    sent = result["totals"]["bytes_sent"]
    assert sent > 0 and sum(result["stream"]["per_client_bps"].values()) > 0
    shown = fields(result)
    assert shown["sender"].startswith(numbers.fmt_bytes(sent) + ", ")
    assert shown["receiver"].startswith("not reported")
    assert "0 B received" not in render(result, "text")
