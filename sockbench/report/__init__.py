"""Rendering run results and compare documents: one pure renderer per format.

Each format is a module with ``render(doc) -> str`` accepting either a run result
(``sockbench.result/1``) or a compare document (``sockbench.compare/1``), in the
manner of hyperfine's exporters. The HTML renderer pulls in matplotlib, so it is
imported only when an HTML report is actually asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sockbench.errors import SockbenchError
from sockbench.report import csv, hgrm, markdown, text
from sockbench.report.document import COMPARE_SCHEMA, RESULT_SCHEMA, Doc, load

Renderer = Callable[[Doc], str]


def _html(doc: Doc) -> str:
    from sockbench.report import html

    return html.render(doc)


FORMATS: dict[str, Renderer] = {
    "html": _html,
    "md": markdown.render,
    "csv": csv.render,
    "hgrm": hgrm.render,
    "text": text.render,
}

#: File name extension for each format.
EXTENSIONS: dict[str, str] = {
    "html": "html",
    "md": "md",
    "csv": "csv",
    "hgrm": "hgrm",
    "text": "txt",
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
