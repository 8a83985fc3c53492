"""Writing result files: atomically where that is safe, and never over a device.

Every output (``run --json``/``--out``, ``report -o``, ``diff -o``, the compare and sweep
folders, the fallback) goes through this module. The rules, checked before any load
(:func:`check_file`, :func:`check_folder`) and followed when writing (:func:`write_text`,
:func:`write_atomic`):

- a regular file or a new path is written atomically (a temporary file beside the
  target, fsync, rename), so a reader never sees half a file;
- a symlink to a file (or to nothing yet) is refused: writing through it would overwrite
  a file the path does not name (a link planted at a result's path, the classic trap),
  and replacing the link would undo the user's own layout; the path is never followed
  when writing, so a link made between the check and the write is replaced, its target
  left alone;
- a character device (``/dev/null``, ``/dev/full``, a terminal) or a pipe that this
  process already holds open (``/dev/stdout`` into a pipe, ``/dev/fd/63`` from a shell's
  ``>(jq .)``) is opened and written through, never replaced by a regular file;
- any other FIFO is refused: opening it for writing waits for a reader, forever if none
  comes (deaf to Ctrl-C, the result lost). When writing, a pipe is opened without
  waiting: one that no process reads fails at once (ENXIO) and the caller falls back;
- a directory, a block device or a socket is refused.

A file is created as ``open()`` would: mode 0666 less the umask (a request with a
secret in it stays private under ``umask 077``); a file replaced keeps its own mode.

If writing still fails at the end (a disk that filled during the run), the caller
writes the result to :func:`fallback_path` instead, so the measurement survives.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sockbench.core.spec.exports import JSON, Export
from sockbench.errors import ConfigError

MIN_FREE_BYTES = 1024 * 1024  # a result with its interval histograms fits easily
#: Filesystems that show the kernel's state: no result file can be made on them (procfs
#: says "No such file or directory" to a new file in /proc, which misleads).
KERNEL_FILESYSTEMS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "configfs",
    "bpf", "pstore", "efivarfs", "fusectl", "devpts", "binfmt_misc",
})  # fmt: skip


def _stat(path: str, flag: str) -> os.stat_result | None:
    """``path``'s status after following symlinks; None if nothing is there."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot write {flag} {path}: {exc.strerror}") from None


def _is_stream(mode: int) -> bool:
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _held_open(st: os.stat_result) -> bool:
    """Whether this process holds ``st``'s file open already (its stdout, a shell's
    ``>(...)``): a pipe whose other end someone set up to read, not a FIFO to wait on."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = [0, 1, 2]
    for fd in fds:
        try:
            held = os.fstat(fd)
        except OSError:
            continue
        if (held.st_dev, held.st_ino) == (st.st_dev, st.st_ino):
            return True
    return False


def refuse_fifo(target: str, flag: str) -> None:
    """A FIFO this process does not hold open: refused, and why (also ``--log-file``)."""
    try:
        st = os.stat(target)
    except OSError:
        return  # nothing there yet, or a failure the caller reports in its own words
    if stat.S_ISFIFO(st.st_mode) and not _held_open(st):
        raise ConfigError(
            f"{flag} {target} is a FIFO that sockbench does not hold open: writing to it "
            "would wait for a reader, for ever if none comes; give a regular file (or "
            "/dev/stdout into a pipe)"
        )


def umask() -> int:
    """The process's umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the umask."""
    return 0o666 & ~umask()


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
        kind = filesystem_of(str(folder), _mounts())
        if kind in KERNEL_FILESYSTEMS:
            raise ConfigError(
                f"cannot write {flag} {target}: {folder} is on the kernel's {kind} "
                "filesystem, which takes no result files; give a path on a disk"
            ) from None
        raise ConfigError(f"cannot write {flag} {target}: {exc.strerror}") from None
    free = fs.f_bavail * fs.f_frsize
    if free < MIN_FREE_BYTES:
        raise ConfigError(
            f"cannot write {flag} {target}: {folder} has only {free // 1024} KiB free"
        )


def _mounts() -> str:
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def filesystem_of(path: str, mounts: str) -> str | None:
    """The type of the filesystem ``path`` (absolute, links resolved) lies on, from
    ``/proc/self/mounts``' text: the longest mount point that holds it, the last mounted
    where one is mounted twice; None if none does."""
    found: tuple[int, str] | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (found is None or len(point) >= found[0]):
            found = len(point), fields[2]
    return found[1] if found else None


