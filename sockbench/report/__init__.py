"""Rendering run results and compare documents: one pure renderer per format.

Each format is a module with ``render(doc) -> str`` accepting either a run result
(``sockbench.result/1``) or a compare document (``sockbench.compare/1``), in the
manner of hyperfine's exporters. The HTML renderer pulls in matplotlib, so it is
imported only when an HTML report is actually asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sockbench.core.spec.formats import ReportFormat
from sockbench.errors import SockbenchError
from sockbench.report import csv, hgrm, markdown, text
from sockbench.report.document import COMPARE_SCHEMA, RESULT_SCHEMA, Doc, load

Renderer = Callable[[Doc], str]


def _html(doc: Doc) -> str:
    from sockbench.report import html

    return html.render(doc)


#: The renderer of each format, keyed by its name (core.spec.formats: the one list of them).
FORMATS: dict[str, Renderer] = {
    ReportFormat.TEXT: text.render,
    ReportFormat.MD: markdown.render,
    ReportFormat.CSV: csv.render,
    ReportFormat.HGRM: hgrm.render,
    ReportFormat.HTML: _html,
}

#: File name extension for each format.
EXTENSIONS: dict[str, str] = {
    ReportFormat.TEXT: "txt",
    ReportFormat.MD: "md",
    ReportFormat.CSV: "csv",
    ReportFormat.HGRM: "hgrm",
    ReportFormat.HTML: "html",
}


def render(doc: Doc | dict[str, Any], fmt: str) -> str:
    """Render a document in one of :data:`FORMATS`; SockbenchError for an unknown format."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise SockbenchError(
            f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})"
        ) from None
    return renderer(doc)


__all__ = [
    "COMPARE_SCHEMA",
    "EXTENSIONS",
    "FORMATS",
    "RESULT_SCHEMA",
    "Renderer",
    "load",
    "render",
]
