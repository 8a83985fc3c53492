"""The compare folder: results.json, summary.csv, report.md, report.html, one .hgrm per cell.

Every file is written atomically (temporary file, fsync, rename), so a reader, or
an interrupted compare, never leaves half a file. ``results.json`` is rewritten
after every cell; the reports are rendered from it at the end, by the same
``render(doc, fmt)`` calls ``sockbench report`` makes, so regenerating them from the
JSON gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sockbench.errors import ConfigError
from sockbench.report import render
from sockbench.report.files import check_folder, to_json, write_atomic
from sockbench.report.hgrm import distribution

RESULTS = "results.json"
CSV = "summary.csv"
MARKDOWN = "report.md"
HTML = "report.html"
MAX_NAME_TRIES = 1000


def choose_folder(out: str | None, base: str = "results", now: datetime | None = None) -> Path:
    """``--out`` (which must be new or empty), or ``results/compare-<UTC timestamp>``."""
    if out:
        check_folder(out, "--out")
        folder = Path(out)
        if folder.exists() and any(folder.iterdir()):
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
    write_atomic(path, distribution(result))  # a stream's says why it has none
    return path


def write_reports(folder: Path, doc: Mapping[str, Any]) -> list[Path]:
    """summary.csv, report.md and report.html, rendered from ``doc`` as read back from
    its JSON, so ``sockbench report FOLDER`` reproduces each file byte for byte."""
    saved = json.loads(to_json(dict(doc)))
    written = []
    for name, fmt in ((CSV, "csv"), (MARKDOWN, "md"), (HTML, "html")):
        write_atomic(folder / name, render(saved, fmt))
        written.append(folder / name)
    return written


def rewrite_reports(folder: Path) -> list[Path]:
    """Render summary.csv, report.md and report.html again from the folder's results.json."""
    from sockbench.report import load

    return write_reports(folder, load(folder / RESULTS))