def _refuse_link_to_file(target: str, flag: str) -> None:
    """A symlink that leads to a file, or to nothing yet: refused, and what to give."""
    try:
        to = os.readlink(target)
    except OSError:
        return  # not a link (or nothing there): the other rules apply
    raise ConfigError(
        f"{flag} {target} is a symlink (to {to}): sockbench never writes a result through "
        f"one, which would overwrite {os.path.realpath(target)}; name that file itself, "
        "or remove the link"
    )


def check_file(target: str, flag: str) -> None:
    """Fail now, before any load, if ``target`` cannot receive a result file."""
    if target == "-":
        return
    st = _stat(target, flag)
    refuse_fifo(target, flag)
    mode = st.st_mode if st is not None else None
    if mode is not None and _is_stream(mode):
        if not os.access(target, os.W_OK):
            raise ConfigError(f"cannot write {flag} {target}: permission denied")
        return
    if mode is not None and stat.S_ISDIR(mode):
        raise ConfigError(f"{flag} {target} is a folder; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        raise ConfigError(f"{flag} {target} is a device or socket; give a regular file")
    _refuse_link_to_file(target, flag)
    _probe_folder(Path(os.path.realpath(target)).parent, flag, target)


def check_folder(target: str, flag: str) -> None:
    """Fail now if ``target`` cannot hold (or become) a folder of result files."""
    st = _stat(target, flag)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{flag} {target} exists and is not a folder")
    if st is None and os.path.islink(target):
        raise ConfigError(
            f"{flag} {target} is a symlink to {os.readlink(target)}, which does not exist: "
            "create that folder, or give another"
        )
    _probe_folder(Path(os.path.realpath(target)), flag, target)


def write_text(target: str, text: str) -> None:
    """Write ``text`` to ``target`` by the rules above (``-`` is stdout)."""
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    st = _stat(target, target)
    if st is not None and _is_stream(st.st_mode):
        # Never waits: a pipe that no process reads fails here (ENXIO), and the caller
        # saves the result elsewhere.
        try:
            fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            raise OSError(errno.ENXIO, "no process reads this FIFO", target) from None
        os.set_blocking(fd, True)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return
    write_atomic(Path(target), text)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync it, then rename over ``path``.

    Anything but a regular file or a new path is never replaced, nor a symlink followed
    (an OSError instead: :func:`write_text` writes streams through, a link to one too).
    The rename never follows a link either, so one planted after this check is what gets
    replaced, never its target."""
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        mode = new_file_mode()
    else:
        if stat.S_ISLNK(existing.st_mode):
            raise FileExistsError(
                errno.EEXIST, "a symlink: sockbench never writes a result through one", str(path)
            )
        if not stat.S_ISREG(existing.st_mode):
            raise FileExistsError(
                errno.EEXIST, "not a regular file: sockbench never replaces one", str(path)
            )
        mode = stat.S_IMODE(existing.st_mode)  # as open() would leave it
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)  # mkstemp makes it owner-only
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
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


def fallback_path(kind: str = "result") -> Path:
    """Where a document goes when its own path failed: the temp dir, a name never reused."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.gettempdir()) / f"sockbench-{kind}-{stamp}-{os.getpid()}.json"


class SurvivingWriter:
    """A folder's writes, surviving a full disk: the first failure stops writing there
    (the work goes on), and its document goes to :func:`fallback_path` after every step
    instead, so neither the step that was running nor those before it are lost."""

    def __init__(self, folder: Path, kind: str) -> None:
        self.folder = folder
        self.kind = kind
        self.failures: list[str] = []
        self.fallback: Path | None = None

    def attempt(self, write: Callable[[], object], what: Path) -> bool:
        """``write()``, unless an earlier write failed; False when it did not happen."""
        if self.failures:
            return False
        try:
            write()
        except OSError as exc:
            self.failures.append(f"cannot write {what}: {exc.strerror or exc}")
            return False
        return True

    def document(self, name: str, doc: dict[str, Any]) -> None:
        """``FOLDER/name``, or once writing there failed, the fallback file."""
        path = self.folder / name
        if self.attempt(lambda: write_atomic(path, to_json(doc)), path):
            return
        fallback = self.fallback or fallback_path(self.kind)
        try:
            write_atomic(fallback, to_json(doc))
            self.fallback = fallback
        except OSError as exc:
            self.failures.append(f"cannot write the fallback {fallback} either: {exc.strerror}")


@dataclass
class Saved:
    """Where a result went: its run folder, and what failed (then where the fallback is)."""

    folder: Path | None = None
    failures: list[str] | None = None
    fallback: Path | None = None


def check_exports(exports: Sequence[Export]) -> None:
    """Fail now, before any load, if an ``--export`` file cannot be written."""
    for export in exports:
        check_file(export.path, "--export")


def export_text(doc: dict[str, Any], fmt: str) -> str:
    """``doc`` in an ``--export`` format, rendered from it as read back from its JSON, so
    ``sockbench report result.json -f FORMAT`` gives the same bytes."""
    from sockbench.report import render

    return to_json(doc) if fmt == JSON else render(json.loads(to_json(doc)), fmt)


def save_result(
    doc: dict[str, Any],
    out_dir: str | None,
    json_path: str | None,
    exports: Sequence[Export] = (),
    name: str | None = None,
) -> Saved:
    """The run folder (``name``: its name, instead of one made from the run), the ``--json``
    file and each ``--export``; on failure, the JSON in :func:`fallback_path`."""
    saved = Saved(failures=[])
    assert saved.failures is not None
    if out_dir:
        try:
            saved.folder = write_run_folder(doc, out_dir, name)
        except OSError as exc:
            saved.failures.append(f"cannot write --out {out_dir}: {exc.strerror or exc}")
    outputs = [("--json", JSON, json_path)] if json_path else []
    outputs += [("--export", export.fmt, export.path) for export in exports]
    for flag, fmt, target in outputs:
        try:
            write_text(target, export_text(doc, fmt))
        except OSError as exc:
            saved.failures.append(f"cannot write {flag} {target}: {exc.strerror or exc}")
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


#: The files of a run folder beside ``result.json``.
HISTOGRAM = "latency.hgrm"
INTERVAL_LOG = "latency.hlog"
INTERVALS = "intervals.csv"
REPORT = "report.html"


def write_run_folder(result: dict[str, Any], out_dir: str, name: str | None = None) -> Path:
    """``OUT/run-.../``: ``result.json`` first, then what :func:`run_files` renders from
    it (``name``: the folder's, instead of one made from the run); returns the folder."""
    name = name or run_folder_name(result)
    folder = Path(out_dir) / name
    n = 1
    while folder.exists():
        n += 1
        folder = Path(out_dir) / f"{name}-{n}"
    folder.mkdir(parents=True)
    write_atomic(folder / "result.json", to_json(result))
    for file_name, text in run_files(json.loads(to_json(result))).items():
        write_atomic(folder / file_name, text)
    return folder


def run_files(result: dict[str, Any]) -> dict[str, str]:
    """A run folder's files beside ``result.json``, by name, rendered from the result as
    read back from that file (so ``sockbench report FOLDER -f html`` gives the same bytes):
    ``report.html``, ``intervals.csv`` when it has interval rows, and its latencies
    (``latency.hgrm``, ``latency-KIND.hgrm`` per kind of request, ``latency.hlog``) unless
    it measured none (a stream: no empty histogram files)."""
    from sockbench.report import render
    from sockbench.report.csv import render_intervals
    from sockbench.report.hgrm import render_histogram

    files: dict[str, str] = {REPORT: render(result, "html")}
    if result.get("intervals"):
        files[INTERVALS] = render_intervals(result)
    if result.get("stream"):
        return files
    files[HISTOGRAM] = render_histogram(result["latency_us"])
    for kind, summary in (result.get("latency_by_kind_us") or {}).items():
        files[f"latency-{safe_name(kind)}.hgrm"] = render_histogram(summary)
    log = interval_log(result)
    if log is not None:
        files[INTERVAL_LOG] = log
    return files


def safe_name(text: str) -> str:
    """``text`` as a file name's part: letters, digits, ``.``, ``_`` and ``-`` kept."""
    kept = "".join(c if c.isalnum() or c in "._-" else "_" for c in text).strip(".")
    return kept or "_"


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
