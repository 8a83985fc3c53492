"""``compare --capacity`` and ``--sweep``: each cell of the matrix is a search or a sweep.

The cells keep compare's fair order (workloads interleaved, models rotated) and each
step's server is fresh, as a compare's cells are; the folder is a sweep's: one
``sweep.json`` with a curve per cell, each cell's runs in a folder named by its stem, and
the reports with every model's curve on one latency–load chart.
"""

from __future__ import annotations

from pathlib import Path

from sockbench.capacity.execute import AtRatesOutcome, Workload, run_search, run_sweep
from sockbench.capacity.steps import Say, StepWatch
from sockbench.compare.plan import Plan
from sockbench.core.spec.capacity import AtRates as SharedOptions


def run_cells_at_rates(
    plan: Plan, folder: Path, *, command: str, say: Say, watch: StepWatch | None = None
) -> AtRatesOutcome:
    at_rates = plan.at_rates
    assert at_rates is not None
    workloads = [
        Workload(cell.label(), cell.spec, cell.stem, cell.to_json()) for cell in plan.cells
    ]
    shared = SharedOptions(slos=at_rates.slos)
    folder.mkdir(parents=True, exist_ok=True)
    if at_rates.search is not None:
        return run_search(
            workloads, shared, at_rates.search, folder=folder, command=command, say=say,
            watch=watch,
        )  # fmt: skip
    assert at_rates.sweep is not None
    return run_sweep(
        workloads, shared, at_rates.sweep, folder=folder, command=command, say=say, watch=watch
    )
