"""Writing result files: atomically where that is safe, and never over a device.

The rules, checked before any load (:func:`check_file`, :func:`check_folder`) and
followed when writing (:func:`write_text`):

- a regular file or a new path is written atomically (a temporary file beside the
  target, fsync, rename), so a reader never sees half a file;
- a symlink is followed, and its target is what gets written: the link stays;
- a FIFO or a character device (``/dev/stdout``, ``/proc/self/fd/1``, a terminal)
  is opened and written through, never replaced by a regular file;
- a directory, a block device or a socket is refused.

If writing still fails at the end (a disk that filled during the run), the caller
writes the result to :func:`fallback_path` instead, so the measurement survives.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sockbench.errors import ConfigError

FILE_MODE = 0o644
MIN_FREE_BYTES = 1024 * 1024  # a result with its interval histograms fits easily


def _mode(path: str, flag: str) -> int | None:
    """The file type of ``path`` after following symlinks; None if nothing is there."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot write {flag} {path}: {exc.strerror}") from None


def _is_stream(mode: int) -> bool:
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _probe_folder(folder: Path, flag: str, target: str) -> None:
    """Create and remove a file in ``folder`` (or its nearest existing ancestor), and
    check the filesystem has room: the only sure test of a read-only mount or ACLs."""
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"cannot write {flag} {target}: {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".sockbench-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
        fs = os.statvfs(folder)
    except OSError as exc:
        raise ConfigError(f"cannot write {flag} {target}: {exc.strerror}") from None
    free = fs.f_bavail * fs.f_frsize
    if free < MIN_FREE_BYTES:
        raise ConfigError(
            f"cannot write {flag} {target}: {folder} has only {free // 1024} KiB free"
        )


def check_file(target: str, flag: str) -> None:
    """Fail now, before any load, if ``target`` cannot receive a result file."""
    if target == "-":
        return
    mode = _mode(target, flag)
    if mode is not None and _is_stream(mode):
        if not os.access(target, os.W_OK):
            raise ConfigError(f"cannot write {flag} {target}: permission denied")
        return
    if mode is not None and stat.S_ISDIR(mode):
        raise ConfigError(f"{flag} {target} is a folder; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        raise ConfigError(f"{flag} {target} is a device or socket; give a regular file")
    _probe_folder(Path(os.path.realpath(target)).parent, flag, target)


def check_folder(target: str, flag: str) -> None:
    """Fail now if ``target`` cannot hold (or become) a folder of result files."""
    mode = _mode(target, flag)
    if mode is not None and not stat.S_ISDIR(mode):
        raise ConfigError(f"{flag} {target} exists and is not a folder")
    _probe_folder(Path(os.path.realpath(target)), flag, target)


def write_text(target: str, text: str) -> None:
    """Write ``text`` to ``target`` by the rules above (``-`` is stdout)."""
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    mode = _mode(target, target)
    if mode is not None and _is_stream(mode):
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise IsADirectoryError(f"{target} is not a regular file")
    write_atomic(Path(os.path.realpath(target)), text)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync it, then rename over ``path``.

    Only for a regular file or a new path: :func:`write_text` decides."""
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
    write_text(target, to_json(doc))


def fallback_path() -> Path:
    """Where a result goes when its own path failed: the temp dir, a name never reused."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.gettempdir()) / f"sockbench-result-{stamp}-{os.getpid()}.json"


@dataclass
class Saved:
    """Where a result went: its run folder, and what failed (then where the fallback is)."""

    folder: Path | None = None
    failures: list[str] | None = None
    fallback: Path | None = None


def save_result(doc: dict[str, Any], out_dir: str | None, json_path: str | None) -> Saved:
    """The run folder and the ``--json`` file; on failure, the JSON in :func:`fallback_path`."""
    saved = Saved(failures=[])
    assert saved.failures is not None
    if out_dir:
        try:
            saved.folder = write_run_folder(doc, out_dir)
        except OSError as exc:
            saved.failures.append(f"cannot write --out {out_dir}: {exc.strerror or exc}")
    if json_path:
        try:
            write_json(doc, json_path)
        except OSError as exc:
            saved.failures.append(f"cannot write --json {json_path}: {exc.strerror or exc}")
    if saved.failures:
        path = fallback_path()
        try:
            write_atomic(path, to_json(doc))
            saved.fallback = path
        except OSError as exc:
            saved.failures.append(f"cannot write the fallback {path} either: {exc.strerror}")
    return saved


def run_folder_name(result: dict[str, Any]) -> str:
    stamp = result["started_at"].replace(":", "").replace("-", "")[:15]
    config = result["config"]
    who = config.get("server_model") or "target"
    return f"run-{stamp}-{config['proto']}-{who}-c{config['clients']}"


def write_run_folder(result: dict[str, Any], out_dir: str, name: str | None = None) -> Path:
    """``OUT/run-.../result.json`` and ``latency.hgrm`` (``name``: the folder's, instead of
    one made from the run); returns the folder."""
    from sockbench.report.hgrm import render_histogram

    name = name or run_folder_name(result)
    folder = Path(out_dir) / name
    n = 1
    while folder.exists():
        n += 1
        folder = Path(out_dir) / f"{name}-{n}"
    folder.mkdir(parents=True)
    write_atomic(folder / "result.json", to_json(result))
    write_atomic(folder / "latency.hgrm", render_histogram(result["latency_us"]))
    log = interval_log(result)
    if log is not None:
        write_atomic(folder / "latency.hlog", log)
    return folder


def interval_log(result: dict[str, Any]) -> str | None:
    """The run's interval histograms in HdrHistogram's log format, if it has any: the
    window's rows, then the drain's, so the log holds every latency the result does."""
    rows = [*(result.get("intervals") or []), *filter(None, [result.get("drain_interval")])]
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
