"""The committed sweep folders re-render byte for byte from their sweep.json, as compare
folders do: a change to the report shows up here, not silently in results/."""

from __future__ import annotations

from pathlib import Path

import pytest

from sockbench.report import load, render
from sockbench.report.sweep import chart_svg
from tests.support.schema import validate_sweep

pytestmark = pytest.mark.slow  # renders HTML with charts: make unit skips it

RESULTS = Path(__file__).resolve().parents[2] / "results"
FOLDERS = sorted(p.parent for p in RESULTS.glob("*/sweep.json"))


def test_there_are_committed_sweeps() -> None:
    assert {f.name for f in FOLDERS} >= {"capacity-models", "capacity-models-1ms"}


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_committed_sweeps_re_render(folder: Path) -> None:
    doc = validate_sweep(load(folder))
    for fmt, name in (("md", "report.md"), ("csv", "summary.csv"), ("html", "report.html")):
        assert render(doc, fmt) == (folder / name).read_text(), name
    assert chart_svg(doc) == (folder / "latency-load.svg").read_text()
