"""The summary table: one row per cell, a column per registry metric of the summary view.

Best values are chosen within each workload (proto, payload, clients): a UDP
cell's p99 is not comparable with a TCP cell's, nor 10 clients with 1000. Only
columns that do not move from run to run (server threads, ``Noise.STEADY``) are
marked from a single run; req/s and latency are marked only from repeats, where the
winner is significantly ahead (:mod:`sockbench.report.verdicts`, the Significance
section). A cell whose load generator saturated, or whose result is not valid
(docs/validity.md), is never marked; either gets a marker column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sockbench.core.document import Result
from sockbench.core.metrics import Better, Metric, Noise, View, in_view
from sockbench.report import numbers, verdicts
from sockbench.report.content import Align, Table
from sockbench.report.document import Doc, cell_key


@dataclass(frozen=True)
class Column:
    """A summary column: how to read its value from a result, format it, and which
    direction is better (None: never highlighted). ``noisy`` columns move between
    runs of the same thing; one run cannot name a best for them."""

    title: str
    value: Callable[[Doc], Any]
    fmt: Callable[[Any], str] = str
    better: Better | None = None
    align: Align = "r"
    noisy: bool = True

    @classmethod
    def of(cls, metric: Metric) -> Column:
        """A registry metric's column."""
        return cls(
            metric.title,
            metric.value,
            numbers.FORMATTERS[metric.fmt],
            metric.better,
            noisy=metric.noise is not Noise.STEADY,
        )


#: The cell's identity, then the registry's summary metrics (req/s, p50, ... threads).
SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("model", lambda r: cell_key(r).model, align="l"),
    Column("proto", lambda r: cell_key(r).proto, align="l"),
    Column("clients", lambda r: cell_key(r).clients, numbers.fmt_int),
    Column("payload", lambda r: cell_key(r).payload, numbers.fmt_payload),
    *(Column.of(m) for m in in_view(View.SUMMARY)),
)
REPEAT_COLUMN = Column("repeat", lambda r: cell_key(r).repeat, str)
STATUS_COLUMN = Column("status", lambda r: Result(r).status or "?", align="l")
#: The visible marker of a cell that measured the load generator, in every format.
SATURATED = "SATURATED"
GENERATOR_COLUMN = Column(
    "generator", lambda r: SATURATED if verdicts.saturated(r) else "", align="l"
)

#: The visible marker of a cell whose result was judged not valid, in every format.
NOT_VALID = "NOT VALID"
VALIDITY_COLUMN = Column(
    "validity", lambda r: NOT_VALID if verdicts.not_valid(r) else "", align="l"
)


def summary_columns(results: Sequence[Doc]) -> tuple[Column, ...]:
    """The summary columns, plus repeat/status/generator only when they tell something."""
    columns = list(SUMMARY_COLUMNS)
    if any(cell_key(r).repeat > 1 for r in results):
        columns.insert(4, REPEAT_COLUMN)
    if not all(verdicts.completed(r) for r in results):
        columns.append(STATUS_COLUMN)
    if any(verdicts.saturated(r) for r in results):
        columns.append(GENERATOR_COLUMN)
    if any(verdicts.not_valid(r) for r in results):
        columns.append(VALIDITY_COLUMN)
    return tuple(columns)


def in_display_order(results: Sequence[Doc]) -> list[Doc]:
    """Grouped by workload (proto, payload, clients), then model, then repeat."""
    return sorted(
        results,
        key=lambda r: (
            verdicts.workload_order(verdicts.workload_key(r)),
            cell_key(r).model,
            cell_key(r).repeat,
        ),
    )


def summary_table(results: Sequence[Doc]) -> Table:
    """One row per cell, grouped by workload; steady columns' best marked per workload."""
    results = in_display_order(results)
    columns = summary_columns(results)
    raw = [[c.value(r) for c in columns] for r in results]
    groups: dict[verdicts.WorkloadKey, list[int]] = {}
    for i, r in enumerate(results):
        if not verdicts.excluded(r):
            groups.setdefault(verdicts.workload_key(r), []).append(i)
    best: set[tuple[int, int]] = set()
    for members in groups.values():
        for col, column in enumerate(columns):
            if column.better is None or column.noisy:
                continue
            values = [_number(raw[i][col]) for i in members]
            for pos in best_indices(values, column.better is Better.HIGHER):
                best.add((members[pos], col))
    rows = tuple(tuple(c.fmt(v) for c, v in zip(columns, row, strict=True)) for row in raw)
    return Table(
        headers=tuple(c.title for c in columns),
        rows=rows,
        align=tuple(c.align for c in columns),
        best=frozenset(best),
        row_keys=tuple(cell_key(r).label for r in results),
    )


def best_indices(values: Sequence[float | None], higher_is_better: bool) -> set[int]:
    """Positions holding the best value, or none when there is nothing to choose between
    (fewer than two known values, or all of them equal)."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return set()
    values_known = [v for _, v in known]
    best = max(values_known) if higher_is_better else min(values_known)
    if all(v == best for v in values_known):
        return set()
    return {i for i, v in known if v == best}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
