"""``sockbench report``: a saved result or compare folder, and the format to render (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sockbench.core.spec.formats import ReportFormat
from sockbench.core.spec.option import (
    REPORT,
    check_names,
    field_of,
    member,
    option,
    parse_record,
    text,
)
from sockbench.core.spec.output import WRITE_TO


@dataclass(frozen=True)
class ReportOptions:
    path: str = option(
        "", "PATH", help="a result.json, a run folder or a compare folder", parse=text,
        positional=True, commands=REPORT,
    )  # fmt: skip
    fmt: ReportFormat = member(
        ReportFormat.TEXT, "--format", "-f", help="report format", commands=REPORT
    )
    output: str | None = field_of(WRITE_TO)


#: The records ``report`` takes its options from, in the order ``report --help`` lists them.
REPORT_RECORDS = (ReportOptions,)


def parse_report(values: Mapping[str, object]) -> ReportOptions:
    """``sockbench report``'s options, checked: one-line ConfigError for a bad one."""
    check_names(values, REPORT_RECORDS, "report")
    return parse_record(ReportOptions, values, "report", {})
