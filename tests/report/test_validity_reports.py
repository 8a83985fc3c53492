"""What the reports, compare's verdicts and diff make of a result's validity
(docs/validity.md): the verdict line, each percentile's ±, a not-valid cell never best,
and diff saying when a side is not valid."""

from __future__ import annotations

import copy
import json
from typing import Any

from sockbench.core.validity import assess
from sockbench.report import render
from sockbench.report.diff import render as render_diff
from sockbench.report.document import cells
from sockbench.report.verdicts import REQ_S, decide
from tests.report.test_diff import runs
from tests.report.test_significance import CLEARLY_FASTER, with_repeats

TREND = {
    "verdict": "not valid",
    "reasons": [{"test": "stationarity", "text": "p99 rose 25% over the window"}],
    "notes": [],
    "percentiles": {},
}


def _judged(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["validity"] = assess(doc).to_json()
    return doc


def test_a_run_report_shows_the_verdict_and_each_percentiles_interval(
    tcp_doc: dict[str, Any],
) -> None:
    doc = _judged(tcp_doc)
    p99 = doc["validity"]["percentiles"]["99"]
    assert p99["low"] <= p99["value"] <= p99["high"]
    for fmt in ("text", "md"):
        page = render(doc, fmt)
        assert "validity" in page and "valid" in page
        assert "±" in page.split("Latency")[1].split("Resources")[0]
        assert "95 % interval" in page
    # A result from before validity renders as it did.
    older = {k: v for k, v in tcp_doc.items() if k != "validity"}
    assert "±" not in render(older, "text") and "validity" not in render(older, "text")


def test_a_not_valid_cell_is_never_best(compare_doc: dict[str, Any]) -> None:
    a, b = CLEARLY_FASTER
    doc = with_repeats(compare_doc, {"asyncio": a, "threaded": b, "trio": [x * 0.9 for x in a]})
    for r in cells(doc):
        if r["cell"]["model"] == "threaded" and r["cell"]["repeat"] == 1:
            r["validity"] = TREND
    grouped = {
        m: [r for r in cells(doc) if r["cell"]["model"] == m]
        for m in ("asyncio", "threaded", "trio")
    }
    outcome = decide(grouped, REQ_S)
    assert outcome.leader == "asyncio"
    md = render(doc, "md")
    assert "NOT VALID: not ranked" in md
    marked = [line for line in md.splitlines() if "NOT VALID" in line and line.startswith("|")]
    assert len(marked) == 2 and all("**" not in line for line in marked)


def test_diff_says_when_a_side_is_not_valid(tcp_doc: dict[str, Any]) -> None:
    a, b = runs(tcp_doc, [60_000, 61_000]), runs(tcp_doc, [72_000, 71_000])
    assert "not valid" not in render_diff(a, b, ("a", "b"), "text")
    b[1]["validity"] = TREND
    text = render_diff(a, b, ("a", "b"), "text")
    assert "B is not valid: 1 of 2 runs (not valid: p99 rose 25% over the window)" in text
    assert "A is not valid" not in text
    found = json.loads(render_diff(a, b, ("a", "b"), "json"))["validity"]
    assert found["b"] == {
        "runs": 2,
        "not_valid": 1,
        "verdicts": ["not valid: p99 rose 25% over the window"],
    }
    assert found["a"]["not_valid"] == 0


def test_correlated_intervals_are_said_under_the_latency_table(tcp_doc: dict[str, Any]) -> None:
    doc = _judged(tcp_doc)
    doc["validity"]["notes"] = ["intervals are correlated (lag-1 autocorrelation rps 0.62)"]
    latency = render(doc, "text").split("Latency")[1].split("Resources")[0]
    assert "intervals are correlated" in latency
    doc["validity"].update(verdict="unknown", notes=["not enough intervals: 3 of the 8"])
    page = render(doc, "text")
    assert page.count("not enough intervals") == 1  # on the verdict line only
