"""Shared plumbing for the benchmark scripts: processes, peers, medians, markdown tables.

Every process a benchmark starts is started through :func:`spawn`, in a session of
its own, and :func:`stop` kills the whole process group: nothing outlives a script,
whether it finishes, fails or is interrupted. All traffic stays on 127.0.0.0/8.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
PYTHON = sys.executable
_SOCKBENCH_BIN = Path(sys.executable).with_name("sockbench")
SOCKBENCH = [str(_SOCKBENCH_BIN)] if _SOCKBENCH_BIN.exists() else [PYTHON, "-m", "sockbench"]
APT_TIMEOUT_S = 600


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def ensure_tools(tools: dict[str, str]) -> None:
    """Install missing binaries (name -> apt package) from the OS packages when root."""
    missing = sorted({pkg for binary, pkg in tools.items() if shutil.which(binary) is None})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"missing {', '.join(missing)}: install them (apt-get install -y ...)")
    log(f"installing {' '.join(missing)} ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=False, timeout=APT_TIMEOUT_S, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", *missing], check=True, timeout=APT_TIMEOUT_S, env=env
    )
    still = [b for b in tools if shutil.which(b) is None]
    if still:
        raise SystemExit(f"still missing after apt-get: {', '.join(still)}")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_tcp(port: int, timeout_s: float = 10.0, host: str = "127.0.0.1") -> None:
    """Wait until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout_s} s"
                ) from None
            time.sleep(0.05)


def spawn(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session (its own process group), so :func:`stop` gets it all."""
    return subprocess.Popen(list(argv), start_new_session=True, **kwargs)


def _exited(pid: int) -> bool:
    """Whether child ``pid`` has exited, without reaping it (its zombie keeps the pgid ours)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def stop(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left of it; always reap.

    The group is signalled only while its leader is unreaped (alive or a zombie), so
    its id cannot have been reused by a process we did not start.
    """
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while not _exited(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    # Children may outlive a leader that exited: kill whatever is left of the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def running(argv: Sequence[str], **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    proc = spawn(argv, **kwargs)
    try:
        yield proc
    finally:
        stop(proc)


def run_bounded(
    argv: Sequence[str], timeout_s: float, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    """Run to completion in its own process group; kill the group after ``timeout_s``."""
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except BaseException:
        stop(proc)
        raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def sockbench_run(
    args: Sequence[str], timeout_s: float, prefix: Sequence[str] = ()
) -> dict[str, Any]:
    """``sockbench run ARGS --json - --out ''``; the result JSON (raises on failure)."""
    argv = [*prefix, *SOCKBENCH, "run", *args, "--json", "-", "--out", ""]
    done = run_bounded(argv, timeout_s)
    text = done.stdout.decode(errors="replace")
    try:
        result: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(
            f"sockbench failed (rc {done.returncode}): {' '.join(argv)}\n{tail}"
        ) from None
    return result


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:  # None or NaN
        return "–"
    return f"{value:,.{digits}f}"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A markdown table; ``align`` has one letter per column, l or r (default: l then r)."""
    align = align or "l" + "r" * (len(headers) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@functools.cache
def machine_line() -> str:
    """The machine and the code measured (cached: call it first thing, the tree moves)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}, sockbench at {code_version()}{_build()}"
    )


def _build() -> str:
    """`` (compiled with mypyc)`` when the ``sockbench`` the benchmarks run is the compiled
    build (``make compiled``; sockbench/build.py), else nothing: pure Python, the default.

    Asked of the command, not of this process's import: ``PYTHONPATH=COPY`` (an A/B
    against a built copy) reaches the command, while a benchmark that puts the checkout
    first on its own path imports the checkout's.
    """
    done = run_bounded([*SOCKBENCH, "--version"], 60)
    build = done.stdout.decode(errors="replace").partition("(")[2].rpartition(")")[0]
    return "" if done.returncode != 0 or build in ("", "pure Python") else f" ({build})"


def code_version() -> str:
    """The commit the measured engine comes from, ``+dirty`` if sockbench/ has changes; or,
    where ``PYTHONPATH`` puts another copy first, that copy (its commit is the caller's to
    say: a ``git archive`` copy has none)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "sockbench"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"
    checkout = f"`{head}{'+dirty' if dirty else ''}`"
    copy = _copy_measured()
    if copy is not None:  # an A/B against a built copy: this checkout is not what runs
        return f"the copy `{copy}` (PYTHONPATH; this checkout, not measured, at {checkout})"
    return checkout


def _copy_measured() -> Path | None:
    """The first ``PYTHONPATH`` entry holding a sockbench package other than this
    checkout's: what the benchmarks' ``sockbench`` imports instead."""
    for entry in filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)):
        where = Path(entry).resolve()
        if (where / "sockbench" / "__init__.py").is_file():
            return None if where == ROOT.resolve() else where
    return None


def write_markdown(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n")
    print(text)
    log(f"wrote {path}")


def sysctls(names: Sequence[str]) -> dict[str, str]:
    values = {}
    for name in names:
        try:
            values[name] = " ".join(Path("/proc/sys", *name.split(".")).read_text().split())
        except OSError:
            values[name] = "?"
    return values


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _busy_jiffies() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


#: Cores other processes may keep busy for the machine to count as quiet.
QUIET_BELOW = 0.3


def wait_for_quiet(
    max_wait_s: float = 20.0, busy_cores: float = QUIET_BELOW, window_s: float = 0.5
) -> float:
    """Wait (at most ``max_wait_s``) until the machine's other load is below ``busy_cores``.

    Other processes on a shared 2-core machine distort every number, so each run
    starts in a quiet moment when there is one. Returns the busy cores last seen.
    """
    deadline = time.monotonic() + max_wait_s
    cores = os.cpu_count() or 1
    while True:
        b0, t0 = _busy_jiffies()
        time.sleep(window_s)
        b1, t1 = _busy_jiffies()
        busy = (b1 - b0) / max(1, t1 - t0) * cores
        if busy < busy_cores or time.monotonic() > deadline:
            if busy >= busy_cores:
                log(f"(machine still busy: {busy:.2f} cores in use by others; going on)")
            return busy
