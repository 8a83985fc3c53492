"""Compare server models: a matrix of models × protocols × clients × payloads.

``build_plan`` checks every option and lays out the cells in an interleaved order,
``run_compare`` runs them (a fresh server per cell) and writes the compare folder
(``results.json``, ``summary.csv``, ``report.md``, ``report.html``, one ``.hgrm``
per cell). docs/compare.md describes the method and the files.

    plan = build_plan({"server_model": "threaded,asyncio", "proto": "tcp", "clients": "10,100"})
    outcome = run_compare(plan, choose_folder(None), command="...")
"""

from sockbench.compare.execute import CompareOutcome, RunFn, failed_result, run_compare
from sockbench.compare.folder import choose_folder, rewrite_reports, write_reports
from sockbench.compare.plan import (
    Cell,
    Plan,
    build_plan,
    order_cells,
    parse_counts,
)
from sockbench.compare.summary import repeat_stats
from sockbench.core.spec.sizing import resolve_pinning

__all__ = [
    "Cell",
    "CompareOutcome",
    "Plan",
    "RunFn",
    "build_plan",
    "choose_folder",
    "failed_result",
    "order_cells",
    "parse_counts",
    "repeat_stats",
    "resolve_pinning",
    "rewrite_reports",
    "run_compare",
    "write_reports",
]
