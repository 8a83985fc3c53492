"""The exporter's text, as a scrape reads it (report/metrics_export.py), without a socket."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sockbench.core.intervals import IntervalSeries
from sockbench.core.live_metrics import RunLabels, RunState, fold
from sockbench.core.progress import Tick
from sockbench.report.metrics_export import _Collector, tee


def _state() -> RunState:
    series = IntervalSeries(1_000_000_000)
    row = series.end_interval(np.arange(1, 101, dtype=np.int64), requests=100, errors=1)
    tick = Tick("measuring", 1.0, 1.0, 100, row.rps, row.p99, 1, 4, row=row)
    return fold(RunState(RunLabels("r1", "asyncio", "echo", "tcp")), tick, (50.0, 99.0))


def test_the_scrape_is_openmetrics_with_counters_gauges_and_units() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(lambda: [_state()]))
    text = generate_latest(registry).decode()
    assert text.endswith("# EOF\n")
    assert "# TYPE sockbench_requests counter" in text
    assert "# UNIT sockbench_latency_seconds seconds" in text
    samples = {
        (s.name, s.labels.get("quantile", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples["sockbench_requests_total", ""] == 100
    assert samples["sockbench_errors_total", ""] == 1
    assert samples["sockbench_rate", ""] == 100.0
    assert samples["sockbench_latency_seconds", "0.99"] == 99e-6
    assert samples["sockbench_latency_seconds", "1"] == 100e-6
    assert samples["sockbench_connections", ""] == 4


def test_tee_feeds_every_view_and_drops_absent_ones() -> None:
    seen: list[str] = []
    assert tee(None, None) is None

    def one(tick: Tick) -> None:
        seen.append(tick.phase)

    assert tee(None, one) is one
    both = tee(lambda t: seen.append("a"), lambda t: seen.append("b"))
    assert both is not None
    both(Tick("warmup", 0.0, 1.0, 0, 0.0, 0, 0, 0))
    assert seen == ["a", "b"]
