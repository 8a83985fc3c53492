"""The sweep document and its report, from made-up rows (pure: no run, no browser)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from sockbench.core.schemas import SWEEP_SCHEMA
from sockbench.core.search import CapacitySearch, Judgement, Phase, Verdict
from sockbench.core.spec.capacity import own_values, parse_search, parse_sweep
from sockbench.core.spec.commands import options_for
from sockbench.core.spec.formats import SweepFormat
from sockbench.core.sweep import (
    ROW_METRICS,
    Curve,
    StepRecord,
    row_of,
    search_json,
    sweep_document,
)
from sockbench.report.files import to_json
from sockbench.report.sweep import render, winner
from tests.support.schema import validate_sweep

pytestmark = pytest.mark.unit


def _row(rps: float, p99: int) -> dict[str, float | None]:
    return {
        "offered": rps, "rps": rps, "achieved": 1.0, "latency.p50": p99 // 4,
        "latency.p90": p99 // 2, "latency.p99": p99, "latency.p99.9": p99 * 2,
        "latency.max": p99 * 3, "errors": 0, "server.cpu": 50.0, "generator.busy": 20.0,
    }  # fmt: skip


def _search_doc() -> dict[str, Any]:
    search = CapacitySearch(200)
    steps = []
    for rate, p99, verdict in [(200, 6000, "pass"), (400, 6100, "pass"), (800, 75000, "fail"),
                               (600, 7000, "pass"), (700, 9000, "pass"), (750, 60000, "fail"),
                               (725, 9500, "pass"), (725, 9400, "pass")]:  # fmt: skip
        reasons = ("p99 < 20ms (measured 75 ms)",) if verdict == "fail" else ()
        judgement = Judgement(Verdict(verdict), reasons)
        assert search.next_rate() == rate
        phase = search.phase
        search.record(rate, judgement)
        steps.append(StepRecord(rate, f"{len(steps) + 1:02d}-x", "completed", judgement,
                                _row(rate, p99), phase))  # fmt: skip
    assert search.next_rate() is None
    settings = {"rate_min": 200, "rate_max": None, "precision": 0.05}
    curve = Curve("slow tcp 64 B 4 clients", {"server_model": "slow", "clients": 4}, steps,
                  search_json(search.outcome(), settings))  # fmt: skip
    return _document([curve])


def _document(curves: list[Curve]) -> dict[str, Any]:
    return validate_sweep(json.loads(to_json(sweep_document(
        kind="search", command="sockbench search ...", started_at="2026-12-06T08:00:00Z",
        elapsed_s=21.5, status="completed", slos=["p99 < 20ms"], curves=curves,
    ))))  # fmt: skip


def test_the_document_is_versioned_and_keeps_every_step() -> None:
    doc = _search_doc()
    assert doc["schema"] == SWEEP_SCHEMA and doc["columns"] == list(ROW_METRICS)
    [curve] = doc["curves"]
    assert [s["phase"] for s in curve["steps"]][:3] == [Phase.RAMP] * 3
    assert curve["steps"][-1]["phase"] == Phase.CONFIRM
    assert curve["search"]["found"] == "capacity" and curve["search"]["capacity_rps"] == 725
    assert curve["search"]["confirmed"] is True


def test_the_text_report_gives_the_answer_and_a_row_per_step() -> None:
    text = render(_search_doc(), SweepFormat.TABLE)
    assert "slow tcp 64 B 4 clients  725 req/s" in text and "725 – 750" in text
    assert "agreed" in text and "winner" not in text
    assert "p99 < 20ms, achieved >= 99%" in text
    assert "note: step 3: p99 < 20ms (measured 75 ms)" in text
    assert text.count("\n   ") >= 8  # the step rows, right-aligned


def test_a_target_unusable_at_the_lowest_rate_claims_no_capacity() -> None:
    """An echo server asked for memcache: every reply a mismatch, its run degraded."""
    search = CapacitySearch(1000, rate_max=4000)
    reason = "the target answered nothing usable: status degraded, 1,000 errors (mismatch 1,000)"
    judgement = Judgement(Verdict.UNUSABLE, (reason,))
    search.record(1000, judgement)
    row = {**_row(0, 0), "offered": 1000, "errors": 1000}
    step = StepRecord(1000, "01-1000rps", "degraded", judgement, row, Phase.RAMP)
    settings = {"rate_min": 1000, "rate_max": 4000, "precision": 0.5}
    curve = Curve("tcp://127.0.0.1:1 tcp 64 B 1 client", {}, [step],
                  search_json(search.outcome(), settings))  # fmt: skip
    doc = validate_sweep(json.loads(to_json(sweep_document(
        kind="search", command="sockbench search ...", started_at="2026-12-06T08:00:00Z",
        elapsed_s=1.0, status="degraded", slos=["p99 < 5ms"], curves=[curve],
    ))))  # fmt: skip
    assert doc["curves"][0]["search"]["found"] == "unusable"
    text = render(doc, SweepFormat.TABLE)
    assert "< 1,000" not in text and "below --rate-min" not in text
    assert "none claimed" in text and "the target, unusable at the lowest rate tried" in text
    assert f"note: step 1: {reason}" in text and "status     degraded" in text


def test_csv_is_raw_numbers_by_registry_name() -> None:
    rows = list(csv.DictReader(io.StringIO(render(_search_doc(), SweepFormat.CSV))))
    assert len(rows) == 8 and rows[2]["verdict"] == "fail"
    assert rows[0]["workload"] == "slow tcp 64 B 4 clients"
    assert float(rows[2]["latency.p99"]) == 75000 and rows[0]["phase"] == "ramp"


def test_markdown_and_html_carry_the_same_answer_and_the_chart() -> None:
    doc = _search_doc()
    assert "| slow tcp 64 B 4 clients | 725 req/s |" in render(doc, SweepFormat.MD)
    page = render(doc, SweepFormat.HTML)
    assert page.startswith("<!DOCTYPE html>") and 'data-chart="latency-load"' in page
    assert "<script" not in page  # offline and inert, as every report


def test_a_row_reads_the_registry_from_a_result() -> None:
    result = {
        "totals": {"offered_rps": 1000.0, "throughput_rps": 990.0, "achieved_ratio": 0.99,
                   "errors": {"timeout": 2}},
        "latency_us": {"count": 10, "p50": 100, "p99": 900, "max": 1000},
        "server_resources": {"cpu_percent_mean": 40.0},
        "generator": {"cpu_percent_mean": 99.0, "loop_busy_percent": 12.5},
    }  # fmt: skip
    row = row_of(result)
    assert row["offered"] == 1000.0 and row["rps"] == 990.0 and row["errors"] == 2
    assert row["latency.p99"] == 900 and row["generator.busy"] == 12.5
    assert row["latency.p99.9"] is None  # no histogram to read it from


def test_sweep_and_search_take_the_run_options_but_those_the_rates_decide() -> None:
    run = {o.flag for o in options_for("run")}
    for command in ("sweep", "search"):
        flags = {o.flag for o in options_for(command)}
        assert {"--clients", "--duration", "--server", "--target", "--out"} <= flags
        assert "--check" not in flags and "--json" not in flags and "--requests" not in flags
        assert {"--slo", "--keep-server", "--format"} <= flags
        assert flags - run >= {"--slo", "--keep-server"}
    assert "--rate" in {o.flag for o in options_for("sweep")}
    assert "--rate" not in {o.flag for o in options_for("search")}


def test_own_values_are_split_from_the_run_s() -> None:
    values = {"rates": "1k,2k", "clients": "4", "slos": ("p99 < 1ms",), "duration_s": "1"}
    own = own_values("sweep", values)
    assert own == {"rates": "1k,2k", "slos": ("p99 < 1ms",)}
    spec = parse_sweep(own)
    assert spec.sweep.rates == (1000.0, 2000.0) and spec.sweep.stop_after_fail == 2
    search = parse_search({"slos": ("p99 < 1ms",), "precision": "2%"})
    assert search.search.precision == pytest.approx(0.02) and search.search.confirm


def _searched(label: str, low: float, high: float, found: str = "capacity") -> Curve:
    search = {
        "found": found, "capacity_rps": low, "highest_pass_rps": low, "lowest_fail_rps": high,
        "lowest_invalid_rps": None, "confirmed": True, "precision": 0.05, "rate_min": 100,
        "rate_max": None,
    }  # fmt: skip
    step = StepRecord(low, "", "completed", Judgement(Verdict.PASS), _row(low, 1000))
    return Curve(label, {}, (step,), search)


def test_a_winner_only_when_its_bracket_is_above_every_other() -> None:
    apart = _document([_searched("a", 1000, 1050), _searched("b", 2000, 2100)])
    assert winner(apart["curves"]) == 1
    assert "* the winner" in render(apart, SweepFormat.TABLE)
    overlapping = _document([_searched("a", 1000, 1100), _searched("b", 1050, 1150)])
    assert winner(overlapping["curves"]) is None
    assert "no winner: the brackets come within" in render(overlapping, SweepFormat.TABLE)
    # A curve with no upper bound (the generator stopped it) could be above anything.
    unbounded = _document(
        [_searched("a", 1000, 1050, "generator_limited"), _searched("b", 2000, 2100)]
    )
    assert winner(unbounded["curves"]) is None


def test_server_cpu_per_request_at_the_capacity() -> None:
    """50 % of a core at 1,000 req/s: 500 µs of CPU a request."""
    doc = _document([_searched("a", 1000, 1050)])
    assert "500.0" in render(doc, SweepFormat.TABLE)


def test_a_repeat_that_disagreed_lowers_its_bracket() -> None:
    """b passed 2,000 then failed its repeat there: its bracket starts at its pass below
    (1,000), which no longer lies above a's 1,050."""
    b = _searched("b", 2000, 2100)
    b = Curve(b.label, {}, (
        StepRecord(1000, "", "completed", Judgement(Verdict.PASS), _row(1000, 1)),
        StepRecord(2000, "", "completed", Judgement(Verdict.PASS), _row(2000, 1)),
        StepRecord(2000, "", "completed", Judgement(Verdict.FAIL), _row(2000, 1)),
    ), {**(b.search or {}), "confirmed": False})  # fmt: skip
    doc = _document([_searched("a", 1000, 1050), b])
    assert winner(doc["curves"]) is None
    assert "DISAGREED" in render(doc, SweepFormat.TABLE)


def test_brackets_closer_than_the_precision_name_no_winner() -> None:
    """b's pass (1,060) is above a's fail (1,050), but by less than one 5 % step."""
    close = _document([_searched("a", 1000, 1050), _searched("b", 1060, 1100)])
    assert winner(close["curves"]) is None
    clear = _document([_searched("a", 1000, 1050), _searched("b", 1110, 1150)])
    assert winner(clear["curves"]) == 1
