"""A run folder's files beside result.json: intervals.csv (the interval rows, named as the
summary CSV names its columns), one .hgrm per kind of request, no empty latency files
for a stream, and report.html as `sockbench report FOLDER -f html` renders it."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from sockbench.report import csv as csv_report
from sockbench.report import render
from sockbench.report.files import run_files, safe_name, write_run_folder
from sockbench.report.hgrm import render_histogram
from tests.report.conftest import RESULT_TCP


def _result() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(RESULT_TCP.read_text())
    return doc


def _with_kinds() -> dict[str, Any]:
    doc = _result()
    doc["latency_by_kind_us"] = {"get": doc["latency_us"], "set": doc["connect_us"]}
    for row in doc["intervals"]:
        row["by_kind"] = {"get": {"requests": 3, "rps": 3.0, "p99": 40, "hits": 2, "misses": 1},
                          "set": {"requests": 1, "rps": 1.0, "p99": 50}}  # fmt: skip
        row.update(hits=2, misses=1)
    doc["totals"].update(hits=2 * len(doc["intervals"]), misses=len(doc["intervals"]))
    return doc


def _as_stream() -> dict[str, Any]:
    doc = _result()
    side = {"bytes": 10, "bps": 8.0, "messages_per_s": 1.0, "seconds": 10.0}
    spread = {"min": 8.0, "median": 8.0, "max": 8.0}
    doc["stream"] = {"total_bps": 8.0, "total_messages_per_s": 1.0, "per_client_bps": spread,
                     "per_client_messages_per_s": spread, "sender": side, "receiver": side,
                     "streams": 1, "streams_reported": 1,
                     "per_stream": [{"sent_bytes": 10, "received_bytes": 10}]}  # fmt: skip
    for row in doc["intervals"]:
        row.update(sent_bytes=5, sent_bps=40.0, received_bytes=None, received_bps=None)
    return doc


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.unit
def test_intervals_csv_has_a_row_per_interval_named_as_the_summary_csv() -> None:
    doc = _result()
    rows = _rows(csv_report.render_intervals(doc))
    assert len(rows) == len(doc["intervals"])
    summary = set(csv_report.HEADER)
    shared = {"requests", "throughput_rps", "errors", "latency_p50_us", "latency_p99_us",
              "latency_max_us", "duration_s"}  # fmt: skip
    assert shared <= set(rows[0]) and shared <= summary
    first = doc["intervals"][0]
    assert rows[0]["start_s"] == "0.0" and rows[0]["end_s"] == repr(float(first["t"]))
    assert rows[1]["start_s"] == repr(float(first["t"]))
    assert [int(r["requests"]) for r in rows] == [row["requests"] for row in doc["intervals"]]
    assert int(rows[0]["latency_p99_us"]) == first["p99"]


@pytest.mark.unit
def test_intervals_csv_has_each_kinds_columns_and_a_streams_sides() -> None:
    rows = _rows(csv_report.render_intervals(_with_kinds()))
    assert rows[0]["get_requests"] == "3" and rows[0]["set_p99_us"] == "50"
    assert rows[0]["get_throughput_rps"] == "3.0"
    assert "get_errors" not in rows[0]  # rows do not keep a kind's errors
    assert (rows[0]["hits"], rows[0]["misses"]) == ("2", "1")
    assert (rows[0]["get_hits"], rows[0]["get_misses"]) == ("2", "1")
    assert "set_hits" not in rows[0]  # a SET reads no keys
    stream = _rows(csv_report.render_intervals(_as_stream()))
    assert stream[0]["sender_bytes"] == "5" and stream[0]["receiver_bytes"] == ""
    assert "sender_bytes" in csv_report.render(_as_stream()).splitlines()[0]
    assert not any(name.startswith("latency_") for name in stream[0])


@pytest.mark.unit
def test_a_kind_is_a_safe_file_name() -> None:
    assert safe_name("get") == "get"
    assert safe_name("../x y") == "_x_y"
    assert safe_name("..") == "_"


@pytest.mark.slow  # renders report.html
def test_a_run_folder_holds_the_report_the_intervals_and_a_histogram_per_kind() -> None:
    doc = _with_kinds()
    files = run_files(doc)
    assert set(files) == {"report.html", "intervals.csv", "latency.hgrm",
                          "latency-get.hgrm", "latency-set.hgrm"}  # fmt: skip
    assert files["latency-set.hgrm"] == render_histogram(doc["connect_us"])
    assert files["latency.hgrm"] == render(doc, "hgrm")
    assert files["report.html"] == render(doc, "html")
    # (the fixture predates latency.hlog: its rows keep no histograms)
    assert set(run_files(_result())) == {"report.html", "intervals.csv", "latency.hgrm"}


@pytest.mark.slow  # renders report.html
def test_a_stream_run_writes_no_empty_latency_files(tmp_path: Path) -> None:
    folder = write_run_folder(_as_stream(), str(tmp_path))
    assert sorted(p.name for p in folder.iterdir()) == [
        "intervals.csv", "report.html", "result.json"
    ]  # fmt: skip
    no_rows = copy.deepcopy(_as_stream())
    no_rows["intervals"] = []
    assert set(run_files(no_rows)) == {"report.html"}


MOUNTS = """\
/dev/vda1 / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid 0 0
sysfs /sys sysfs rw,nosuid 0 0
tmpfs /sys/fs/cgroup tmpfs ro 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
/dev/vdb /mnt/my\\040disk xfs rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/proc", "proc"),
        ("/proc/version", "proc"),
        ("/processes/r.json", "ext4"),  # a name that begins as a mount point's is not in it
        ("/sys/fs/cgroup/x", "cgroup2"),  # mounted twice: the last one shows
        ("/mnt/my disk/r.json", "xfs"),  # a space, as the kernel writes it
        ("/home/r.json", "ext4"),
    ],
)
def test_a_path_lies_on_its_longest_mount_point(path: str, kind: str) -> None:
    from sockbench.report.files import filesystem_of

    assert filesystem_of(path, MOUNTS) == kind
    assert filesystem_of(path, "") is None
