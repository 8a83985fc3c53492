"""``run --repeat N``: the same run N times, each written to its own folder, then the N
summed up as compare sums up its repeats.

Each repetition is one :func:`sockbench.engine.orchestration.runner.run`, which starts a
fresh built-in server for it and stops it after, as a compare's cell does. Repetition K
writes ``OUT/run-<first repetition's stamp>-...-K`` (so ``diff a/run-*-{1,2,3} --vs ...``
takes them as they are), its ``--json FILE`` as ``FILE-K`` and each ``--export`` as
``NAME-K.EXT``. The closing line is the median and spread of req/s and p99 over the
completed repetitions, from :func:`sockbench.compare.summary.repeat_stats`: the numbers
a compare's ``repeats`` key holds, not computed a second way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sockbench.compare.summary import repeat_stats
from sockbench.core.spec.exports import Export, numbered
from sockbench.core.spec.output import Output
from sockbench.report.document import COMPARE_SCHEMA
from sockbench.report.files import run_folder_name
from sockbench.report.numbers import fmt_rate, fmt_us


@dataclass(frozen=True)
class Outputs:
    """Where one repetition writes: its folder's name (None: one made from the run), its
    ``--json`` file and its ``--export`` files."""

    name: str | None
    json_path: str | None
    exports: tuple[Export, ...]


def outputs(output: Output, k: int, first: Mapping[str, Any] | None) -> Outputs:
    """Repetition ``k``'s (1-based) files; ``first``: the first repetition's result, whose
    folder name every repetition's takes. One run (no ``--repeat``) writes as it always did."""
    if output.repeat <= 1:
        return Outputs(None, output.json_path, output.exports)
    json_path = numbered(output.json_path, k) if output.json_path else None
    exports = tuple(Export(e.fmt, numbered(e.path, k)) for e in output.exports)
    return Outputs(f"{run_folder_name(dict(first))}-{k}" if first else None, json_path, exports)


def summary(results: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The repetitions' ``repeats`` entry, as a compare's results.json keeps it: how many
    ran and completed, and ``throughput_rps``, ``p99_us`` ... each as median, min, max,
    mean and its 95 % interval (None: nothing ran)."""
    stats = repeat_stats({"schema": COMPARE_SCHEMA, "cells": list(results)})
    return stats[0] if stats else None


def summary_line(results: Sequence[Mapping[str, Any]], asked: int) -> str:
    """``repeats: 3 of 3 completed; req/s median 61,234 (min 60,100, max 62,000, ±1.2 %);
    p99 median 3.4 ms (min 3.3 ms, max 3.6 ms, ±4.1 %)``: ± is the mean's 95 % interval."""
    entry = summary(results) or {}
    done = int(entry.get("completed", 0))
    line = f"repeats: {done} of {asked} completed"
    if len(results) < asked:
        line += f" ({asked - len(results)} not run)"
    parts = [_part("req/s", entry.get("throughput_rps"), fmt_rate),
             _part("p99", entry.get("p99_us"), fmt_us)]  # fmt: skip
    return "; ".join([line, *filter(None, parts)])


def _part(
    title: str, spread: Mapping[str, float] | None, fmt: Callable[[float | None], str]
) -> str | None:
    if not spread:
        return None
    low, high = fmt(spread["min"]), fmt(spread["max"])
    text = f"{title} median {fmt(spread['median'])} (min {low}, max {high}"
    mean = spread["mean"]
    if mean > 0 and spread["ci95_high"] > spread["ci95_low"]:
        text += f", ±{(spread['ci95_high'] - mean) / mean * 100:.1f} %"
    return text + ")"
