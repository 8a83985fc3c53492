"""--warmup auto's rule made to settle at its minimum, whatever a busy machine's rows say.

For the tests of the plumbing around the rule (the start told to every worker, the
accounting through the switch), which must move the window every time; the rule itself
is tested on known series (tests/core/test_warmup.py).
"""

from __future__ import annotations

import pytest

from sockbench.core.warmup import MIN_ROWS, WarmupDecision, WarmupMeter
from sockbench.engine.orchestration import coordinator


class SettlesAtTheMinimum(WarmupMeter):
    def decision(self) -> WarmupDecision:
        n = len(self.rows)
        return WarmupDecision(n >= MIN_ROWS, n, 0 if n >= MIN_ROWS else None)


def settle_at_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """The coordinator's rule, for this test: settled once it has its minimum of rows."""
    monkeypatch.setattr(coordinator, "WarmupMeter", SettlesAtTheMinimum)
