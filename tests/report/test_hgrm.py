"""The .hgrm output parses back into a consistent percentile distribution."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from sockbench.core.spec.rules import HGRM_REFUSED, STREAM_NO_HISTOGRAM
from sockbench.report import hgrm, load
from sockbench.report.document import cells

HEADER = "       Value     Percentile TotalCount 1/(1-Percentile)"
ROW = re.compile(r"^ *(\d+\.\d{3}) (\d\.\d{12}) +(\d+)(?: +(\d+\.\d{2}))?$")
FOOTER = re.compile(
    r"#\[Mean    = +(\d+\.\d{3}), StdDeviation   = +(\d+\.\d{3})\]\n"
    r"#\[Max     = +(\d+\.\d{3}), Total count    = +(\d+)\]\n"
    r"#\[Buckets = +(\d+), SubBuckets     = +(\d+)\]\n$"
)


def parse(text: str) -> tuple[list[tuple[float, float, int]], tuple[str, ...]]:
    lines = text.split("\n")
    assert lines[0] == HEADER
    assert lines[1] == ""
    rows = []
    for line in lines[2:]:
        if line.startswith("#"):
            break
        match = ROW.match(line)
        assert match, f"not an .hgrm row: {line!r}"
        value, pct, count, inverse = match.groups()
        # Only the final 100 % row goes without the 1/(1-Percentile) column.
        assert (inverse is None) == (pct == "1.000000000000")
        if inverse is not None:
            assert float(inverse) == pytest.approx(1 / (1 - float(pct)), rel=1e-3, abs=0.01)
        rows.append((float(value), float(pct), int(count)))
    footer = FOOTER.search(text)
    assert footer, text[-300:]
    return rows, footer.groups()


def check(summary: dict[str, Any]) -> None:
    text = hgrm.render_histogram(summary)
    rows, (mean, stddev, max_ms, total, buckets, sub_buckets) = parse(text)
    hist = HdrHistogram.decode(summary["histogram"])
    values = [r[0] for r in rows]
    assert values == sorted(values)
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert rows[-1][1] == 1.0 and rows[-1][2] == summary["count"] == int(total)
    assert float(max_ms) == pytest.approx(summary["max"] / 1000, abs=0.0005)
    assert float(mean) == pytest.approx(hist.get_mean_value() / 1000, abs=0.0005)
    assert float(stddev) == pytest.approx(hist.get_stddev() / 1000, abs=0.0005)
    assert (int(buckets), int(sub_buckets)) == (hist.bucket_count, hist.sub_bucket_count)
    # The row at exactly 50 % is the histogram's median; p99 lies between its neighbours.
    median = next(r for r in rows if r[1] == 0.5)
    assert median[0] == pytest.approx(hist.get_value_at_percentile(50) / 1000, abs=0.0005)
    assert median[0] * 1000 == pytest.approx(summary["p50"], abs=0.5)
    below = [r for r in rows if r[1] <= 0.99][-1]
    above = next(r for r in rows if r[1] >= 0.99)
    p99 = hist.get_value_at_percentile(99) / 1000
    assert below[0] - 0.0005 <= p99 <= above[0] + 0.0005
    assert below[0] * 1000 - 0.5 <= summary["p99"] <= above[0] * 1000 + 0.5


def test_run_result_hgrm(tcp_doc: dict[str, Any], udp_doc: dict[str, Any]) -> None:
    check(tcp_doc["latency_us"])
    check(udp_doc["latency_us"])
    check(udp_doc["service_time_us"])
    assert hgrm.render(tcp_doc) == hgrm.render_histogram(tcp_doc["latency_us"])


@pytest.mark.slow
def test_compare_hgrm_has_one_block_per_cell(compare_doc: dict[str, Any]) -> None:
    text = hgrm.render(compare_doc)
    blocks = text.split("# cell: ")[1:]
    assert len(blocks) == len(cells(compare_doc))
    for block, cell in zip(blocks, cells(compare_doc), strict=True):
        title, body = block.split("\n", 1)
        c = cell["cell"]
        assert (
            title == f"{c['model']} {c['proto']} {c['clients']} {c['payload']} repeat={c['repeat']}"
        )
        check(cell["latency_us"])
        assert body.rstrip("\n") == hgrm.render_histogram(cell["latency_us"]).rstrip("\n")


def test_missing_or_empty_histogram() -> None:
    assert hgrm.render_histogram(None).startswith(HEADER)
    empty = HdrHistogram(1, 60_000_000, 3)
    text = hgrm.render_histogram({"histogram": empty.encode().decode()})
    rows, footer = parse(text)
    assert rows == [] and footer[3] == "0"


def _stream_doc() -> dict[str, Any]:
    """The stored TCP result as a stream's: it times no request, so it has no histogram."""
    from sockbench.core.result import stream_summary
    from tests.report.conftest import RESULT_TCP

    doc = copy.deepcopy(load(RESULT_TCP))
    doc["config"].update(mode="stream", payload=64, clients=1)
    doc["stream"] = stream_summary((2**20,), (2**20,), (1.0, 1.0), 64)
    empty = HdrHistogram(1, 60_000_000, 3).encode().decode()
    doc["latency_us"].update(count=0, histogram=empty)
    return doc


def test_a_stream_renders_why_it_has_no_histogram_not_an_empty_one() -> None:
    text = hgrm.render(_stream_doc())
    assert text == f"# {STREAM_NO_HISTOGRAM}\n"
    assert "Total count" not in text and "Value" not in text


def test_a_compare_cell_that_is_a_stream_says_so_in_its_block(
    compare_doc: dict[str, Any],
) -> None:
    doc = copy.deepcopy(compare_doc)
    doc["cells"][0]["config"]["mode"] = "stream"
    blocks = hgrm.render(doc).split("# cell: ")[1:]
    assert blocks[0].split("\n", 1)[1] == f"# {STREAM_NO_HISTOGRAM}\n\n"
    assert "Total count" in blocks[1]  # the others keep their distributions


def test_a_compare_folders_stream_cell_hgrm_says_why_it_is_empty(tmp_path: Path) -> None:
    from sockbench.compare.folder import write_histogram

    text = write_histogram(tmp_path, "tcp-64-c1-asyncio-r1", _stream_doc()).read_text()
    assert text == f"# {STREAM_NO_HISTOGRAM}\n"


def test_report_hgrm_of_a_stream_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sockbench.cli import main

    path = tmp_path / "result.json"
    path.write_text(json.dumps(_stream_doc()), encoding="utf-8")
    monkeypatch.setattr("sys.argv", ["sockbench", "report", str(path), "-f", "hgrm"])
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert err.splitlines() == [f"sockbench: error: {HGRM_REFUSED}"]
    assert HGRM_REFUSED == (
        "--format hgrm: a stream (--mode stream) times no requests, so it has no latency "
        "histogram; choose another --format"
    )
    assert out == ""
    # Its other formats still render.
    monkeypatch.setattr("sys.argv", ["sockbench", "report", str(path), "-f", "md"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    assert "## Stream" in capsys.readouterr().out
