"""Writing result files atomically: a reader never sees half a file."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_MODE = 0o644


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync it, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), FILE_MODE)  # mkstemp makes it owner-only
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def write_json(doc: dict[str, Any], target: str) -> None:
    """Write a JSON document to a path, or to stdout for ``-``."""
    if target == "-":
        sys.stdout.write(to_json(doc))
        sys.stdout.flush()
    else:
        write_atomic(Path(target), to_json(doc))


def run_folder_name(result: dict[str, Any]) -> str:
    stamp = result["started_at"].replace(":", "").replace("-", "")[:15]
    config = result["config"]
    who = config.get("server_model") or "target"
    return f"run-{stamp}-{config['proto']}-{who}-c{config['clients']}"


def write_run_folder(result: dict[str, Any], out_dir: str) -> Path:
    """``OUT/run-.../result.json`` and ``latency.hgrm``; returns the folder."""
    from sockbench.report.hgrm import render_histogram

    folder = Path(out_dir) / run_folder_name(result)
    n = 1
    while folder.exists():
        n += 1
        folder = Path(out_dir) / f"{run_folder_name(result)}-{n}"
    folder.mkdir(parents=True)
    write_atomic(folder / "result.json", to_json(result))
    write_atomic(folder / "latency.hgrm", render_histogram(result["latency_us"]))
    log = interval_log(result)
    if log is not None:
        write_atomic(folder / "latency.hlog", log)
    return folder


def interval_log(result: dict[str, Any]) -> str | None:
    """The run's interval histograms in HdrHistogram's log format, if it has any."""
    rows = result.get("intervals") or []
    start = result.get("measurement_started_at_s")
    if not rows or start is None:
        return None
    from sockbench.core.hlog import format_log

    intervals = []
    previous = 0.0
    for row in rows:
        intervals.append(_LogRow(previous, row["t"], row["max"], row["histogram"]))
        previous = row["t"]
    return format_log(
        intervals, start, comment=f"sockbench {result['sockbench_version']}: {result['command']}"
    )


@dataclass(frozen=True)
class _LogRow:
    start_s: float
    t: float
    max: int
    histogram: str
