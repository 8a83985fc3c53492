"""``run --repeat N``: N runs, a folder each (run-...-1, -2), numbered exports, a closing
line of their median and spread; diff takes the folders; Ctrl-C keeps those done."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sockbench.report import load
from sockbench.report.diff import pairs
from tests.support.interrupt import interrupt_when

pytestmark = pytest.mark.e2e  # real processes and sockets


def test_repeat_writes_a_folder_each_and_their_spread(
    sockbench_cmd: list[str], tmp_path: Path
) -> None:
    proc = subprocess.run(
        [*sockbench_cmd, "run", "--clients", "5", "--duration", "0.3", "--warmup", "0",
         "--repeat", "2", "--out", str(tmp_path / "res"), "--quiet",
         "--export", f"csv={tmp_path / 'r.csv'}", "--json", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    one, two = sorted((tmp_path / "res").iterdir())
    assert one.name.endswith("-1") and two.name == one.name[:-1] + "2"
    for folder in (one, two):
        assert {"result.json", "report.html", "intervals.csv"} <= {p.name for p in folder.iterdir()}
    first = json.loads((one / "result.json").read_text())
    assert json.loads((tmp_path / "r-1.json").read_text()) == first
    assert (tmp_path / "r-2.csv").read_text().startswith("model,proto,")
    assert not (tmp_path / "r.csv").exists()
    assert "repeat 1/2" in proc.stderr and "repeat 2/2" in proc.stderr
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("repeats: ")]
    assert line.startswith("repeats: 2 of 2 completed; req/s median ")
    assert "; p99 median " in line
    # diff takes the folders as they are: one workload, a repetition on each side
    [(label, a, b)] = pairs([load(one)], [load(two)])
    assert label == "asyncio tcp 64 B 5 clients" and len(a) == len(b) == 1


def test_ctrl_c_keeps_the_repetitions_done(sockbench_cmd: list[str], tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*sockbench_cmd, "run", "--clients", "5", "--duration", "0.4", "--warmup", "0",
         "--interval", "0.2", "--repeat", "3", "--out", str(tmp_path / "res")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    done = False

    def second_measuring(line: str) -> bool:  # the first is written, the second measuring
        nonlocal done
        done = done or line.startswith("results: ")
        return done and " s] measuring " in line

    stdout, stderr = interrupt_when(proc, second_measuring)
    assert proc.returncode == 130, stderr
    folders = sorted((tmp_path / "res").iterdir())
    assert [f.name[-2:] for f in folders] == ["-1", "-2"]
    statuses = [json.loads((f / "result.json").read_text())["status"] for f in folders]
    assert statuses == ["completed", "interrupted"]
    assert "repeats: 1 of 3 completed (1 not run); req/s median " in stdout
    assert "Traceback" not in stderr
