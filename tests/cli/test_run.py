"""`sockbench run` end to end: a real server process, real sockets, real files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.support.processes import signal_at_line

pytestmark = pytest.mark.e2e  # real processes and sockets (make unit skips it)

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "result.schema.json").read_text())


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_run_writes_result_json_and_hgrm(
    sockbench_cmd: list[str], tmp_path: Path, proto: str
) -> None:
    proc = subprocess.run(
        [
            *sockbench_cmd,
            "run",
            "--proto",
            proto,
            "--clients",
            "50",
            "--duration",
            "1",
            "--warmup",
            "0.3",
            "--json",
            "-",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    jsonschema.validate(result, SCHEMA)
    assert result["status"] == "completed"
    assert result["server"]["model"] == "asyncio"
    assert result["totals"]["errors"] == {}
    assert result["totals"]["requests"] > 100
    assert result["latency_us"]["count"] == result["totals"]["requests"]
    assert result["connect_us"]["count"] == 50
    [folder] = tmp_path.iterdir()
    assert json.loads((folder / "result.json").read_text()) == result
    hgrm = (folder / "latency.hgrm").read_text()
    assert hgrm.splitlines()[0].split() == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    assert f"Total count    = {result['latency_us']['count']:>12}" in hgrm
    rows = (folder / "intervals.csv").read_text().splitlines()
    requests = rows[0].split(",").index("requests")
    assert [int(row.split(",")[requests]) for row in rows[1:]] == [
        row["requests"] for row in result["intervals"]
    ]
    assert (folder / "report.html").read_text().startswith("<!DOCTYPE html>")
    if proto == "udp":
        d = result["datagrams"]
        assert d["sent"] == d["received"] + d["lost"] + d["in_flight"]
        assert d["lost"] == 0
    # the summary goes to stderr when the JSON takes stdout
    assert "p99" in proc.stderr


def test_sigint_writes_a_partial_result(sockbench_cmd: list[str], tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [*sockbench_cmd, "run", "--clients", "20", "--duration", "30", "--warmup", "0.2",
         "--interval", "0.5", "--json", str(out), "--out", str(tmp_path / "res")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # Interrupted while measuring: the piped output says so, a line per interval.
    stderr = signal_at_line(proc, " s] measuring ", timeout=20)
    assert proc.returncode == 130, stderr
    result = json.loads(out.read_text())
    jsonschema.validate(result, SCHEMA)
    assert result["interrupted"] is True
    assert result["status"] == "interrupted"
    assert 0.4 < result["duration_s"] < 10
    assert result["totals"]["requests"] > 0
    assert result["latency_us"]["count"] == result["totals"]["requests"]
    assert "Traceback" not in stderr
    assert len(list((tmp_path / "res").iterdir())) == 1


def test_run_renders_any_report_format(sockbench_cmd: list[str]) -> None:
    proc = subprocess.run(
        [*sockbench_cmd, "run", "--clients", "5", "--duration", "0.5", "--warmup", "0",
         "--out", "", "--format", "csv"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.strip().splitlines()
    assert "p99" in header.split(",") or any("p99" in c for c in header.split(","))
    assert row.count(",") == header.count(",")
