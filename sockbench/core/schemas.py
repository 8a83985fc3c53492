"""The schema id of every document sockbench writes, defined here and nowhere else.

An id names a format and its major version (``sockbench.result/1``). Readers
dispatch on it (:func:`sockbench.report.document.load`); a ``/2`` gets a new
constant here and a reader of its own, and ``/1`` files keep loading.
"""

from __future__ import annotations

RESULT_SCHEMA = "sockbench.result/1"
COMPARE_SCHEMA = "sockbench.compare/1"
DIFF_SCHEMA = "sockbench.diff/1"
SWEEP_SCHEMA = "sockbench.sweep/1"  # a sweep or a search: a run per rate
INTERVALS_SCHEMA = "sockbench.intervals/1"  # a line of `run --format jsonl`
