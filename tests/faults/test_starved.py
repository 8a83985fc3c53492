"""A target that takes a connection and never serves it: the client measured nothing in
the window, and the result says how many connections that was (``starved``), where its
one warm-up request used to vanish at the end with no trace."""

from __future__ import annotations

import pytest

from tests.faults.conftest import load_result

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("driver", ["pump", "task-per-client"])
def test_connections_never_served_in_the_window_are_counted_starved(
    target, sockbench, tmp_path, driver
) -> None:
    # The first connection is sockbench's check that the target listens
    # (servers/preflight.py), before any client connects: the next two are clients'. Their
    # one request must go out in the warm-up: 0.3 s of it was too short once, under a
    # whole suite's load (a request sent in the window is 'unfinished' at a --drain 0.2).
    probe = target("--ignore-first", "3")
    out = tmp_path / "r.json"
    run = sockbench(
        "--target", probe.url, "--clients", "4", "--workers", "1", "--warmup", "1",
        "--duration", "0.5", "--timeout", "5", "--drain", "0.2", "--out", "",
        "--json", str(out), *(["--no-batch"] if driver == "task-per-client" else []),
    )  # fmt: skip
    assert run.finish() == 0, run.stderr
    result = load_result(out)
    totals = result["totals"]
    assert result["status"] == "completed"
    assert totals["errors"] == {"starved": 2}
    assert totals["requests"] > 0 and not totals["requests_failed"] and not totals["in_flight"]
    assert totals["requests_issued"] == totals["requests"]  # no request of the window failed
    [warning] = [w for w in result["warning_details"] if w["kind"] == "starved"]
    assert warning["message"].startswith("2 connection(s) were not served through the window")


@pytest.mark.parametrize("driver", ["pump", "task-per-client"])
def test_connections_served_only_after_the_window_are_counted_starved(
    sockbench, tmp_path, driver
) -> None:
    """The threadpool model holds a worker per connection: with 4 workers, 4 of 8
    clients wait through the whole window, and are served only once the others leave,
    after it. Their one warm-up request is answered then, which the check at the run's
    end missed: the run read `completed`, no errors, p50 47 µs."""
    out = tmp_path / "r.json"
    run = sockbench(
        "--server", "threadpool", "--server-threads", "4", "--proto", "tcp",
        "--clients", "8", "--warmup", "0.5", "--duration", "0.5", "--timeout", "10",
        "--out", "", "--json", str(out),
        *(["--no-batch"] if driver == "task-per-client" else []),
    )  # fmt: skip
    assert run.finish() == 0, run.stderr
    result = load_result(out)
    assert result["totals"]["errors"] == {"starved": 4}
    assert result["totals"]["requests"] > 0
    reasons = result["validity"]["reasons"]
    assert [r["text"] for r in reasons if r["test"] == "starved"] == [
        "4 of the 8 connections got no reply in the whole window (starved): the latencies "
        "and the rate are the other connections' alone"
    ]
