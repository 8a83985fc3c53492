"""The closing line of a run's or a compare's checks: ``2 of 3 checks failed``."""

from __future__ import annotations

import pytest

from sockbench.core.checks import summary

pytestmark = pytest.mark.unit  # pure


def _result(*passed: bool) -> dict[str, object]:
    return {"checks": [{"expr": "x", "value": 0, "passed": p} for p in passed]}


@pytest.mark.parametrize(
    ("results", "line"),
    [
        ([_result(False, True, False)], "2 of 3 checks failed"),
        ([_result(True, True, True)], "all 3 checks passed"),
        ([_result(False)], "1 of 1 check failed"),
        ([_result(True)], "the check passed"),
        ([_result(True, False), _result(True), {}], "1 of 3 checks failed"),  # compare cells
        ([{}, {"checks": []}], None),  # none asked for: no line
    ],
)
def test_the_closing_line_counts_every_check_of_every_result(
    results: list[dict[str, object]], line: str | None
) -> None:
    assert summary(results) == line
