"""Rendering run results and compare documents: one pure renderer per format.

Each format is a module with ``render(doc) -> str`` accepting either a run result
(``sockbench.result/1``) or a compare document (``sockbench.compare/1``), in the
manner of hyperfine's exporters; a sweep or search document (``sockbench.sweep/1``)
has its own report (:mod:`sockbench.report.sweep`). Each renderer is imported when its
format is first asked for: every command imports this package, and importing them all
(numpy, matplotlib for HTML) cost every ``sockbench`` start about 0.1 s.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sockbench.core.spec.formats import ReportFormat, SweepFormat
from sockbench.errors import SockbenchError
from sockbench.report.document import COMPARE_SCHEMA, RESULT_SCHEMA, SWEEP_SCHEMA, Doc, load

Renderer = Callable[[Doc], str]


def _renderer(module: str) -> Renderer:
    """``sockbench.report.MODULE.render``, imported on the first call."""

    def render(doc: Doc) -> str:
        made: str = importlib.import_module(f"sockbench.report.{module}").render(doc)
        return made

    return render


#: The renderer of each format, keyed by its name (core.spec.formats: the one list of them).
FORMATS: dict[str, Renderer] = {
    ReportFormat.TEXT: _renderer("text"),
    ReportFormat.MD: _renderer("markdown"),
    ReportFormat.CSV: _renderer("csv"),
    ReportFormat.HGRM: _renderer("hgrm"),
    ReportFormat.HTML: _renderer("html"),
}

#: File name extension for each format.
EXTENSIONS: dict[str, str] = {
    ReportFormat.TEXT: "txt",
    ReportFormat.MD: "md",
    ReportFormat.CSV: "csv",
    ReportFormat.HGRM: "hgrm",
    ReportFormat.HTML: "html",
}


#: A sweep or search document's report in each format (its text report is the table).
SWEEP_FORMATS: dict[str, SweepFormat] = {
    ReportFormat.TEXT: SweepFormat.TABLE,
    ReportFormat.MD: SweepFormat.MD,
    ReportFormat.CSV: SweepFormat.CSV,
    ReportFormat.HTML: SweepFormat.HTML,
}


def render(doc: Doc | dict[str, Any], fmt: str) -> str:
    """Render a document in one of :data:`FORMATS`; SockbenchError for an unknown format."""
    if doc.get("schema") == SWEEP_SCHEMA:
        return _sweep(doc, fmt)
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise SockbenchError(
            f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})"
        ) from None
    return renderer(doc)


def _sweep(doc: Doc, fmt: str) -> str:
    from sockbench.report import sweep

    if fmt not in SWEEP_FORMATS:
        raise SockbenchError(
            f"a {doc.get('kind', 'sweep')} has a histogram per step, not one: --format "
            f"{' or '.join(SWEEP_FORMATS)} (each step's folder has its latency.hgrm)"
        )
    return sweep.render(doc, SWEEP_FORMATS[fmt])


__all__ = [
    "COMPARE_SCHEMA",
    "EXTENSIONS",
    "FORMATS",
    "RESULT_SCHEMA",
    "Renderer",
    "load",
    "render",
]
