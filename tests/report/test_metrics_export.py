"""The exporter's text, as a scrape reads it (report/metrics_export.py), without a socket."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sockbench.core.intervals import IntervalSeries
from sockbench.core.live_metrics import RunLabels, RunState, fold
from sockbench.core.progress import Tick
from sockbench.report.metrics_export import MetricsExporter, _Collector, tee


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


def _exported_names() -> set[str]:
    """Every sample name a scrape can show: an open-loop run with kinds of request (a GET
    reading keys) and both CPUs."""
    from dataclasses import replace

    from sockbench.core.histogram import encode, new_histogram
    from sockbench.core.intervals import KindRow, PacingRow, with_kinds
    from sockbench.core.live_metrics import families

    state = replace(_state(), requested_rps=1000.0)  # open loop
    assert state.last is not None
    hist = new_histogram()
    hist.record_value(10)
    row = IntervalSeries(1_000_000_000).end_interval(np.arange(1, 3, dtype=np.int64), 2, 0)
    row = with_kinds(row, (KindRow("get", 1, encode(hist), hits=1, misses=0),))
    row = replace(row, error_kinds=(("timeout", 1),), sent_bytes=1, received_bytes=1)
    row = replace(row, pacing=PacingRow(2, encode(hist), encode(hist)))
    tick = Tick("measuring", 1.0, 1.0, 2, row.rps, row.p99, 0, 1, row=row)
    tick = replace(tick, server_cpu_percent=1.0, generator_cpu_percent=1.0, by_node=(("n", row),))
    state = fold(state, tick, (50.0,))
    suffix = {"counter": "_total"}
    return {
        f.name + (f"_{f.unit}" if f.unit else "") + suffix.get(f.kind, "")
        for f in families([state])
    }


def test_the_dashboard_and_the_docs_name_only_series_the_exporter_makes() -> None:
    import json
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    exported = _exported_names()
    dashboard = json.loads((docs / "grafana-sockbench.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bsockbench_[a-z_]+", target["expr"])
    }
    assert queried <= exported, queried - exported
    table = set(re.findall(r"^\| `(sockbench_[a-z_]+)`", (docs / "metrics.md").read_text(), re.M))
    assert table == exported, table ^ exported


def test_runs_keep_their_own_series_and_a_run_id_given_twice_is_told_apart() -> None:
    from tests.support.specs import spec_of

    exporter = MetricsExporter("127.0.0.1", 0, (99.0,))  # not entered: no socket
    spec = spec_of({"clients": 3, "protocol": "redis", "target": "tcp://127.0.0.1:6379"})
    for _ in range(3):
        exporter.start_run(spec, "r")
    exporter(Tick("warmup", 0.0, 1.0, 0, 0.0, 0, 0, 3))  # counts towards the last run only
    labels = [state.labels for state in exporter._states]
    assert [la.run_id for la in labels] == ["r", "r-2", "r-3"]
    assert (labels[0].model, labels[0].protocol, labels[0].transport) == (
        "external",
        "redis",
        "tcp",
    )
    assert [state.connections for state in exporter._states] == [0, 0, 3]
