"""A drain that outlasts an interval says where it stands, each interval.

Past the knee the drain is the long part of a run: up to ``--timeout`` (10 s by default)
after the window, while the window's requests are answered or time out. It used to pass
with no line at all, as if the run hung. Here a target that reads every request and
answers none keeps the drain open until the requests time out."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.faults.conftest import load_result
from tests.support.processes import signal_at_line

pytestmark = pytest.mark.e2e

DRAIN_LINE = re.compile(
    r"^\[ *[\d.]+ s\] draining   answered 0  failed 0  in flight 4(  not yet sent (\d+))?"
    r"  at most [\d.]+ m?s more$",
    re.MULTILINE,
)


@pytest.mark.parametrize(
    ("workers", "rate"), [("2", None), ("1", "100")], ids=["closed-2-workers", "open-loop"]
)
def test_each_interval_of_a_long_drain_has_a_line_of_what_is_still_open(
    target, sockbench_cmd, tmp_path, workers, rate
) -> None:
    silent = target("--ignore-first", "1000")  # every connection read, none answered
    out = tmp_path / "r.json"
    run = subprocess.run(
        [*sockbench_cmd, "run", "--target", silent.url, "--clients", "4", "--workers", workers,
        "--warmup", "0", "--duration", "0.4", "--interval", "0.2", "--timeout", "1", "--out", "",
        "--json", str(out), *(["--rate", rate] if rate else [])],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "Traceback" not in run.stderr, run.stderr
    lines = DRAIN_LINE.findall(run.stdout)
    assert lines, run.stdout  # the requests time out 1 s after their send: turns before that
    totals = load_result(out)["totals"]
    assert totals["requests"] == 0 and totals["in_flight"] == 0
    if rate is None:
        assert {unsent for _, unsent in lines} == {""}  # closed loop: nothing waits unsent
        assert totals["requests_issued"] == 4  # one each, in flight through the drain
    else:
        # 40 due in the 0.4 s window at 100/s; one per client went out, none came back.
        assert {unsent for _, unsent in lines} == {"36"}
        assert totals["requests_issued"] == 40
    assert totals["errors"] == {"timeout": totals["requests_issued"]}


def test_a_stop_in_the_drain_keeps_how_long_the_drain_ran(target, sockbench_cmd, tmp_path) -> None:
    """A stop in the drain used to report ``drained 0.00 s``: the time was taken only
    when the drain ran out or every client was done."""
    silent = target("--ignore-first", "1000")
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [*sockbench_cmd, "run", "--target", silent.url, "--clients", "4", "--workers", "1",
        "--warmup", "0", "--duration", "0.3", "--interval", "0.2", "--timeout", "30",
        "--out", "", "--json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    stderr = signal_at_line(proc, "] draining ")  # the drain's first line: an interval in
    assert "Traceback" not in stderr, stderr
    totals = load_result(out)["totals"]
    assert totals["drain_s"] >= 0.2
    assert totals["in_flight"] == totals["requests_issued"] == 4  # open when it stopped


def test_the_warm_ups_backlog_is_named_while_it_goes_out_first(
    target, sockbench_cmd, tmp_path
) -> None:
    """Open loop, every slot held by a warm-up request that is never answered: the drain
    waits for the warm-up's backlog before the window's, and says so (its lines read
    ``answered 0`` with nothing in flight, which looked stuck)."""
    silent = target("--ignore-first", "1000")
    run = subprocess.run(
        [*sockbench_cmd, "run", "--target", silent.url, "--clients", "4", "--rate", "100",
         "--warmup", "0.4", "--duration", "0.4", "--interval", "0.2", "--timeout", "2",
         "--drain", "0.5", "--out", ""],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "Traceback" not in run.stderr, run.stderr
    # 40 due in the warm-up at 100/s, one per client sent; 40 due in the window, none sent.
    first = next(line for line in run.stdout.splitlines() if "draining" in line)
    assert "in flight 0  not yet sent 40 and 36 of the warm-up's, sent first" in first, first
