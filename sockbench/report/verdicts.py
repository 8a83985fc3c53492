"""Which model wins a workload, and whether the win is more than noise (pure).

A compare's cells are grouped by workload (proto × payload × clients); within a
workload each model has one value per completed repeat. For req/s and p99 the
model with the best mean is the *leader*; it is called *best* only when the 95 %
interval of its ratio to the runner-up excludes 1 (Welch's t on the logarithms of
the repeats, :mod:`sockbench.core.significance`). A model with a saturated repeat
in that workload takes no part: its numbers measured the load generator; nor does
one with a repeat whose result was judged not valid (docs/validity.md): a trend or a
schedule not kept makes its numbers the run's accident, never the winner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sockbench.core import metrics, significance, validity
from sockbench.core.document import Result
from sockbench.core.metrics import Better, Metric, View
from sockbench.report.document import Doc, cell_key

WorkloadKey = tuple[str, str, int]  # (proto, payload, clients)

#: The metrics a verdict is given for (the registry's ``verdict`` view): req/s and p99.
METRICS: tuple[Metric, ...] = metrics.in_view(View.VERDICT)
REQ_S = metrics.metric("rps")
P99 = metrics.metric("p99")


@dataclass(frozen=True)
class Outcome:
    """The verdict for one metric of one workload.

    ``leader`` is None when no model could be ranked; ``significant`` is None when
    there was no test, and ``reason`` says why (too few repeats, or a repeat that
    measured 0: :data:`sockbench.core.significance.TOO_FEW`, ``NOT_POSITIVE``);
    ``speedup`` is how many times better the leader is than ``runner_up`` (>= 1).
    """

    metric: Metric
    leader: str | None
    runner_up: str | None
    speedup: float | None
    significant: bool | None
    reason: str = ""


def workload_key(result: Doc) -> WorkloadKey:
    key = cell_key(result)
    return key.proto, str(key.payload), key.clients


def payload_order(payload: str) -> tuple[int, str]:
    """Numeric payloads by size, then anything else by name."""
    return (int(payload), "") if payload.isdigit() else (1 << 62, payload)


def workload_order(key: WorkloadKey) -> tuple[str, tuple[int, str], int]:
    return key[0], payload_order(key[1]), key[2]


def completed(result: Doc) -> bool:
    return Result(result).completed


def saturated(result: Doc) -> bool:
    return Result(result).saturated


def not_valid(result: Doc) -> bool:
    """It completed, and its result's validity verdict is ``not valid`` (docs/validity.md);
    one that did not complete is said by its status already."""
    return completed(result) and validity.not_valid(result)


def excluded(result: Doc) -> bool:
    """Takes no part in a best or a verdict: saturated, or not valid."""
    return saturated(result) or not_valid(result)


def by_workload(results: Sequence[Doc]) -> dict[WorkloadKey, dict[str, list[Doc]]]:
    """Results per workload and model, workloads and models in display order."""
    grouped: dict[WorkloadKey, dict[str, list[Doc]]] = {}
    for r in results:
        grouped.setdefault(workload_key(r), {}).setdefault(cell_key(r).model, []).append(r)
    return {
        k: {m: grouped[k][m] for m in sorted(grouped[k])}
        for k in sorted(grouped, key=workload_order)
    }


def samples(members: Sequence[Doc], metric: Metric) -> list[float]:
    """The metric's value in each completed repeat that measured it."""
    return [float(v) for r in members if completed(r) and (v := metric.value(r)) is not None]


def decide(models: Mapping[str, Sequence[Doc]], metric: Metric) -> Outcome:
    """The leader of one workload for ``metric`` and whether it is significantly best."""
    ranked: list[tuple[float, str, list[float]]] = []
    for model, members in models.items():
        values = samples(members, metric)
        if values and not any(excluded(r) for r in members):
            mean = sum(values) / len(values)
            ranked.append((-mean if metric.better is Better.HIGHER else mean, model, values))
    if len(ranked) < 2:
        return Outcome(metric, None, None, None, None)
    ranked.sort()
    (_, leader, best), (_, runner_up, second) = ranked[0], ranked[1]
    verdict = significance.compare(second, best)
    if verdict is None or verdict.ratio <= 0:
        return Outcome(metric, leader, runner_up, None, None)
    speedup = verdict.ratio if metric.better is Better.HIGHER else 1.0 / verdict.ratio
    return Outcome(metric, leader, runner_up, speedup, verdict.significant, verdict.reason)


def describe(outcome: Outcome) -> str:
    """``best req/s (1.21× selectors)``, ``req/s not significant (1.03×)`` or ``""``."""
    if outcome.leader is None or outcome.speedup is None:
        return ""
    ratio = f"{outcome.speedup:.2f}×"
    if outcome.significant is None:
        why = (
            "a repeat measured 0"
            if outcome.reason == significance.NOT_POSITIVE
            else "too few repeats"
        )
        return f"{outcome.metric.title}: {why} ({ratio})"
    if outcome.significant:
        return f"best {outcome.metric.title} ({ratio} vs {outcome.runner_up})"
    return f"{outcome.metric.title} not significant ({ratio} vs {outcome.runner_up})"
