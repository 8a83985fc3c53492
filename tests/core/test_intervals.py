from array import array
from dataclasses import replace

import numpy as np
import pytest

from sockbench.core.histogram import HIGHEST_US, decode, new_histogram
from sockbench.core.intervals import IntervalSeries, merge_rows

S = 1_000_000_000


def test_rows_have_exact_counts_rates_and_percentiles() -> None:
    series = IntervalSeries(S)
    assert series.next_end_ns == S
    first = series.end_interval(np.arange(1, 101, dtype=np.int64), requests=100, errors=2)
    second = series.end_interval(array("q", [500] * 10 + [1500]), requests=11, errors=0)
    assert first.to_json() == {
        "t": 1.0,
        "requests": 100,
        "errors": 2,
        "rps": 100.0,
        "p50": 50,
        "p99": 99,
        "max": 100,
    }
    assert second.to_json() == {
        "t": 2.0,
        "requests": 11,
        "errors": 0,
        "rps": 11.0,
        "p50": 500,
        "p99": 1500,
        "max": 1500,
    }
    assert (first.start_s, second.start_s) == (0.0, 1.0)
    assert series.next_end_ns == 3 * S
    assert decode(first.histogram).get_total_count() == 100
    assert decode(second.histogram).get_min_value() == 500  # the scratch histogram was reset
    assert series.total.get_total_count() == 111
    assert series.total.get_max_value() == 1500


def test_a_short_last_interval_reports_its_true_rate() -> None:
    series = IntervalSeries(S // 2)
    series.end_interval(np.array([10, 20], dtype=np.int64), requests=2, errors=0)
    last = series.end_interval(
        np.array([30], dtype=np.int64), requests=1, errors=0, end_ns=S // 2 + S // 10
    )
    assert (last.start_s, last.t, last.rps) == (0.5, 0.6, 10.0)
    with pytest.raises(ValueError, match="not after"):
        series.end_interval(np.array([], dtype=np.int64), 0, 0, end_ns=S // 2)


def test_empty_interval_and_histogram_input() -> None:
    series = IntervalSeries(S)
    empty = series.end_interval(np.array([], dtype=np.int64), requests=0, errors=3)
    assert empty.to_json() == {
        "t": 1.0,
        "requests": 0,
        "errors": 3,
        "rps": 0.0,
        "p50": 0,
        "p99": 0,
        "max": 0,
    }
    hist = new_histogram()
    hist.record_value(7, 4)
    row = series.end_interval(hist, requests=4, errors=0)
    assert (row.p50, row.max) == (7, 7)
    assert hist.get_total_count() == 4  # the caller's histogram is left alone


def test_out_of_range_samples_are_clamped_and_counted() -> None:
    series = IntervalSeries(S)
    row = series.end_interval(np.array([-1, 5, HIGHEST_US + 1], dtype=np.int64), 3, 0)
    assert series.clamped == 2
    assert decode(row.histogram).get_total_count() == 3
    series.end_interval(np.array([5], dtype=np.int64), 1, 0)
    assert series.clamped == 2


def test_rows_of_workers_merge_interval_by_interval() -> None:
    a, b = IntervalSeries(S), IntervalSeries(S)
    a.end_interval(np.array([10] * 3, dtype=np.int64), 3, 1)
    a.end_interval(np.array([20], dtype=np.int64), 1, 0, end_ns=S + S // 2)
    b.end_interval(np.array([30], dtype=np.int64), 1, 0)
    b.end_interval(np.array([40, 40], dtype=np.int64), 2, 5, end_ns=S + S // 4)
    b.end_interval(np.array([50], dtype=np.int64), 1, 0, end_ns=2 * S)
    rows = [row.to_json() for row in merge_rows([a.rows, b.rows])]
    assert rows == [
        {"t": 1.0, "requests": 4, "errors": 1, "rps": 4.0, "p50": 10, "p99": 30, "max": 30},
        {"t": 1.5, "requests": 3, "errors": 5, "rps": 6.0, "p50": 40, "p99": 40, "max": 40},
        {"t": 2.0, "requests": 1, "errors": 0, "rps": 1.333, "p50": 50, "p99": 50, "max": 50},
    ]
    assert merge_rows([]) == []


def test_a_kind_that_reads_keys_keeps_its_hits_and_misses_and_the_row_their_sum() -> None:
    from sockbench.core.histogram import encode
    from sockbench.core.intervals import KindRow, with_kinds

    series = IntervalSeries(S)
    hist = encode(new_histogram())
    row = series.end_interval(np.array([10] * 5, dtype=np.int64), 5, 0)
    kinds = (KindRow("set", 2, hist), KindRow("get", 3, hist, hits=4, misses=2))
    doc = with_kinds(row, kinds).to_json()
    assert (doc["hits"], doc["misses"]) == (4, 2)
    assert doc["by_kind"]["get"] == {"requests": 3, "rps": 3.0, "p99": 0, "hits": 4, "misses": 2}
    assert "hits" not in doc["by_kind"]["set"]
    assert "hits" not in with_kinds(row, kinds[:1]).to_json()  # no kind reads keys
    other = with_kinds(row, (KindRow("set", 1, hist), KindRow("get", 2, hist, hits=1, misses=3)))
    [merged] = merge_rows([[with_kinds(row, kinds)], [other]])
    assert merged.lookups == (5, 5)
    assert merged.to_json()["by_kind"]["get"]["hits"] == 5


def test_open_loop_rows_keep_their_sends_and_lags_and_merge_them() -> None:
    from sockbench.core.histogram import encode
    from sockbench.core.intervals import PacingRow

    def lags(*values: int) -> str:
        hist = new_histogram()
        for value in values:
            hist.record_value(value)
        return encode(hist)

    a, b = IntervalSeries(S // 2), IntervalSeries(S // 2)
    row_a = a.end_interval(np.array([10], dtype=np.int64), 1, 0)
    row_b = b.end_interval(np.array([10], dtype=np.int64), 1, 0)
    row_a = replace(row_a, pacing=PacingRow(40, lags(5, 7), lags(1)))
    row_b = replace(row_b, pacing=PacingRow(60, lags(900), lags(300, 2)))
    doc = row_a.to_json()
    assert (doc["offered"], doc["offered_rps"]) == (40, 80.0)
    assert (doc["send_lag_p99"], doc["scheduler_lag_p99"]) == (7, 1)
    [merged] = [row.to_json() for row in merge_rows([[row_a], [row_b]])]
    assert (merged["offered"], merged["offered_rps"]) == (100, 200.0)
    assert (merged["send_lag_p99"], merged["scheduler_lag_p99"]) == (900, 300)
    assert "offered" not in a.end_interval(np.array([], dtype=np.int64), 0, 0).to_json()
