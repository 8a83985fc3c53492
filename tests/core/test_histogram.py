import math
import random

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from sockbench.core.histogram import (
    HIGHEST_US,
    NsRecorder,
    Recorder,
    decode,
    encode,
    mean_and_stdev,
    merge,
    new_histogram,
    summarize,
)


def _reference(values: list[int]) -> HdrHistogram:
    hist = new_histogram()
    for v in values:
        assert hist.record_value(v)
    return hist


def test_batched_recording_matches_record_value_bucket_for_bucket() -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(4, 2.5)) + 1 for _ in range(50_000)]
    values = [min(v, HIGHEST_US) for v in values]
    values += [1, 2, 2047, 2048, 2049, 4095, 4096, 1_000_000, HIGHEST_US]
    recorder = Recorder(batch=977)
    for v in values:
        recorder.record(v)
    got, want = recorder.histogram, _reference(values)
    assert got.get_total_count() == want.get_total_count() == len(values)
    assert list(got.counts) == list(want.counts)
    assert got.get_min_value() == want.get_min_value()
    assert got.get_max_value() == want.get_max_value()
    assert summarize(got) == summarize(want)


def test_out_of_range_values_are_clamped_and_counted_not_dropped() -> None:
    recorder = Recorder()
    for v in (0, -5, 10, HIGHEST_US * 3):
        recorder.record(v)
    hist = recorder.histogram
    assert hist.get_total_count() == 4
    assert recorder.clamped == 2
    assert hist.get_min_value() == 0
    assert hist.get_count_at_value(0) == 2  # the 0 and the clamped -5
    assert hist.values_are_equivalent(hist.get_max_value(), HIGHEST_US)


def test_summary_percentiles() -> None:
    recorder = Recorder()
    recorder.add_values(np.arange(1, 10_001, dtype=np.int64))
    s = summarize(recorder.histogram)
    assert s.count == 10_000
    assert s.min == 1
    assert s.p50 == pytest.approx(5000, rel=1e-3)
    assert s.p99 == pytest.approx(9900, rel=1e-3)
    assert s.max == pytest.approx(10_000, rel=1e-3)
    assert s.mean == pytest.approx(5000.5, rel=1e-3)


@pytest.mark.parametrize("seed", range(4))
def test_mean_and_stdev_are_hdrhs_bit_for_bit(seed: int) -> None:
    """The summary's mean and stdev walk the non-empty buckets only, yet are hdrh's own
    numbers exactly: log-normal latencies of several scales, and the range's edges."""
    rng = random.Random(seed)
    hist = new_histogram()
    scale = (5, 80, 3_000, 400_000)[seed]
    for _ in range(3_000):
        hist.record_value(min(HIGHEST_US, int(rng.lognormvariate(math.log(scale), 1.2))))
    hist.record_value(0, rng.randrange(1, 50))
    hist.record_value(HIGHEST_US)
    assert mean_and_stdev(hist) == (hist.get_mean_value(), hist.get_stddev())
    one = new_histogram()
    one.record_value(scale, 10**9)  # one bucket, a large count
    assert mean_and_stdev(one) == (one.get_mean_value(), one.get_stddev())
    assert mean_and_stdev(new_histogram()) == (0.0, 0.0)


def test_empty_summary_is_all_zero() -> None:
    s = summarize(new_histogram())
    assert (s.count, s.min, s.p50, s.max) == (0, 0, 0, 0)
    assert decode(s.histogram).get_total_count() == 0


def test_merged_histograms_equal_one_histogram_of_all_samples() -> None:
    rng = random.Random(3)
    parts = [[rng.randint(1, 200_000) for _ in range(5_000)] for _ in range(3)]
    encoded = [encode(_reference(p)) for p in parts]
    merged = merge(encoded)
    whole = _reference([v for p in parts for v in p])
    assert summarize(merged).count == summarize(whole).count
    for pct in (50, 90, 99, 99.9, 100):
        assert merged.get_value_at_percentile(pct) == whole.get_value_at_percentile(pct)


def test_reset_forgets_warmup_samples() -> None:
    recorder = Recorder()
    recorder.record(100)
    recorder.flush()
    recorder.record(5)
    recorder.reset()
    recorder.record(7)
    assert recorder.histogram.get_total_count() == 1


def test_interval_cuts_partition_the_samples() -> None:
    recorder = Recorder(batch=10)
    for v in range(1, 50):
        recorder.record(v)
    assert recorder.cut_interval().get_total_count() == 0  # nothing before the first cut
    for v in range(100, 130):
        recorder.record(v)
    first = recorder.cut_interval()
    for v in (7, 9000):
        recorder.record(v)
    second = recorder.cut_interval()
    assert first.get_total_count() == 30
    assert (first.get_min_value(), first.get_max_value()) == (100, 129)
    assert second.get_total_count() == 2
    assert second.get_min_value() == 7
    assert second.values_are_equivalent(second.get_max_value(), 9000)
    assert recorder.histogram.get_total_count() == 49 + 30 + 2


def test_ns_samples_round_to_the_microsecond_as_each_one_would() -> None:
    """The hot path appends nanoseconds; the flush rounds them all, exactly as
    ``(ns + 500) // 1000`` rounds one: the same histogram, bucket for bucket."""
    rng = random.Random(7)
    top = HIGHEST_US * 1000
    edges = [0, 499, 500, 1_499, 1_500, 999_999_500, top + 499, top + 500]  # the last: clamped
    samples = edges + [rng.randrange(0, 10**10) for _ in range(20_000)]
    ns = NsRecorder(batch=1000)
    per_sample = Recorder(batch=1000)
    for value in samples:
        ns.add(value)
        per_sample.record((value + 500) // 1000)
    ns.record(2_500)  # record() takes nanoseconds too
    per_sample.record(3)
    assert encode(ns.histogram) == encode(per_sample.histogram)
    assert ns.histogram.get_total_count() == len(samples) + 1
    assert ns.clamped == per_sample.clamped == 1


def test_ns_samples_wait_for_keep_up_not_for_each_sample() -> None:
    recorder = NsRecorder(batch=4)
    for value in range(10):
        recorder.add(value * 1000)
    assert recorder.hist.get_total_count() == 0  # no check per sample
    recorder.keep_up()
    assert recorder.hist.get_total_count() == 10
    recorder.add(5_000)
    recorder.keep_up()  # less than a batch waits: left for the next
    assert recorder.hist.get_total_count() == 10
    assert recorder.histogram.get_total_count() == 11  # reading it folds the rest in
