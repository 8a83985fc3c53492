"""Shared helpers: formatting, best values, the reference percentile iteration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from sockbench.report import numbers, percentiles
from sockbench.report.hgrm import fixed

# The percentile column of a reference (Java HdrHistogram) .hgrm of 10,000 values
# whose maximum sits alone in its bucket: every level up to the one where the last
# value is counted, then 1.0.
_REFERENCE_TEXT = """
0.000000000000 0.100000000000 0.200000000000 0.300000000000 0.400000000000
0.500000000000 0.550000000000 0.600000000000 0.650000000000 0.700000000000
0.750000000000 0.775000000000 0.800000000000 0.825000000000 0.850000000000
0.875000000000 0.887500000000 0.900000000000 0.912500000000 0.925000000000
0.937500000000 0.943750000000 0.950000000000 0.956250000000 0.962500000000
0.968750000000 0.971875000000 0.975000000000 0.978125000000 0.981250000000
0.984375000000 0.985937500000 0.987500000000 0.989062500000 0.990625000000
0.992187500000 0.992968750000 0.993750000000 0.994531250000 0.995312500000
0.996093750000 0.996484375000 0.996875000000 0.997265625000 0.997656250000
0.998046875000 0.998242187500 0.998437500000 0.998632812500 0.998828125000
0.999023437500 0.999121093750 0.999218750000 0.999316406250 0.999414062500
0.999511718750 0.999560546875 0.999609375000 0.999658203125 0.999707031250
0.999755859375 0.999780273438 0.999804687500 0.999829101563 0.999853515625
0.999877929688 0.999890136719 0.999902343750 1.000000000000
"""
REFERENCE_LEVELS = _REFERENCE_TEXT.split()


def histogram(values: np.ndarray) -> HdrHistogram:
    hist = HdrHistogram(1, 60_000_000, 3)
    for v in values:
        hist.record_value(int(v))
    return hist


@pytest.fixture(scope="module")
def lognormal() -> HdrHistogram:
    rng = np.random.default_rng(7)
    return histogram(rng.lognormal(math.log(200), 0.6, 20_000).astype(np.int64) + 1)


@pytest.mark.parametrize(
    ("us", "text"),
    [
        (None, "—"),
        (0, "0 µs"),
        (57, "57 µs"),
        (57.4, "57 µs"),
        (999, "999 µs"),
        (999.7, "1 ms"),
        (1234, "1.23 ms"),
        (12_345, "12.3 ms"),
        (123_456, "123 ms"),
        (999_800, "1 s"),
        (2_500_000, "2.5 s"),
        (60_000_000, "60 s"),
        (float("nan"), "—"),
    ],
)
def test_fmt_us(us: float | None, text: str) -> None:
    assert numbers.fmt_us(us) == text


def test_other_formats() -> None:
    assert numbers.fmt_int(1234567) == "1,234,567"
    assert numbers.fmt_rate(123456.7) == "123,457"
    assert numbers.fmt_rate(12.34) == "12.3"
    assert numbers.fmt_bytes(512) == "512 B"
    assert numbers.fmt_bytes(1536) == "1.5 KiB"
    assert numbers.fmt_bytes(12.3 * 2**20) == "12.3 MiB"
    assert numbers.fmt_bytes(1020 * 2**20) == "1,020 MiB"  # not "1.02e+03 MiB"
    assert numbers.fmt_bytes(999.7 * 2**20) == "1,000 MiB"
    assert numbers.fmt_bytes(1500 * 2**30) == "1,500 GiB"
    assert numbers.fmt_bps(14_600_000) == "14.6 Mbit/s"
    assert numbers.fmt_bps(2.5e10) == "25 Gbit/s"
    assert numbers.fmt_bps(500) == "500 bit/s"
    assert numbers.fmt_payload(64) == "64 B"
    assert numbers.fmt_payload(4096) == "4 KiB"
    assert numbers.fmt_payload("1k") == "1k"
    assert numbers.fmt_percent(97.54) == "97.5 %"


def test_levels_match_reference_output() -> None:
    rng = np.random.default_rng(3)
    values = np.append(rng.integers(40_000, 50_000, 9_999), 80_000)
    steps = percentiles.percentile_distribution(histogram(values))
    assert [fixed(s.percentile / 100, 12, 2) for s in steps] == REFERENCE_LEVELS
    assert steps[-1].total_count == steps[-2].total_count == 10_000
    assert steps[-1].value == steps[-2].value


def test_distribution_properties(lognormal: HdrHistogram) -> None:
    steps = percentiles.percentile_distribution(lognormal)
    assert steps[0].percentile == 0.0 and steps[-1].percentile == 100.0
    assert steps[-1].total_count == lognormal.get_total_count()
    assert steps[-1].value == lognormal.get_max_value()
    for a, b in itertools.pairwise(steps):
        assert a.value <= b.value and a.percentile < b.percentile
        assert a.total_count <= b.total_count
    for p in (50.0, 90.0, 99.0, 99.9):
        at_or_above = next(s for s in steps if s.percentile >= p)
        below = [s for s in steps if s.percentile <= p][-1]
        reference = lognormal.get_value_at_percentile(p)
        assert below.value <= reference <= at_or_above.value


def test_empty_histogram() -> None:
    hist = HdrHistogram(1, 60_000_000, 3)
    assert percentiles.percentile_distribution(hist) == []
    assert percentiles.mean_stddev(hist) == (0.0, 0.0)
    assert percentiles.spectrum(hist) == ([], [])


def test_mean_stddev_match_hdrh(lognormal: HdrHistogram) -> None:
    mean, stddev = percentiles.mean_stddev(lognormal)
    assert mean == pytest.approx(lognormal.get_mean_value(), rel=1e-12)
    assert stddev == pytest.approx(lognormal.get_stddev(), rel=1e-9)


def test_spectrum_stops_below_100(lognormal: HdrHistogram) -> None:
    levels, values = percentiles.spectrum(lognormal)
    assert levels[0] == 0.0
    assert max(levels) <= percentiles.SPECTRUM_MAX_PERCENTILE
    assert values == sorted(values)
    assert percentiles.inverse_tail(99.0) == pytest.approx(100.0)


def test_decode_and_merge(lognormal: HdrHistogram) -> None:
    summary = {"histogram": lognormal.encode().decode()}
    decoded = percentiles.decode(summary)
    assert decoded is not None
    assert decoded.get_total_count() == lognormal.get_total_count()
    assert percentiles.decode(None) is None
    assert percentiles.decode({"histogram": None}) is None
    merged = percentiles.merge([decoded, decoded])
    assert merged is not None and merged.get_total_count() == 2 * lognormal.get_total_count()
    assert percentiles.merge([]) is None
