"""Significance on synthetic repeat sets with a known answer, and who may be called best."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sockbench.core import significance
from sockbench.report import render
from sockbench.report.document import cells
from sockbench.report.verdicts import P99, REQ_S, decide

CLEARLY_FASTER = ([1000.0, 1010.0, 990.0, 1005.0, 995.0], [1300.0, 1310.0, 1290.0, 1305.0, 1295.0])
OVERLAPPING = ([1000.0, 1100.0, 950.0, 1050.0, 980.0], [1020.0, 960.0, 1080.0, 1000.0, 1040.0])


def test_clearly_different_samples_are_significant() -> None:
    a, b = CLEARLY_FASTER
    verdict = significance.compare(a, b)
    assert verdict is not None and verdict.significant is True
    assert verdict.ratio == pytest.approx(1.3, rel=0.01)
    assert 1.0 < verdict.low <= verdict.ratio <= verdict.high


def test_overlapping_samples_are_not_significant() -> None:
    a, b = OVERLAPPING
    verdict = significance.compare(a, b)
    assert verdict is not None and verdict.significant is False
    assert verdict.low < 1.0 < verdict.high


def test_three_repeats_that_interleave_are_not_significant() -> None:
    verdict = significance.compare([100.0, 103.0, 106.0], [101.0, 104.0, 107.0])
    assert verdict is not None and verdict.significant is False


def test_three_repeats_far_apart_are_significant() -> None:
    verdict = significance.compare([100.0, 101.0, 102.0], [150.0, 151.0, 152.0])
    assert verdict is not None and verdict.significant is True


def test_too_few_samples_give_a_ratio_but_no_verdict() -> None:
    verdict = significance.compare([100.0, 102.0], [200.0, 201.0])
    assert verdict is not None and verdict.significant is None
    assert verdict.ratio == pytest.approx(401 / 202)
    assert significance.compare([], [1.0]) is None


def test_the_same_numbers_give_the_same_interval() -> None:
    assert significance.mean_interval([1.0, 2.0, 4.0]) == significance.mean_interval(
        [1.0, 2.0, 4.0]
    )
    interval = significance.mean_interval([1.0, 2.0, 4.0])
    assert interval is not None and interval.low <= interval.mean <= interval.high


def with_repeats(doc: dict[str, Any], values: dict[str, list[float]]) -> dict[str, Any]:
    """The compare fixture's tcp/10-client cells, as repeats with the given req/s per model
    (p99 moves the other way, so a faster model also has the lower p99)."""
    base = {
        r["cell"]["model"]: r
        for r in cells(doc)
        if r["cell"]["proto"] == "tcp" and r["cell"]["clients"] == 10
    }
    out = []
    for model, rps_values in values.items():
        for i, rps in enumerate(rps_values, start=1):
            r = copy.deepcopy(base[model])
            r["cell"]["repeat"] = i
            r["totals"]["throughput_rps"] = rps
            r["latency_us"]["p99"] = round(1e9 / rps / 1000)
            r["generator"] = {**(r.get("generator") or {}), "saturated": False}
            out.append(r)
    return {**doc, "cells": out}


def test_best_only_when_significant(compare_doc: dict[str, Any]) -> None:
    a, b = CLEARLY_FASTER
    doc = with_repeats(compare_doc, {"asyncio": a, "threaded": b, "trio": a})
    grouped = {
        m: [r for r in cells(doc) if r["cell"]["model"] == m]
        for m in ("asyncio", "threaded", "trio")
    }
    outcome = decide(grouped, REQ_S)
    assert (outcome.leader, outcome.significant) == ("threaded", True)
    assert decide(grouped, P99).leader == "threaded"
    md = render(doc, "md")
    significance_table = md.split("## Significance")[1]
    assert "best req/s (1.30× vs " in significance_table
    assert "**" in significance_table

    a, b = OVERLAPPING
    doc = with_repeats(compare_doc, {"asyncio": a, "threaded": b})
    md = render(doc, "md").split("## Significance")[1].split("## ")[0]
    assert "req/s not significant" in md and "best req/s" not in md
    table = md.split("\n\n")[1]
    assert "**" not in table


def test_a_saturated_cell_is_never_best(compare_doc: dict[str, Any]) -> None:
    a, b = CLEARLY_FASTER
    doc = with_repeats(compare_doc, {"asyncio": a, "threaded": b, "trio": [x * 0.9 for x in a]})
    for r in cells(doc):
        if r["cell"]["model"] == "threaded" and r["cell"]["repeat"] == 2:
            r["generator"]["saturated"] = True
    grouped = {
        m: [r for r in cells(doc) if r["cell"]["model"] == m]
        for m in ("asyncio", "threaded", "trio")
    }
    outcome = decide(grouped, REQ_S)
    assert outcome.leader == "asyncio" and outcome.significant is True
    for fmt in ("text", "md", "html"):
        page = render(doc, fmt)
        assert "SATURATED: not ranked" in page
    md = render(doc, "md")
    marked = [line for line in md.splitlines() if "SATURATED" in line and line.startswith("|")]
    assert len(marked) == 2  # its summary row and its significance row
    assert all("**" not in line for line in marked)


def test_fewer_than_three_repeats_claim_nothing(compare_doc: dict[str, Any]) -> None:
    doc = with_repeats(compare_doc, {"asyncio": [1000.0, 1001.0], "threaded": [3000.0, 3001.0]})
    md = render(doc, "md")
    assert "2 repeats are too few to tell a difference from noise" in md
    assert "too few repeats" in md.split("## Significance")[1]
    assert "best req/s" not in md
