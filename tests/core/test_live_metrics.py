"""What --metrics-port exports for given interval rows (core/live_metrics.py): pure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sockbench.core.histogram import encode, new_histogram
from sockbench.core.intervals import IntervalRow, IntervalSeries, KindRow, merge_rows, with_kinds
from sockbench.core.live_metrics import (
    Family,
    RunLabels,
    RunState,
    check_remote,
    families,
    final_wait_s,
    fold,
    parse_address,
)
from sockbench.core.progress import Tick
from sockbench.errors import ConfigError

S = 1_000_000_000
LABELS = RunLabels("r1", "asyncio", "echo", "tcp")
BASE = LABELS.pairs()
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def _tick(row: IntervalRow | None, connections: int = 8) -> Tick:
    return Tick(
        phase="measuring" if row else "warmup",
        elapsed_s=0.0,
        remaining_s=0.0,
        requests=0,
        rps=row.rps if row else 0.0,
        p99_us=row.p99 if row else 0,
        errors=0,
        connections=connections,
        row=row,
    )


def _by_name(found: list[Family]) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    return {f.name: {s.labels: s.value for s in f.samples} for f in found}


def _rows() -> list[IntervalRow]:
    series = IntervalSeries(S // 2)  # half-second intervals: the rate is twice the count
    first = series.end_interval(np.arange(1, 1001, dtype=np.int64), requests=1000, errors=3)
    second = series.end_interval(np.full(10, 2500, dtype=np.int64), requests=10, errors=0)
    return [first, second]


def test_counters_sum_the_rows_and_gauges_are_the_last_rows_values() -> None:
    first, second = _rows()
    state = RunState(LABELS)
    for row in (first, second):
        state = fold(state, _tick(row), PERCENTILES)
    got = _by_name(families([state]))
    assert got["sockbench_requests"][BASE] == 1010  # counters: the sum of intervals[].requests
    assert got["sockbench_errors"][BASE] == 3
    assert got["sockbench_intervals"][BASE] == 2
    assert got["sockbench_run_info"][BASE] == 1
    assert got["sockbench_measuring"][BASE] == 1
    assert got["sockbench_connections"][BASE] == 8
    last = second.to_json()  # the gauges: the last row, as the result's intervals keep it
    assert got["sockbench_interval_end"][BASE] == last["t"] == 1.0
    assert got["sockbench_interval_requests"][BASE] == last["requests"] == 10
    assert got["sockbench_interval_errors"][BASE] == 0
    assert got["sockbench_rate"][BASE] == last["rps"] == 20.0
    latency = got["sockbench_latency"]
    assert latency[(*BASE, ("quantile", "0.5"))] == last["p50"] / 1e6
    assert latency[(*BASE, ("quantile", "0.99"))] == last["p99"] / 1e6
    assert latency[(*BASE, ("quantile", "1"))] == last["max"] / 1e6
    # from the row's histogram: 2,500 µs is in the bucket whose highest value is 2,501
    assert latency[(*BASE, ("quantile", "0.999"))] == last["max"] / 1e6 == 2501 / 1e6
    # prometheus_client adds a counter's _total and a unit's _seconds to these names
    assert not [f.name for f in families([state]) if f.name.endswith(("_total", "_seconds"))]


def test_a_quantile_the_rows_do_not_keep_comes_from_the_rows_histogram() -> None:
    first, _ = _rows()
    state = fold(RunState(LABELS), _tick(first), PERCENTILES)
    latency = _by_name(families([state]))["sockbench_latency"]
    assert latency[(*BASE, ("quantile", "0.5"))] == first.p50 / 1e6 == 500 / 1e6
    assert latency[(*BASE, ("quantile", "0.9"))] == 900 / 1e6
    assert latency[(*BASE, ("quantile", "0.999"))] == 999 / 1e6


def test_cpu_is_the_latest_sample_of_each_side_sampled() -> None:
    first, _ = _rows()
    tick = replace(_tick(first), server_cpu_percent=97.5, generator_cpu_percent=40.0)
    got = _by_name(families([fold(RunState(LABELS), tick, PERCENTILES)]))
    assert got["sockbench_server_cpu_percent"][BASE] == 97.5
    assert got["sockbench_generator_cpu_percent"][BASE] == 40.0
    external = replace(tick, server_cpu_percent=None)  # an external target: not sampled
    got = _by_name(families([fold(RunState(LABELS), external, PERCENTILES)]))
    assert "sockbench_server_cpu_percent" not in got


def test_warmup_ticks_count_nothing_and_show_no_interval() -> None:
    state = fold(RunState(LABELS), _tick(None, connections=5), PERCENTILES)
    got = _by_name(families([state]))
    assert got["sockbench_requests"][BASE] == 0
    assert got["sockbench_measuring"][BASE] == 0
    assert got["sockbench_connections"][BASE] == 5
    assert "sockbench_rate" not in got and "sockbench_latency" not in got


def test_kinds_of_request_are_their_own_series_with_a_kind_label() -> None:
    gets, sets = new_histogram(), new_histogram()
    for _ in range(30):
        gets.record_value(100)
    for _ in range(10):
        sets.record_value(400)
    [row] = _rows()[:1]
    row = with_kinds(row, (KindRow("get", 30, encode(gets)), KindRow("set", 10, encode(sets))))
    state = fold(fold(RunState(LABELS), _tick(row), PERCENTILES), _tick(row), PERCENTILES)
    got = _by_name(families([state]))
    assert got["sockbench_kind_requests"] == {
        (*BASE, ("kind", "get")): 60,
        (*BASE, ("kind", "set")): 20,
    }
    summary = row.to_json()["by_kind"]
    assert got["sockbench_kind_rate"][(*BASE, ("kind", "set"))] == summary["set"]["rps"] == 20.0
    p99 = got["sockbench_kind_latency"][(*BASE, ("kind", "get"), ("quantile", "0.99"))]
    assert p99 == summary["get"]["p99"] / 1e6
    assert got["sockbench_requests"][BASE] == 2000  # the run's own series count each once


def test_hits_and_misses_are_counters_summed_over_the_rows() -> None:
    [row] = _rows()[:1]
    hist = encode(new_histogram())
    gets = (KindRow("set", 10, hist), KindRow("get", 30, hist, hits=50, misses=10))
    state = RunState(LABELS)
    for kinds in (gets, (*gets[:1], replace(gets[1], hits=7, misses=0))):
        state = fold(state, _tick(with_kinds(row, kinds)), PERCENTILES)
    got = _by_name(families([state]))
    assert got["sockbench_hits"] == {BASE: 57} and got["sockbench_misses"] == {BASE: 10}
    plain = _by_name(families([fold(RunState(LABELS), _tick(row), PERCENTILES)]))
    assert "sockbench_hits" not in plain  # nothing reads keys: no such series


def test_open_loop_rows_export_their_offered_rate_and_lags() -> None:
    from sockbench.core.intervals import PacingRow

    first, second = _rows()
    lag = new_histogram()
    lag.record_value(1500)
    paced = replace(second, pacing=PacingRow(12, encode(lag), encode(new_histogram())))
    state = fold(fold(RunState(LABELS), _tick(first), PERCENTILES), _tick(paced), PERCENTILES)
    got = _by_name(families([state]))
    p99 = (*BASE, ("quantile", "0.99"))
    assert got["sockbench_offered_rate"] == {BASE: 24.0} == {BASE: paced.to_json()["offered_rps"]}
    assert got["sockbench_send_lag"] == {p99: 0.0015}
    assert got["sockbench_scheduler_lag"] == {p99: 0.0}  # nothing sent late by the generator
    closed = _by_name(families([fold(RunState(LABELS), _tick(first), PERCENTILES)]))
    assert "sockbench_offered_rate" not in closed and "sockbench_send_lag" not in closed


def test_each_run_of_a_compare_keeps_its_own_series() -> None:
    first, second = _rows()
    a = fold(RunState(LABELS), _tick(first), PERCENTILES)
    b = fold(RunState(RunLabels("r2", "threads", "echo", "udp")), _tick(second), PERCENTILES)
    requests = _by_name(families([a, b]))["sockbench_requests"]
    assert list(requests.values()) == [1000, 10]
    assert dict(list(requests)[1])["model"] == "threads"


@pytest.mark.parametrize(
    ("given", "address"),
    [
        ("9464", ("127.0.0.1", 9464)),
        ("0", ("127.0.0.1", 0)),
        ("localhost:9000", ("127.0.0.1", 9000)),
        ("[::1]:9000", ("::1", 9000)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
    ],
)
def test_the_address_defaults_to_loopback(given: str, address: tuple[str, int]) -> None:
    assert parse_address(given) == address


@pytest.mark.parametrize("given", ["", "http", "host:9464", "127.0.0.1:70000", "-1"])
def test_a_malformed_address_is_one_line(given: str) -> None:
    with pytest.raises(ConfigError, match="--metrics-port"):
        parse_address(given)


def test_only_loopback_without_allow_remote() -> None:
    check_remote(("127.0.0.2", 1), allow_remote=False)
    check_remote(("0.0.0.0", 1), allow_remote=True)
    with pytest.raises(ConfigError, match="--allow-remote"):
        check_remote(("0.0.0.0", 1), allow_remote=False)


@pytest.mark.parametrize(
    ("scraped_at", "now", "wait"),
    [
        ((), 10.0, 0.0),  # nobody scraped: stop at once
        ((9.0,), 10.0, 0.0),  # once: no interval to expect the next one by
        ((8.0, 9.0), 9.2, 2.8),  # every second: until 3 s after the last
        ((8.0, 9.0), 12.5, 0.0),  # it stopped coming
        ((9.8, 9.9), 10.0, 1.1),  # every 0.1 s: 0.2 s and a second of slack
        ((0.0, 30.0), 31.0, 3.0),  # a slow scraper: 3 s at most
    ],
)
def test_the_end_waits_about_one_scrape_interval_for_the_last_values(
    scraped_at: tuple[float, ...], now: float, wait: float
) -> None:
    assert final_wait_s(scraped_at, now) == pytest.approx(wait)


def test_a_stream_has_its_bit_rates_and_a_receiver_not_known_is_left_out() -> None:
    first, _ = _rows()  # half a second: 8 bits a byte, twice
    row = replace(first, sent_bytes=1000, received_bytes=None)
    got = _by_name(families([fold(RunState(LABELS), _tick(row), PERCENTILES)]))
    assert got["sockbench_sent_bits_per_second"][BASE] == row.to_json()["sent_bps"] == 16000
    assert "sockbench_received_bits_per_second" not in got


def test_a_cluster_run_has_series_per_node_that_add_up_to_the_runs() -> None:
    first, second = _rows()
    merged = merge_rows([[first], [second]])[0]
    tick = replace(_tick(merged), by_node=(("node-a", first), ("node-b", second)))
    state = fold(fold(RunState(LABELS), tick, PERCENTILES), tick, PERCENTILES)
    got = _by_name(families([state]))
    a, b = (*BASE, ("node", "node-a")), (*BASE, ("node", "node-b"))
    assert got["sockbench_node_requests"] == {a: 2000, b: 20}
    assert (
        got["sockbench_node_requests"][a] + got["sockbench_node_requests"][b]
        == (got["sockbench_requests"][BASE])
    )
    assert got["sockbench_node_errors"] == {a: 6, b: 0}
    assert got["sockbench_node_rate"][b] == second.rps
    assert got["sockbench_node_latency"][(*a, ("quantile", "0.99"))] == first.p99 / 1e6
    local = _by_name(families([fold(RunState(LABELS), _tick(first), PERCENTILES)]))
    assert "sockbench_node_requests" not in local  # not a cluster: no node series


def test_an_open_loop_run_exports_the_rate_it_asks_a_closed_loop_none() -> None:
    """A sweep's steps tell apart by their rate, even before their first interval."""
    asked = _by_name(families([RunState(LABELS, requested_rps=2500.0)]))
    assert asked["sockbench_requested_rate"][BASE] == 2500.0
    assert "sockbench_requested_rate" not in _by_name(families([RunState(LABELS)]))
