import random
from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from sockbench.core.hlog import LEGEND, format_log
from sockbench.core.intervals import IntervalSeries

S = 1_000_000_000
START = 1_700_000_000.25


def _series(intervals: int) -> IntervalSeries:
    rng = np.random.default_rng(11)
    series = IntervalSeries(S)
    for i in range(intervals):
        samples = rng.lognormal(5 + i % 3, 1.5, size=2000).astype(np.int64) + 1
        series.end_interval(samples, requests=samples.size, errors=0)
    series.end_interval(np.array([123_456], dtype=np.int64), 1, 0, end_ns=intervals * S + S // 2)
    return series


def _read_back(path: Path) -> tuple[list[HdrHistogram], float]:
    reader = HistogramLogReader(str(path), HdrHistogram(1, 60_000_000, 3))
    hists = []
    while (hist := reader.get_next_interval_histogram()) is not None:
        hists.append(hist)
    start = reader.get_start_time_sec()
    reader.close()
    return hists, start


@pytest.mark.parametrize("tag", [None, "latency"])
def test_log_reads_back_with_hdrh_and_intervals_add_up_to_the_total(
    tmp_path: Path, tag: str | None
) -> None:
    series = _series(5)
    path = tmp_path / "run.hlog"
    path.write_text(format_log(series.rows, START, tag=tag))

    hists, start = _read_back(path)
    assert start == pytest.approx(START, abs=1e-3)
    assert len(hists) == 6
    total = HdrHistogram(1, 60_000_000, 3)
    for hist, row in zip(hists, series.rows, strict=True):
        total.add(hist)
        assert hist.get_total_count() == row.requests
        assert hist.get_tag() == tag
        assert hist.get_start_time_stamp() == pytest.approx((START + row.start_s) * 1000, abs=1)
        assert hist.get_end_time_stamp() == pytest.approx((START + row.t) * 1000, abs=1)
    assert total.get_total_count() == series.total.get_total_count() == 5 * 2000 + 1
    assert list(total.counts) == list(series.total.counts)


def test_log_lines_have_the_1_3_layout() -> None:
    series = _series(1)
    lines = format_log(series.rows, START, tag="A", comment="sockbench run x").splitlines()
    assert lines[:5] == [
        "#sockbench run x",
        "#[Histogram log format version 1.3]",
        "#[StartTime: 1700000000.250 (seconds since epoch), 2023-11-14T22:13:20.250+00:00]",
        "#[BaseTime: 1700000000.250 (seconds since epoch)]",
        LEGEND,
    ]
    first = lines[5].split(",")
    assert first[:3] == ["Tag=A", "0.000", "1.000"]
    assert float(first[3]) == series.rows[0].max / 1000  # max in ms, from µs
    assert first[4] == series.rows[0].histogram
    # 123.519 ms: the highest value equivalent to 123456 µs at 3 significant digits.
    assert lines[6].split(",")[:4] == ["Tag=A", "1.000", "0.500", "123.519"]


def test_bad_tag_is_rejected() -> None:
    with pytest.raises(ValueError, match="tag"):
        format_log([], START, tag="a,b")


def test_empty_log_has_only_the_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.hlog"
    path.write_text(format_log([], random.Random(1).uniform(1e9, 2e9)))
    hists, _ = _read_back(path)
    assert hists == []
