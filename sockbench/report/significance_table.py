"""The compare's *Significance* section: each model's mean and interval per verdict
metric over its repeats, and which model, if any, is significantly best.

The metrics are the registry's verdict view (req/s and p99): two columns each, the
mean and its 95 % Student t interval. The leader and whether it is ahead by more
than noise come from :mod:`sockbench.report.verdicts`; a model with a saturated
repeat, or one not valid, is not ranked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sockbench.core import significance
from sockbench.report import numbers, verdicts
from sockbench.report.content import Align, Section, Table
from sockbench.report.document import Doc, cell_key
from sockbench.report.summary_table import NOT_VALID, SATURATED

#: Columns before the metrics' own: model, proto, clients, payload, runs.
LEADING = 5


def _interval(values: Sequence[float], fmt: Callable[[Any], str]) -> tuple[str, str]:
    found = significance.mean_interval(values)
    if found is None:
        return numbers.DASH, numbers.DASH
    low, high = fmt(found.low), fmt(found.high)
    return fmt(found.mean), low if low == high else f"{low} – {high}"


def significance_section(results: Sequence[Doc]) -> Section:
    """Per workload and model: mean and 95 % interval of each verdict metric over the
    repeats, and which model, if any, is significantly best."""
    shown = verdicts.METRICS
    headers = (
        "model", "proto", "clients", "payload", "runs",
        *(title for m in shown for title in (m.title, f"{m.title} 95% CI")), "significance",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = []
    best: set[tuple[int, int]] = set()
    for (proto, _, clients), models in verdicts.by_workload(results).items():
        outcomes = [verdicts.decide(models, m) for m in shown]
        for model, members in models.items():
            done = [r for r in members if verdicts.completed(r)]
            runs = str(len(done)) + ("" if len(done) == len(members) else f" of {len(members)}")
            means = (
                text
                for m in shown
                for text in _interval(verdicts.samples(members, m), numbers.FORMATTERS[m.fmt])
            )
            if any(verdicts.saturated(r) for r in members):
                verdict = f"{SATURATED}: not ranked"
            elif any(verdicts.not_valid(r) for r in members):
                verdict = f"{NOT_VALID}: not ranked"
            else:
                verdict = "; ".join(
                    text for o in outcomes if o.leader == model and (text := verdicts.describe(o))
                )
            for i, o in enumerate(outcomes):
                if o.leader == model and o.significant:
                    best.add((len(rows), LEADING + 2 * i))
            payload = numbers.fmt_payload(cell_key(members[0]).payload)
            rows.append((model, proto, numbers.fmt_int(clients), payload, runs, *means, verdict))
    left: Align = "l"
    right: Align = "r"
    table = Table(
        headers=headers,
        rows=tuple(rows),
        align=(left, left, *([right] * (len(headers) - 3)), left),
        best=frozenset(best),
    )
    return Section(
        "Significance",
        key="significance",
        table=table,
        note=f"significantly best {' or '.join(m.title for m in shown)} of its workload (95 %)",
        notes=(
            "mean over completed repeats with its 95 % Student t interval; a leader is best "
            "only when its ratio to the runner-up stays above 1 at 95 % (docs/reports.md)",
        ),
    )
