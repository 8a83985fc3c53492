"""--check: parsing, evaluation against a result, and the exit code (pure)."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import pytest

from sockbench.core.checks import OPS, evaluate, parse_check
from sockbench.core.datagrams import DatagramCounts
from sockbench.core.histogram import HistogramSummary, Recorder, encode, summarize
from sockbench.core.protocols import ProtocolOptions
from sockbench.core.result import Measurement, build_result
from sockbench.core.spec.request import ProtocolChoice
from sockbench.core.spec.rules import check_thresholds
from sockbench.core.status import (
    EXIT_CHECK_FAILED,
    RunStatus,
    combined_exit_code,
    result_exit_code,
)
from sockbench.core.tally import Tally
from sockbench.endpoints import Proto
from sockbench.errors import ConfigError
from tests.support.specs import spec_of


@pytest.mark.parametrize(
    ("expr", "metric", "threshold"),
    [
        ("p99 < 5ms", "latency.p99", 0.005),
        ("p99.9<=1s", "latency.p99.9", 1.0),
        ("p99.999 < 20ms", "latency.p99.999", 0.02),
        ("latency.p99_99 < 2ms", "latency.p99.99", 0.002),
        ("connect.p99 < 20ms", "connect.p99", 0.02),
        ("max < 1s", "latency.max", 1.0),
        ("errors == 0", "errors", 0.0),
        ("errors.timeout == 0", "errors.timeout", 0.0),
        ("rps >= 10k", "rps", 10_000.0),
        ("loss < 0.1%", "loss", 0.001),
        ("achieved >= 99%", "achieved", 0.99),
        ("offered >= 1.9k", "offered", 1900.0),
        ("kind.get.p99 < 1ms", "kind.get.p99", 0.001),
        ("KIND.SET.rps >= 1k", "kind.SET.rps", 1000.0),  # a kind of request keeps its case
        ("kind.get.errors == 0", "kind.get.errors", 0.0),
    ],
)
def test_parse(expr: str, metric: str, threshold: float) -> None:
    check = parse_check(expr)
    assert check.metric == metric
    assert check.threshold == pytest.approx(threshold)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("p99 5ms", "malformed --check 'p99 5ms'; expected METRIC OP VALUE"),
        ("speed > 3", "unknown metric 'speed'; use .*, offered, "),
        ("lost > 3", "unknown metric 'lost'"),  # a summary column, not a check
        ("kind.get.offered > 3", "unknown metric 'kind.get.offered'.*kind.KIND.NAME"),
        ("kind.get > 3", "unknown metric 'kind.get'"),
        ("p100 < 1s", "between 0 and 100"),
        ("p99 < 5x", "expected a duration like 500ms"),
        ("rps >= many", "expected a number"),
    ],
)
def test_malformed_checks_say_what_is_accepted(expr: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_check(expr)


def _result(latencies_us: list[int], errors: dict[str, int], checks: list[str]) -> dict[str, Any]:
    rec = Recorder()
    for v in latencies_us:
        rec.record(v)
    tally = Tally(
        requests=len(latencies_us), bytes_sent=0, bytes_received=0, connections=1,
        errors=errors, warmup_errors={}, latency=encode(rec.histogram),
        connect=encode(Recorder().histogram),
        datagrams=DatagramCounts(sent=100, received=98, lost=2),
    )  # fmt: skip
    return build_result(Measurement(
        spec=spec_of({"proto": "udp", "clients": 1, "workers": "1", "checks": tuple(checks)}),
        command="t", environment={},
        server={}, started_at="", duration_s=1.0, status=RunStatus.COMPLETED, tally=tally,
    ))  # fmt: skip


def test_every_check_is_kept_with_its_measured_value() -> None:
    doc = _result(
        [1000] * 99 + [9000],
        {"timeout": 2},
        ["p50 < 2ms", "p99.9 < 5ms", "errors.timeout == 0", "rps >= 50", "loss < 5%"],
    )
    checks = {c["expr"]: c for c in doc["checks"]}
    assert [c["passed"] for c in doc["checks"]] == [True, False, False, True, True]
    assert checks["p99.9 < 5ms"]["value"] == pytest.approx(0.009, rel=0.01)
    assert checks["p99.9 < 5ms"]["measured"] == "9.01 ms"  # the histogram bucket's top
    assert checks["errors.timeout == 0"]["value"] == 2
    assert checks["loss < 5%"]["measured"] == "2.00%"
    assert result_exit_code(doc) == EXIT_CHECK_FAILED


def test_offered_reads_the_open_loop_sent_rate() -> None:
    check = parse_check("offered >= 1900")
    assert (check.metric, check.unit, check.needs_rate, check.needs_datagrams) == (
        "offered", "", True, False,
    )  # fmt: skip
    sent, behind = {"totals": {"offered_rps": 1990.5}}, {"totals": {"offered_rps": 1500.0}}
    [ok], [low] = evaluate([check], sent), evaluate([check], behind)
    assert (ok.value, ok.passed, ok.measured) == (1990.5, True, "1,990.5")
    assert (low.value, low.passed) == (1500.0, False)
    # A closed-loop result has no offered rate: nothing measured, so the check fails.
    [closed] = evaluate([check], {"totals": {"throughput_rps": 2000.0}})
    assert (closed.value, closed.passed, closed.measured) == (None, False, "nothing measured")


def test_exit_codes() -> None:
    passing = _result([1000], {}, ["errors == 0"])
    assert result_exit_code(passing) == 0
    assert result_exit_code({**passing, "status": "interrupted"}) == 130
    # A failed check is not 0, not 2 (bad input), not 130 (interrupted).
    assert EXIT_CHECK_FAILED not in (0, 1, 2, 130)
    assert combined_exit_code([0, EXIT_CHECK_FAILED, 0]) == EXIT_CHECK_FAILED
    assert combined_exit_code([EXIT_CHECK_FAILED, 130]) == 130


def test_nothing_measured_fails_the_check() -> None:
    [result] = evaluate([parse_check("p99 < 1s")], {"latency_us": {"count": 0}})
    assert result.value is None and not result.passed


def test_percentiles_asked_for_are_recorded_and_reported() -> None:
    from sockbench.report.latency_tables import latency_table

    doc = _result([1000] * 999 + [50_000], {}, [])
    assert set(doc["latency_us"]["percentiles"]) == {"50", "90", "99", "99.9", "99.99"}
    rec = Recorder()
    rec.record(7)
    doc = build_result(Measurement(
        spec=spec_of({"clients": 1, "workers": "1", "percentiles": "50,99.999"}), command="t",
        environment={}, server={}, started_at="", duration_s=1.0, status=RunStatus.COMPLETED,
        tally=Tally(requests=1, bytes_sent=0, bytes_received=0, connections=1, errors={},
                    warmup_errors={}, latency=encode(rec.histogram),
                    connect=encode(Recorder().histogram)),
    ))  # fmt: skip
    assert doc["latency_us"]["percentiles"] == {"50": 7, "99.999": 7}
    assert latency_table(doc).headers == (
        "", "count", "min", "p50", "p99.999", "max", "mean", "stdev"
    )  # fmt: skip


#: Every way to write a latency of ``us`` microseconds.
SPELLINGS = {
    "us": lambda us: f"{us}us",
    "µs": lambda us: f"{us}µs",
    "ms": lambda us: f"{Decimal(us).scaleb(-3)}ms",
    "s": lambda us: f"{Decimal(us).scaleb(-6)}s",
    "bare seconds": lambda us: f"{Decimal(us).scaleb(-6)}",
    "exponent": lambda us: f"{us}e-6",
    "underscores": lambda us: f"{us // 1000}_{us % 1000:03d}us",
}
P99_US = 9159  # a value HdrHistogram holds exactly at 3 digits: the top of its bucket


@functools.cache  # summarize walks every bucket in Python (~70 ms): once per value
def _summary(us: int) -> HistogramSummary:
    rec = Recorder()
    for _ in range(1000):
        rec.record(us)
    return summarize(rec.histogram)


def _latency_doc(us: int) -> dict[str, Any]:
    """A result whose every latency statistic (and connect time) is exactly ``us``."""
    summary = _summary(us)
    latency = {
        "count": summary.count, "min": us, "mean": float(us), "max": us,
        "p99": summary.p99, "histogram": summary.histogram,
    }  # fmt: skip
    assert summary.p50 == summary.p99 == summary.max == us
    return {"latency_us": latency, "connect_us": dict(latency)}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_every_spelling_is_the_same_whole_microseconds(spelling: str) -> None:
    text = SPELLINGS[spelling](P99_US)
    check = parse_check(f"p99 <= {text}")
    assert check.threshold_us == P99_US and isinstance(check.threshold_us, int)
    assert check.threshold == P99_US / 1e6


@pytest.mark.parametrize("spelling", list(SPELLINGS))
@pytest.mark.parametrize("op", list(OPS))
def test_the_boundary_holds_exactly(spelling: str, op: str) -> None:
    """p99 is exactly 9,159 µs: each operator against 9,158, 9,159 and 9,160 µs, in
    every spelling, answers as the same comparison of integers does."""
    doc = _latency_doc(P99_US)
    for threshold in (P99_US - 1, P99_US, P99_US + 1):
        expr = f"p99 {op} {SPELLINGS[spelling](threshold)}"
        [result] = evaluate([parse_check(expr)], doc)
        assert result.passed is OPS[op](P99_US, threshold), expr


def test_p99_at_exactly_its_threshold_passes_in_microseconds() -> None:
    """The reported bug: '<= 9159us' failed where '<= 9.159ms' passed."""
    doc = _latency_doc(P99_US)
    exprs = ["p99 <= 9159us", "p99 <= 9.159ms", "p99 <= 0.009159s", "p99 >= 9159us"]
    assert all(r.passed for r in evaluate([parse_check(e) for e in exprs], doc))
    assert not any(r.passed for r in evaluate([parse_check("p99 < 9159us")], doc))


@pytest.mark.parametrize(
    "metric", ["p50", "p99.9", "latency.p99_99", "min", "mean", "max", "connect.p99", "connect.max"]
)
def test_every_latency_statistic_compares_in_microseconds(metric: str) -> None:
    doc = _latency_doc(P99_US)
    for op, expected in (("<=", True), ("==", True), ("<", False), (">", False)):
        [result] = evaluate([parse_check(f"{metric} {op} 0.009159s")], doc)
        assert result.passed is expected, (metric, op)


def test_one_kind_of_request_is_checked_from_its_own_histogram() -> None:
    latency = _latency_doc(P99_US)["latency_us"]
    doc = {
        "latency_us": {**latency, "p99": 1},  # the whole run's, not read
        "latency_by_kind_us": {"get": latency},
        "totals": {"by_kind": {"get": {"requests": 1000, "throughput_rps": 100.0}}},
    }
    exprs = ["kind.get.p99 <= 9159us", "kind.get.p99 < 9159us", "kind.get.p99.999 <= 9.159ms",
             "kind.get.rps >= 100", "kind.get.errors == 0", "kind.set.p99 < 1s"]  # fmt: skip
    results = evaluate([parse_check(e) for e in exprs], doc)
    assert [r.passed for r in results] == [True, False, True, True, True, False]
    assert results[0].value == 0.009159 and results[-1].measured == "nothing measured"


def test_a_fractional_mean_against_whole_microseconds() -> None:
    doc = _latency_doc(P99_US)
    doc["latency_us"]["mean"] = 9158.5
    checks = ["mean < 9159us", "mean > 9158us", "mean <= 9.158ms"]
    assert [r.passed for r in evaluate([parse_check(c) for c in checks], doc)] == [
        True, True, False
    ]  # fmt: skip


@pytest.mark.parametrize("text", ["0.5us", "9159.5us", "9.1595ms", "0.0091595s", "1e-9", "1ns"])
def test_a_threshold_finer_than_a_microsecond_is_refused(text: str) -> None:
    message = "whole microseconds" if text != "1ns" else "expected a duration"
    with pytest.raises(ConfigError, match=message):
        parse_check(f"p99 < {text}")


def test_the_refusal_is_one_line_naming_both_whole_microseconds() -> None:
    with pytest.raises(ConfigError) as info:
        parse_check("p99 <= 9.1595ms")
    assert str(info.value) == (
        "invalid value for '--check': '9.1595ms' is 9159.5 µs; latencies are whole "
        "microseconds, so write 9159us or 9160us"
    )


def test_a_latency_is_still_reported_in_seconds() -> None:
    [result] = evaluate([parse_check("p99 <= 9159us")], _latency_doc(P99_US))
    assert result.to_json() == {
        "expr": "p99 <= 9159us", "metric": "latency.p99", "value": 0.009159, "unit": "s",
        "measured": "9.16 ms", "passed": True,
    }  # fmt: skip
    assert parse_check("rps >= 10.5k").threshold_us is None


ECHO = ProtocolChoice("echo", ProtocolOptions())


@pytest.mark.parametrize("expr", ["achieved >= 99%", "offered >= 1900"])
def test_an_open_loop_metric_without_rate_is_refused_by_its_name(expr: str) -> None:
    metric = expr.split()[0]
    with pytest.raises(ConfigError, match=f"{metric} is measured in open loop; give --rate"):
        check_thresholds([expr], Proto.TCP, None, ECHO)
    check_thresholds([expr], Proto.TCP, 2000.0, ECHO)


@pytest.mark.parametrize("proto", ["udp", "unix", "unix-dgram"])
def test_the_accept_queue_s_drops_are_refused_where_no_tcp_listener_is(proto: str) -> None:
    with pytest.raises(ConfigError, match="listen_drops is measured over tcp"):
        check_thresholds(["listen_drops == 0"], Proto(proto), None, ECHO)
    check_thresholds(["listen_drops == 0"], Proto.TCP, None, ECHO)
    [result] = evaluate([parse_check("listen_drops == 0")], {"accept_queue": {"drops": 3}})
    assert (result.value, result.passed) == (3.0, False)


def _protocol(name: str, **options: Any) -> ProtocolChoice:
    return ProtocolChoice(name, ProtocolOptions(**options))


@pytest.mark.parametrize(
    ("protocol", "expr", "message"),
    [
        (ECHO, "kind.get.p99 < 1ms", "--protocol echo has one kind of request.*check p99 of"),
        (_protocol("line"), "kind.get.rps >= 1", "--protocol line has one kind of request"),
        (
            _protocol("redis"),
            "kind.gett.p99 < 1ms",
            "no kind of request 'gett'; its kinds are set, get",
        ),
        (_protocol("redis"), "KIND.GET.p99 < 1ms", "no kind of request 'GET'"),  # kinds keep case
        (_protocol("http"), "kind.get.p99 < 1ms", "its kinds are 2xx, 3xx, 4xx, 5xx, unanswered"),
        (ECHO, "hits > 0", "--protocol echo counts no hits or misses"),
        (ECHO, "misses == 0", "--protocol echo counts no hits or misses"),
        (_protocol("http"), "hits > 0", "--protocol http counts no hits or misses"),
        (_protocol("redis", commands=("GET __key__",)), "misses == 0", "counts no hits"),
        (_protocol("redis"), "kind.set.hits > 0", "set requests read no keys.*get requests do"),
    ],
)
def test_a_check_of_what_the_protocol_does_not_record_is_refused(
    protocol: ProtocolChoice, expr: str, message: str
) -> None:
    """Accepted, these ran the load and failed as 'nothing measured' (exit 3)."""
    with pytest.raises(ConfigError, match=message) as refused:
        check_thresholds([expr], Proto.TCP, None, protocol)
    assert str(refused.value).startswith(f"--check {expr!r}: ")


@pytest.mark.parametrize(
    ("protocol", "expr"),
    [
        (_protocol("redis"), "kind.get.p99 < 1ms"),
        (_protocol("redis"), "kind.set.errors == 0"),
        (_protocol("redis"), "hits > 0"),
        (_protocol("redis"), "kind.get.misses == 0"),
        (_protocol("memcache", multi_key=3), "kind.get.hits >= 1"),
        (_protocol("redis", commands=("GET __key__", "SET __key__ __data__")), "kind.set.rps > 1"),
        (_protocol("http"), "kind.2xx.rps >= 1"),
        (ECHO, "p99 < 1ms"),
    ],
)
def test_a_check_of_what_the_protocol_records_is_accepted(
    protocol: ProtocolChoice, expr: str
) -> None:
    check_thresholds([expr], Proto.TCP, None, protocol)


def test_a_plugin_s_kinds_are_checked_once_it_is_built() -> None:
    """Before it is built (the option layer's edge imports it) a plugin's kinds are not
    known, and the check waits; once built, a kind it lacks is refused."""
    plugin = _protocol("examples/kv_plugin.py:KeyValue")
    check_thresholds(["kind.get.p99 < 1ms"], Proto.TCP, None, plugin)
    assert plugin.known() is None
    plugin.adapter()
    with pytest.raises(ConfigError, match="no kind of request 'get'; its kinds are put, fetch"):
        check_thresholds(["kind.get.p99 < 1ms"], Proto.TCP, None, plugin)
    check_thresholds(["kind.fetch.p99 < 1ms"], Proto.TCP, None, plugin)


@pytest.mark.parametrize("expr", ["p99 < 0ms", "errors < 0", "rps < 0", "loss < 0%", "max < 0us"])
def test_a_threshold_no_value_can_meet_is_refused(expr: str) -> None:
    with pytest.raises(ConfigError, match="no measured value is below 0, so the check could never"):
        parse_check(expr)


@pytest.mark.parametrize("expr", ["errors <= 0", "errors == 0", "p99 > 0ms", "errors >= 0"])
def test_a_zero_threshold_some_value_meets_is_accepted(expr: str) -> None:
    assert parse_check(expr).threshold == 0
