"""The compare folder: results.json, summary.csv, report.md, report.html, one .hgrm per cell.

Every file is written atomically (temporary file, fsync, rename), so a reader, or
an interrupted compare, never leaves half a file. ``results.json`` is rewritten
after every cell; the reports are rendered from it at the end, by the same
renderers ``sockbench report`` uses, so they can be regenerated from the JSON.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sockbench.errors import ConfigError
from sockbench.output import to_json, write_atomic
from sockbench.report import render
from sockbench.report.hgrm import render_histogram
from sockbench.report.markdown import render_section
from sockbench.report.sections import Section, Table

RESULTS = "results.json"
CSV = "summary.csv"
MARKDOWN = "report.md"
HTML = "report.html"
MAX_NAME_TRIES = 1000


def choose_folder(out: str | None, base: str = "results", now: datetime | None = None) -> Path:
    """``--out`` (which must be new or empty), or ``results/compare-<UTC timestamp>``."""
    if out:
        folder = Path(out)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ConfigError(
                f"--out {out} already exists and is not an empty folder; pick a new one"
            )
        return folder
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    folder = Path(base) / f"compare-{stamp}"
    for n in range(2, MAX_NAME_TRIES):
        if not folder.exists():
            return folder
        folder = Path(base) / f"compare-{stamp}-{n}"
    raise ConfigError(f"{base}: too many compare folders named compare-{stamp}; use --out")


def write_results(folder: Path, doc: dict[str, Any]) -> None:
    write_atomic(folder / RESULTS, to_json(doc))


def write_histogram(folder: Path, stem: str, result: Mapping[str, Any]) -> Path:
    path = folder / f"{stem}.hgrm"
    write_atomic(path, render_histogram(result.get("latency_us")))
    return path


def write_reports(folder: Path, doc: dict[str, Any], extra: Sequence[Section]) -> list[Path]:
    """summary.csv, report.md and report.html from ``doc`` (plus the compare's sections)."""
    written = []
    for name, text in (
        (CSV, render(doc, "csv")),
        (MARKDOWN, markdown_report(doc, extra)),
        (HTML, html_report(doc, extra)),
    ):
        write_atomic(folder / name, text)
        written.append(folder / name)
    return written


def markdown_report(doc: Mapping[str, Any], extra: Sequence[Section]) -> str:
    """The markdown renderer's page with ``extra`` inserted before the environment."""
    page = render(doc, "md")
    if not extra:
        return page
    blocks = "\n\n".join(render_section(s) for s in extra)
    marker = "\n\n## Environment"
    at = page.rfind(marker)
    if at < 0:
        return page.rstrip("\n") + "\n\n" + blocks + "\n"
    return page[:at] + "\n\n" + blocks + page[at:]


def html_report(doc: Mapping[str, Any], extra: Sequence[Section]) -> str:
    """The HTML renderer's page with ``extra`` inserted before the environment."""
    page = render(doc, "html")
    if not extra:
        return page
    blocks = "\n".join(html_section(s) for s in extra)
    marker = '<section data-section="environment">'
    at = page.rfind(marker)
    if at < 0:
        at = page.rfind("</body>")
    return page[:at] + blocks + "\n" + page[at:]


def html_section(section: Section) -> str:
    """A section in the markup and CSS classes of :mod:`sockbench.report.html`."""
    parts = [
        f'<section data-section="{html.escape(section.key)}"><h2>{html.escape(section.title)}</h2>'
    ]
    if section.fields:
        items = "".join(
            f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in section.fields
        )
        parts.append(f'<dl class="fields">{items}</dl>')
    if section.table is not None:
        parts.append(_html_table(section.table, section.key))
        if section.table.best and section.note:
            parts.append(f'<p class="note">Highlighted: {html.escape(section.note)}.</p>')
    if section.items:
        items = "".join(f"<li>{html.escape(i)}</li>" for i in section.items)
        parts.append(f'<ul class="warnings">{items}</ul>')
    parts.append("</section>")
    return "".join(parts)


def _html_table(table: Table, ident: str) -> str:
    head = "".join(
        f'<th class="{a}">{html.escape(h)}</th>'
        for h, a in zip(table.headers, table.align, strict=True)
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="{a}{" best" if (r, c) in table.best else ""}">{html.escape(v)}</td>'
            for c, (v, a) in enumerate(zip(row, table.align, strict=True))
        )
        + "</tr>"
        for r, row in enumerate(table.rows)
    )
    return (
        f'<div class="scroll"><table id="{html.escape(ident)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def rewrite_reports(folder: Path) -> list[Path]:
    """Render summary.csv, report.md and report.html again from the folder's results.json."""
    from sockbench.compare.summary import extra_sections
    from sockbench.report import load

    doc = load(folder / RESULTS)
    return write_reports(folder, doc, extra_sections(doc))
