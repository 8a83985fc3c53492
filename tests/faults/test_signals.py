"""Two signals at each point of a run's life: the first stops it, the second only
hurries it, and the result is written every time (issue: a second Ctrl-C lost it)."""

from __future__ import annotations

import fcntl
import json
import signal
from pathlib import Path

import pytest

from tests.faults.conftest import Run, Target, load_result

pytestmark = pytest.mark.e2e  # real processes and sockets: `make unit` skips it

PHASES = ["connecting", "warmup", "measuring", "draining", "writing"]
CLIENTS = 20


def _hold_writes(run: Run) -> None:
    """The run's stdout pipe takes one page until ``finish`` reads it: ``--json
    /dev/stdout`` (the result is larger) blocks in its write, and the signals come then.
    (A named FIFO held it in its open before; sockbench now refuses one: it can hang.)"""
    assert run.proc.stdout is not None
    fcntl.fcntl(run.proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)


# Each phase with both signals and both worker counts, as two runs, not four: (INT, 1 worker)
# and (TERM, 2) in one phase, (TERM, 1) and (INT, 2) in the next, so every pair of signal and
# worker count comes up too.
SIGNALS_AND_WORKERS = [
    pytest.param(phase, sig, workers, id=f"{phase}-{name}-{workers}")
    for i, phase in enumerate(PHASES)
    for (sig, name), workers in zip(
        [(signal.SIGINT, "INT"), (signal.SIGTERM, "TERM")][:: 1 - 2 * (i % 2)], [1, 2], strict=True
    )
]


@pytest.mark.parametrize(("phase", "sig", "workers"), SIGNALS_AND_WORKERS)
def test_a_second_signal_never_loses_the_result(
    target, sockbench, tmp_path: Path, phase: str, sig: int, workers: int
) -> None:
    probe: Target = target(*(["--accept-first", "2"] if phase == "connecting" else []))
    out = tmp_path / "r.json"
    json_path = "/dev/stdout" if phase == "writing" else str(out)
    warmup = "60" if phase == "warmup" else "0"
    duration = "1" if phase == "writing" else "60"
    run: Run = sockbench(
        "--target", probe.url, "--clients", str(CLIENTS), "--workers", str(workers),
        "--duration", duration, "--warmup", warmup, "--json", json_path, "--out", "",
    )  # fmt: skip
    if phase == "writing":
        _hold_writes(run)
    if phase == "connecting":
        probe.wait_for("ACCEPT 2")
    elif phase == "warmup":
        probe.wait_for("ECHO 100")
    elif phase in ("measuring", "draining"):
        probe.wait_for("ECHO 1000")
    elif phase == "writing":
        probe.wait_for(f"CLOSED {CLIENTS}")  # every client done: the window is over
    run.signal_group(sig)
    if phase == "draining":
        probe.wait_for("CLOSED 1")  # the first signal is being acted on
    run.signal_group(sig)
    code = run.finish()
    if phase == "writing":  # the result JSON, then the summary
        doc, end = json.JSONDecoder().raw_decode(run.stdout)
        assert end > 4096  # more than the pipe took: the write did wait for the reader
        out.write_text(json.dumps(doc))
    result = load_result(out)
    if phase == "writing":  # the window had closed: the measurement is whole
        assert (code, result["status"]) == (0, "completed")
    else:
        assert (code, result["status"]) == (128 + sig, "interrupted"), run.stderr
    if phase in ("connecting", "warmup"):
        assert result["totals"]["requests"] == 0
        assert result["duration_s"] == 0
    else:
        assert result["totals"]["requests"] > 0
    if phase == "warmup":
        assert result["totals"]["connections"] == CLIENTS


def test_sigterm_to_the_process_group_keeps_every_workers_measurement(
    target, sockbench, tmp_path: Path
) -> None:
    """`timeout 6 sockbench run --workers 2 ...` reported 0 requests and 0 connections."""
    probe: Target = target()
    out = tmp_path / "r.json"
    run: Run = sockbench(
        "--target", probe.url, "--clients", "40", "--workers", "2", "--duration", "60",
        "--warmup", "0", "--json", str(out), "--out", "",
    )  # fmt: skip
    probe.wait_for("ECHO 1000")
    run.signal_group(signal.SIGTERM)
    assert run.finish() == 143
    result = load_result(out)
    assert result["status"] == "interrupted"
    assert result["totals"]["connections"] == 40
    assert result["totals"]["requests"] > 0
    assert result["generator"]["workers"] == 2
