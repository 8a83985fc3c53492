"""The compare folders committed under results/ are documents of the current schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.schema import validate_compare

RESULTS = Path(__file__).resolve().parents[2] / "results"


@pytest.mark.parametrize("folder", sorted(RESULTS.glob("compare-*")), ids=lambda p: p.name)
def test_committed_compare_results_match_the_schema(folder: Path) -> None:
    validate_compare(json.loads((folder / "results.json").read_text()))
