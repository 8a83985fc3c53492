"""What a report says, independent of how it is drawn: the sections of a document.

Every renderer (text, markdown, terminal, HTML) lays out the same list of
:class:`~sockbench.report.content.Section` values, built here for a run or a
compare. The content model is :mod:`sockbench.report.content`; its builders are one
short module per part:

- :mod:`~sockbench.report.run_sections`: a run's sections, and the *Checks* table
  (:mod:`~sockbench.report.run_fields`, :mod:`~sockbench.report.stream_fields`,
  :mod:`~sockbench.report.latency_tables`, :mod:`~sockbench.report.resource_fields`);
- :mod:`~sockbench.report.compare_sections`: a compare's, with
  :mod:`~sockbench.report.summary_table` and :mod:`~sockbench.report.significance_table`.

The numbers compared across runs are the registry's metrics
(:mod:`sockbench.core.metrics`), each read and formatted through its entry.
"""

from __future__ import annotations

from sockbench.report.compare_sections import compare_sections
from sockbench.report.content import Section
from sockbench.report.document import Doc, is_compare
from sockbench.report.run_sections import run_sections


def sections(doc: Doc) -> list[Section]:
    """The report of a run result or a compare document, section by section."""
    return compare_sections(doc) if is_compare(doc) else run_sections(doc)
