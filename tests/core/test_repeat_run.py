"""``run --repeat N``'s files and closing line (pure): folder names every repetition shares,
numbered --json and --export files, and the median and spread compare's repeats give."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sockbench.compare.repeat_run import Outputs, outputs, summary, summary_line
from sockbench.core.spec.exports import Export
from sockbench.core.spec.output import Output
from sockbench.report.files import run_folder_name

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[1] / "report" / "fixtures" / "result-tcp.json"


def _runs(*rates: float, status: str = "completed") -> list[dict[str, Any]]:
    base = json.loads(FIXTURE.read_text())
    out = []
    for n, rate in enumerate(rates, start=1):
        doc = copy.deepcopy(base)
        doc["totals"]["throughput_rps"] = rate
        doc["latency_us"]["p99"] = 1000 * n
        doc["status"] = status
        out.append(doc)
    return out


def test_one_run_writes_where_it_always_did() -> None:
    output = Output(json_path="r.json", exports=(Export("md", "r.md"),))
    assert outputs(output, 1, _runs(1.0)[0]) == Outputs(None, "r.json", (Export("md", "r.md"),))


def test_each_repetition_has_its_folder_and_numbered_files() -> None:
    first = _runs(1.0)[0]
    output = Output(repeat=3, json_path="out/r.json", exports=(Export("html", "r.html"),))
    got = outputs(output, 2, first)
    assert got.name == f"{run_folder_name(first)}-2"
    assert got.json_path == "out/r-2.json" and got.exports == (Export("html", "r-2.html"),)
    assert outputs(Output(repeat=3), 1, first).json_path is None


def test_the_closing_line_is_the_median_and_spread_of_req_s_and_p99() -> None:
    runs = _runs(1000.0, 1100.0, 900.0)
    entry = summary(runs)
    assert entry is not None and entry["completed"] == 3
    assert entry["throughput_rps"]["median"] == 1000.0
    line = summary_line(runs, 3)
    assert line.startswith("repeats: 3 of 3 completed; req/s median 1,000 (min 900, max 1,100, ±")
    assert "; p99 median 2 ms (min 1 ms, max 3 ms, ±" in line


def test_an_interrupted_repeat_says_what_ran() -> None:
    runs = [*_runs(1000.0), *_runs(5.0, status="interrupted")]
    line = summary_line(runs, 3)
    assert line.startswith("repeats: 1 of 3 completed (1 not run); req/s median 1,000 (min 1,000")
    assert "±" not in line  # one value: no interval
    assert summary_line([], 2) == "repeats: 0 of 2 completed (2 not run)"
