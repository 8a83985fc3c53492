"""The metric registry and the typed result (pure): each metric once, read the same by all."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.core.document import Result
from sockbench.core.histogram import Recorder, summarize
from sockbench.core.metrics import (
    BY_NAME,
    KIND_METRICS,
    REGISTRY,
    Better,
    Noise,
    View,
    get,
    in_view,
    kind_metric_names,
    kind_metrics,
    lookup,
    metric,
)


def test_names_aliases_and_keys_are_unique() -> None:
    names = [n for m in REGISTRY for n in (m.name, *m.aliases)]
    assert len(names) == len(set(names)) == len(BY_NAME)
    keys = [m.key for m in REGISTRY]
    assert len(keys) == len(set(keys))
    columns = [m.csv for m in REGISTRY if m.csv]
    assert len(columns) == len(set(columns))


@pytest.mark.parametrize("view", [View.VERDICT, View.DIFF])
def test_what_is_ranked_has_a_direction_and_a_ratio_test(view: View) -> None:
    # A ratio test works on logarithms: a metric that is often 0 gets none.
    for m in in_view(view):
        assert m.better is not None and m.noise is Noise.NOISY, m.name


def test_csv_metrics_name_their_column() -> None:
    assert all(m.csv for m in in_view(View.CSV))


def test_views_in_registry_order() -> None:
    def titles(view: View) -> tuple[str, ...]:
        return tuple(m.title for m in in_view(view))

    assert titles(View.VERDICT) == ("req/s", "p99")
    assert titles(View.DIFF) == ("req/s", "offered req/s", "p50", "p99", "p99.9")
    assert [m.csv for m in in_view(View.CSV)] == [
        "throughput_rps", "requests", "offered_rps", "errors", "datagrams_unsolicited",
        "datagrams_generator_drops", "datagrams_target_drops", "accept_queue_drops",
    ]  # fmt: skip
    assert [m.key for m in in_view(View.REPEATS)] == [
        "throughput_rps", "p50_us", "p99_us", "p99_9_us", "errors",
    ]  # fmt: skip
    assert titles(View.SUMMARY) == (
        "req/s", "p50", "p99", "p99.9", "max", "errors", "lost", "server CPU %", "RSS MiB",
        "threads",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "canonical", "unit", "percentile"),
    [
        ("p99", "latency.p99", "s", 99.0),
        ("P99.9", "latency.p99.9", "s", 99.9),
        ("latency.p99_9", "latency.p99.9", "s", 99.9),
        ("p99.999", "latency.p99.999", "s", 99.999),
        ("connect.p99", "connect.p99", "s", 99.0),
        ("max", "latency.max", "s", None),
        ("connect.mean", "connect.mean", "s", None),
        ("rps", "rps", "", None),
        ("requests", "requests", "", None),
        ("errors", "errors", "", None),
        ("errors.timeout", "errors.timeout", "", None),
        ("loss", "loss", "ratio", None),
        ("achieved", "achieved", "ratio", None),
        ("offered", "offered", "", None),
        ("kind.get.p99", "kind.get.p99", "s", 99.0),
        ("kind.get.latency.p99_9", "kind.get.p99.9", "s", 99.9),
        ("KIND.Get.P99.999", "kind.Get.p99.999", "s", 99.999),
        ("kind.set.mean", "kind.set.mean", "s", None),
        ("kind.set.rps", "kind.set.rps", "", None),
        ("kind.set.requests", "kind.set.requests", "", None),
        ("kind.set.errors", "kind.set.errors", "", None),
    ],
)
def test_lookup(name: str, canonical: str, unit: str, percentile: float | None) -> None:
    found = metric(name)
    assert (found.name, found.check_unit, found.percentile) == (canonical, unit, percentile)
    assert View.CHECK in found.views


@pytest.mark.parametrize(
    "name",
    [
        "speed", "errors.", "connect.rps", "latency.errors", "kind.get", "kind..p99", "kind.p99",
        "kind.get.offered", "kind.get.connect.p99", "kind.get.errors.timeout", "kind.a.kind.b.rps",
    ],
)  # fmt: skip
def test_unknown_names(name: str) -> None:
    assert lookup(name) is None


def test_stored_percentiles_are_the_registry_entries() -> None:
    assert metric("p99") is metric("latency.p99") is BY_NAME["p99"]
    assert metric("p99").value({"latency_us": {"p99": 812}}) == 812


DOC: dict[str, Any] = {
    "status": "degraded",
    "totals": {
        "throughput_rps": 770.5,
        "requested_rps": 2000,
        "offered_rps": 1990.0,
        "achieved_ratio": 0.385,
        "requests": 800,
        "errors": {"timeout": 3, "lost": 2},
    },
    "latency_us": {"count": 800, "p50": 90, "p99": 812, "p99_9": 900, "max": 1000},
    "datagrams": {"sent": 1000, "received": 990, "lost": 5, "in_flight": 5},
    "generator": {"saturated": True},
}


def test_result_reads_through_the_registry() -> None:
    r = Result(DOC)
    assert (r.served_rps, r.offered_rps, r.requested_rps, r.achieved_ratio) == (
        770.5, 1990.0, 2000, 0.385,
    )  # fmt: skip
    assert (r.status, r.completed, r.saturated) == ("degraded", False, True)
    assert (r.error_total, dict(r.errors)) == (5, {"timeout": 3, "lost": 2})
    assert r.metric("p99") == 812 and r.metric("errors.timeout") == 3
    assert r.metric("loss") == pytest.approx(5 / 995)


def test_an_empty_result_reads_as_none_not_as_an_error() -> None:
    r = Result({})
    assert (r.served_rps, r.status, r.saturated, r.error_total) == (None, None, False, 0)
    assert r.completed  # a document that does not say ran to its end
    assert r.metric("p99") is None and r.metric("loss") is None
    with pytest.raises(KeyError):
        r.metric("speed")


def test_get_walks_a_path() -> None:
    assert get(DOC, "totals", "errors", "timeout") == 3
    assert get(DOC, "totals", "nothing", "deeper") is None
    assert get({"a": None}, "a", "b") is None


def test_directions() -> None:
    assert metric("rps").better is Better.HIGHER and metric("p99").better is Better.LOWER
    assert metric("server.threads").noise is Noise.STEADY
    assert View.CHECK not in metric("lost").views  # shown, not a --check metric


def test_offered_is_one_entry() -> None:
    """The open-loop sent rate: read by --check, shown by diff, a CSV column; --rate only."""
    offered = metric("offered")
    assert offered.path == ("totals", "offered_rps") and offered.open_loop
    assert offered.views == {View.CHECK, View.DIFF, View.CSV}
    assert offered.value(DOC) == 1990.0 and offered.value({"totals": {}}) is None


def _summary(*values: int) -> dict[str, Any]:
    rec = Recorder()
    for v in values:
        rec.record(v)
    return summarize(rec.histogram).to_json()


SET = _summary(*range(100, 1600, 15))  # 100 requests
KINDS: dict[str, Any] = {
    "totals": {
        "throughput_rps": 4000.0,
        "by_kind": {
            "set": {"requests": 100, "throughput_rps": 400.5, "errors": {"timeout": 2, "reset": 1}},
            "get": {"requests": 0, "throughput_rps": 0.0, "errors": {}},
        },
    },
    "latency_us": _summary(5, 6, 7),
    "latency_by_kind_us": {"set": SET, "get": _summary()},
}


def test_a_kind_of_request_is_its_metric_where_the_result_keeps_that_kind() -> None:
    """kind.KIND.NAME: NAME's entry (rps, requests, errors, a latency), moved under
    totals.by_kind.KIND and latency_by_kind_us.KIND; read as stored, like its base."""
    rps, p99 = metric("kind.set.rps"), metric("kind.set.p99")
    assert rps.path == ("totals", "by_kind", "set", "throughput_rps")
    assert p99.path == ("latency_by_kind_us", "set", "p99")
    assert p99.histogram == ("latency_by_kind_us", "set")
    assert (rps.unit, rps.better, rps.fmt, rps.noise) == (
        metric("rps").unit, metric("rps").better, metric("rps").fmt, metric("rps").noise,
    )  # fmt: skip
    values = {name: metric(f"kind.set.{name}").value(KINDS) for name in KIND_METRICS}
    assert values == {
        "requests": 100, "rps": 400.5, "errors": 3, "p50": SET["p50"], "p90": SET["p90"],
        "p99": SET["p99"], "p99.9": SET["p99_9"], "max": SET["max"], "mean": SET["mean"],
    }  # fmt: skip
    assert SET["p50"] != KINDS["latency_us"]["p50"]
    # One the summary does not store is read from the kind's histogram.
    assert metric("kind.set.p99.999").value(KINDS) == metric("kind.set.max").value(KINDS)
    # A kind that served nothing reads as its summary stores it; one not there as None
    # (but errors: none counted, like the whole run's).
    assert metric("kind.get.p90").value(KINDS) == 0 and metric("kind.get.errors").value(KINDS) == 0
    assert metric("kind.get.p99.999").value(KINDS) is None
    assert metric("kind.del.rps").value(KINDS) is None
    assert metric("kind.del.p99").value(KINDS) is None


def test_each_kind_names_its_columns_after_its_base() -> None:
    got = [(m.name, m.title, m.csv) for m in kind_metrics("get")]
    assert got == [
        ("kind.get.requests", "get requests", "get_requests"),
        ("kind.get.rps", "get req/s", "get_throughput_rps"),
        ("kind.get.errors", "get errors", "get_errors"),
        ("kind.get.p50", "get p50", "get_p50_us"),
        ("kind.get.p90", "get p90", "get_p90_us"),
        ("kind.get.p99", "get p99", "get_p99_us"),
        ("kind.get.p99.9", "get p99.9", "get_p99_9_us"),
        ("kind.get.max", "get max", "get_max_us"),
        ("kind.get.mean", "get mean", "get_mean_us"),
    ]
    assert all(m.views == {View.CHECK, View.CSV} for m in kind_metrics("get"))
    assert not any(m.name.startswith("kind.") for m in REGISTRY)  # built on lookup only


def test_which_entries_have_a_part_per_kind_of_request() -> None:
    assert [m.name for m in REGISTRY if m.request_kinds] == [
        "rps", "requests", "latency.p50", "latency.p99", "latency.p99.9", "latency.max", "errors",
        "hits", "misses",
    ]  # fmt: skip
    assert metric("p90").request_kinds and not metric("connect.p99").request_kinds


def test_hits_and_misses_are_read_per_kind_and_shown_only_where_counted() -> None:
    """A kind that reads keys (GET) keeps ``hits``/``misses``; the reports add their
    columns only for results that counted them, and a SET's read as absent."""
    doc = {
        "totals": {
            "hits": 7, "misses": 3,
            "by_kind": {"set": {"requests": 4}, "get": {"requests": 10, "hits": 7, "misses": 3}},
        },
    }  # fmt: skip
    assert metric("hits").value(doc) == 7 and metric("misses").value(doc) == 3
    assert metric("kind.get.hits").value(doc) == 7 and metric("kind.get.misses").value(doc) == 3
    assert metric("kind.set.hits").value(doc) is None
    assert metric("kind.get.misses").csv == "get_misses"
    assert kind_metric_names([doc]) == (*KIND_METRICS, "hits", "misses")
    assert kind_metric_names([KINDS]) == KIND_METRICS


