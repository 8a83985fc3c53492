"""Which records each command takes its options from, and so its options (pure)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sockbench.core.spec.capacity import SEARCH_RECORDS, SWEEP_RECORDS
from sockbench.core.spec.compare import COMPARE_RECORDS
from sockbench.core.spec.diff import DIFF_RECORDS
from sockbench.core.spec.option import CommandName, Option, options_of
from sockbench.core.spec.report import REPORT_RECORDS
from sockbench.core.spec.run import RUN_RECORDS
from sockbench.core.spec.serve import SERVE_RECORDS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RECORDS: Mapping[CommandName, tuple[type[DataclassInstance], ...]] = {
    "run": RUN_RECORDS,
    "compare": COMPARE_RECORDS,
    "serve": SERVE_RECORDS,
    "report": REPORT_RECORDS,
    "diff": DIFF_RECORDS,
    "sweep": (*RUN_RECORDS, *SWEEP_RECORDS),
    "search": (*RUN_RECORDS, *SEARCH_RECORDS),
}


def options_for(command: CommandName) -> Iterator[Option[Any]]:
    """Every option ``command`` takes, its positional arguments among them, in the order
    its help lists them."""
    for record in RECORDS[command]:
        for option in options_of(record):
            if option.taken_by(command):
                yield option
