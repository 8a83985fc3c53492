"""Running the engine from tests: defaults overridden per test, results schema-checked."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sockbench.core.progress import ProgressFn
from sockbench.engine.orchestration.runner import RunOutcome, run
from sockbench.machine import build_run_spec
from sockbench.report.files import save_result
from tests.support.schema import validate_result

BASE: dict[str, Any] = dict(
    proto="tcp", clients=10, duration_s=1.0, warmup_s=0.2, timeout_s=1.0,
    target=None, server_model="asyncio", out_dir=None,
)  # fmt: skip


def run_engine(progress: ProgressFn | None = None, **options: Any) -> RunOutcome:
    """Run with ``BASE`` updated by ``options``; the result is validated, and so is its file
    (written as the CLI writes it). ``progress`` gets the run's ticks."""
    spec = build_run_spec({**BASE, **options})
    outcome = run(spec, command="test", progress=progress)
    validate_result(outcome.result)
    saved = save_result(outcome.result, spec.output.out_dir, spec.output.json_path)
    assert not saved.failures, saved.failures
    outcome = dataclasses.replace(outcome, folder=saved.folder)
    assert_accounted(outcome.result)
    if outcome.folder is not None:
        assert json.loads((outcome.folder / "result.json").read_text()) == outcome.result
    return outcome


#: Protocols that give every reply a kind (a plugin may leave one undeclared).
KINDS_EVERY_REPLY = ("redis", "memcache", "http")


def assert_accounted(result: dict[str, Any]) -> None:
    """The exact identities: every request issued in the window ended one way, once."""
    totals = result["totals"]
    if "requests_issued" in totals:
        failed = sum(totals["requests_failed"].values())
        assert totals["requests_issued"] == totals["requests"] + failed + totals["in_flight"]
        assert totals["requests"] == result["latency_us"]["count"]
        # What the window served, and what its requests got in the drain (issue 25).
        served = totals["served"] - totals["served_from_warmup"]
        assert served + totals["drained"] == totals["requests"]
        if result["config"]["mode"] != "stream":
            assert sum(row["requests"] for row in result["intervals"]) == totals["served"]
        if result["config"].get("protocol") in KINDS_EVERY_REPLY:
            # Each reply has its kind, a warm-up request's answered in the window too.
            for row in result["intervals"]:
                assert sum(k["requests"] for k in row["by_kind"].values()) == row["requests"]
        if result["status"] == "completed":
            assert totals["in_flight"] == 0  # the drain followed every request to its end
    datagrams = result.get("datagrams")
    if datagrams and result["config"]["mode"] == "echo":
        d = datagrams
        assert d["sent"] == d["received"] + d["lost"] + d.get("unfinished", 0) + d["in_flight"]
        # A datagram whose send failed never left: its request failed, it is not "sent".
        assert d["sent"] <= totals["requests_issued"]
        assert d["lost"] == totals["requests_failed"].get("lost", 0)
        if result["status"] == "completed":
            assert d["in_flight"] == 0
    assert_stream_intervals(result)


def assert_stream_intervals(result: dict[str, Any]) -> None:
    """A stream's interval rows add up to its totals exactly: bytes written to the
    sender's, messages to the requests, and where the rows have it, received bytes to
    the receiver's (issue 30: they read 0, 0, 0, then everything in the last row)."""
    stream, rows = result.get("stream"), result["intervals"]
    if not stream or "sender" not in stream:
        return
    assert sum(row["sent_bytes"] for row in rows) == stream["sender"]["bytes"]
    assert sum(row["requests"] for row in rows) == result["totals"]["requests"]
    received = [row["received_bytes"] for row in rows]
    if rows and None not in received:
        assert sum(received) == stream["receiver"]["bytes"]
    if "reverse" in stream:
        assert_reverse_accounted(result)


def assert_reverse_accounted(result: dict[str, Any]) -> None:
    """--reverse/--bidir: the rows' reads add up to the receiver's, and what each source
    said it sent is what its client read before, inside and after the window, plus what
    was lost: nothing over a stream that ended cleanly."""
    reverse, rows = result["stream"]["reverse"], result["intervals"]
    assert sum(row["read_bytes"] for row in rows) == reverse["receiver"]["bytes"]
    streams = reverse["per_stream"]
    assert sum(s["read_bytes"] for s in streams) == reverse["receiver"]["bytes"]
    for s in streams:
        if s["server_sent_bytes"] is not None:
            read = s["before_bytes"] + s["read_bytes"] + s["after_bytes"]
            assert s["server_sent_bytes"] >= read
            if result["config"]["proto"] in ("tcp", "unix") and not result["totals"]["errors"]:
                assert s["server_sent_bytes"] == read
    if reverse["server_sent_bytes"] is not None:
        moved = reverse["before_bytes"] + reverse["receiver"]["bytes"] + reverse["after_bytes"]
        assert reverse["server_sent_bytes"] == moved + reverse["lost_bytes"]


def run_result(**options: Any) -> dict[str, Any]:
    return run_engine(**options).result
