"""The metric registry and the typed result (pure): each metric once, read the same by all."""

from __future__ import annotations

from typing import Any

import pytest

from sockbench.core.document import Result
from sockbench.core.metrics import (
    BY_NAME,
    REGISTRY,
    Better,
    Noise,
    View,
    get,
    in_view,
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
        "throughput_rps", "requests", "offered_rps", "errors",
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
    ],
)
def test_lookup(name: str, canonical: str, unit: str, percentile: float | None) -> None:
    found = metric(name)
    assert (found.name, found.check_unit, found.percentile) == (canonical, unit, percentile)
    assert View.CHECK in found.views


@pytest.mark.parametrize("name", ["speed", "errors.", "connect.rps", "latency.errors"])
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
