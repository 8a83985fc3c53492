"""The timeline's lines are registry metrics read from interval rows (pure: no chart drawn)."""

from __future__ import annotations

import math
from typing import Any

from sockbench.core.metrics import metric
from sockbench.report import charts, html


def test_the_timeline_draws_the_rate_and_p99_solid_p50_dashed() -> None:
    assert charts.TIMELINE_RATE is metric("rps")
    assert [(m.name, style) for m, style in charts.TIMELINE_LATENCIES] == [
        ("latency.p99", "-"),
        ("latency.p50", "--"),
    ]
    assert charts.LATENCY_STYLES == (("p99", "-"), ("p50", "--"))


def test_a_series_is_a_metric_in_each_row_and_a_gap_where_a_row_lacks_it() -> None:
    rows: list[dict[str, Any]] = [
        {"t": 1.0, "rps": 10.0, "p99": 700},
        {"t": 2.0, "rps": None},
        {"t": 3.0, "p99": 9},
    ]
    rps = html._series(metric("rps"), rows)
    assert rps[0] == 10.0 and math.isnan(rps[1]) and math.isnan(rps[2])
    p99 = html._series(metric("p99"), rows)
    assert p99[0] == 700.0 and math.isnan(p99[1]) and p99[2] == 9.0
