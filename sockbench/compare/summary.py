"""The ``repeats`` key of a compare's results.json: raw numbers across repeats.

Per model × workload (proto, payload, clients): how many repeats ran and
completed, and for each metric of the registry's repeats view (req/s, p50, p99,
p99.9, errors: :mod:`sockbench.core.metrics`) the median, min, max, mean and the
mean's 95 % Student t interval (:mod:`sockbench.core.significance`), so a
script can read what the report's Significance section shows without re-deriving
it. The report itself renders from the cells (:mod:`sockbench.report.sections`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sockbench.core import significance
from sockbench.core.metrics import Metric, View, in_view
from sockbench.report.document import Doc, cell_key, cells
from sockbench.report.verdicts import by_workload, completed

if TYPE_CHECKING:  # the record types a spread; it loads pydantic, so only for mypy
    from sockbench.core.records.compare import Spread

#: The registry's repeats view, each under its key: throughput_rps, p50_us, p99_us,
#: p99_9_us, errors.
METRICS: tuple[Metric, ...] = in_view(View.REPEATS)


def _spread(values: Sequence[float]) -> Spread | None:
    interval = significance.mean_interval(values)
    if interval is None:
        return None
    return {
        "median": float(statistics.median(values)),
        "min": float(min(values)),
        "max": float(max(values)),
        "mean": round(interval.mean, 3),
        "ci95_low": round(interval.low, 3),
        "ci95_high": round(interval.high, 3),
    }


def repeat_stats(doc: Doc) -> list[dict[str, Any]]:
    """Per model × proto × payload × clients: the spread over completed repeats."""
    out: list[dict[str, Any]] = []
    for (proto, _, clients), models in by_workload(cells(doc)).items():
        for model, members in models.items():
            done = [r for r in members if completed(r)]
            entry: dict[str, Any] = {
                "model": model,
                "proto": proto,
                "clients": clients,
                "payload": cell_key(members[0]).payload,
                "repeats": len(members),
                "completed": len(done),
            }
            for metric in METRICS:
                values = [float(v) for r in done if (v := metric.value(r)) is not None]
                entry[metric.key] = _spread(values)
            out.append(entry)
    return out