ROW: dict[str, Any] = {
    "t": 2.0, "requests": 812, "errors": 3, "rps": 812.0, "p50": 90, "p99": 700, "max": 950,
    "hits": 690, "misses": 10, "offered": 820, "offered_rps": 820.0, "send_lag_p99": 40,
    "scheduler_lag_p99": 12,
    "by_kind": {"get": {"requests": 700, "rps": 700.0, "p99": 650, "hits": 690, "misses": 10}},
}  # fmt: skip


def test_the_time_series_are_registry_metrics_read_from_each_row() -> None:
    """An interval row keeps rps, requests, errors, p50, p99 and max under the keys the
    entries name, hits and misses where keys are read, and in open loop the offered rate and
    the lags' p99s; a kind of request's row part,
    its requests, rps and p99 (and a GET's hits and misses)."""
    assert {m.name: m.per_interval(ROW) for m in REGISTRY if m.interval} == {
        "rps": 812.0, "requests": 812, "errors": 3, "latency.p50": 90, "latency.p99": 700,
        "latency.max": 950, "offered": 820.0, "send_lag.p99": 40, "scheduler_lag.p99": 12,
        "hits": 690, "misses": 10,
    }  # fmt: skip
    assert metric("kind.get.hits").per_interval(ROW) == 690
    assert metric("kind.get.rps").per_interval(ROW) == 700.0
    assert metric("kind.get.p99").per_interval(ROW) == 650
    assert metric("kind.get.p50").per_interval(ROW) is None  # a kind's part keeps no p50
    assert metric("kind.set.rps").per_interval(ROW) is None
    # Rows keep no p99.9, no error kinds, no connect times.
    for name in ("p99.9", "errors.timeout", "connect.p99", "p90"):
        assert metric(name).per_interval(ROW) is None, name
