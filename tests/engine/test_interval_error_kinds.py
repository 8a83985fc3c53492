"""Each interval row says which kinds its errors were (``IntervalRow.error_kinds``), for
--metrics-port; merged over the workers, they still add up to the row's errors."""

from __future__ import annotations

import pytest

from sockbench.core.intervals import count_kinds, merge_rows
from sockbench.core.live_metrics import RunLabels, RunState, families, fold
from sockbench.core.progress import Tick
from tests.engine.test_recorder import START, S, failed, measured, recorder

pytestmark = pytest.mark.unit


def test_a_rows_error_kinds_are_those_of_its_interval_and_add_up_to_its_errors() -> None:
    rec = recorder()
    measured(rec)
    failed(rec, "timeout", START + S // 2)
    failed(rec, "timeout", START + S // 2)
    rec.error("reset", START + S // 2)  # not tied to a request (a failed connect)
    first = rec.cut_interval(START + S)
    failed(rec, "timeout", START + S + 1)
    second = rec.cut_interval(START + 2 * S)
    measured(rec)
    quiet = rec.cut_interval(START + 3 * S)
    assert first is not None and second is not None and quiet is not None
    assert first.error_kinds == (("reset", 1), ("timeout", 2))
    assert first.errors == 3
    assert second.error_kinds == (("timeout", 1),) and second.errors == 1
    assert quiet.error_kinds == () and quiet.errors == 0
    assert "error_kinds" not in first.to_json()  # the result's rows keep their keys
    assert rec.tally(datagrams=False).intervals[0].error_kinds == first.error_kinds


def test_merged_over_workers_the_kinds_are_added_up() -> None:
    a, b = recorder(), recorder()
    failed(a, "timeout", START + 1)
    failed(b, "timeout", START + 1)
    failed(b, "closed", START + 1)
    rows = [rec.cut_interval(START + S) for rec in (a, b)]
    assert all(row is not None for row in rows)
    [merged] = merge_rows([[row] for row in rows if row is not None])
    assert merged.error_kinds == (("closed", 1), ("timeout", 2))
    assert sum(n for _, n in merged.error_kinds) == merged.errors == 3
    tick = Tick("measuring", 1.0, 1.0, 0, 0.0, 0, 3, 2, row=merged)
    state = fold(fold(RunState(RunLabels("r", "m", "echo")), tick, ()), tick, ())
    [family] = [f for f in families([state]) if f.name == "sockbench_errors_by_kind"]
    by_error = {dict(s.labels)["error"]: s.value for s in family.samples}
    assert by_error == {"closed": 2, "timeout": 4}


def test_count_kinds_adds_up_by_kind_and_leaves_out_zeros() -> None:
    assert count_kinds([("b", 1), ("a", 2), ("b", 3), ("c", 0)]) == (("a", 2), ("b", 4))
    assert count_kinds([]) == ()
