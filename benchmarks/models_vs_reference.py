"""Each built-in server model vs the plainest echo server of the same idea.

A comparison of models measures the models only if none of them pays for our
wrapping. So each built-in model runs as the very server process ``sockbench run
--server M`` starts (``python -m sockbench.servers.child ... --cpus 0``), and its
reference, from ``benchmarks/reference_servers/``, as a plain script. Both serve
at once, server on CPU 0, and the same client drives them in turn: ``sockbench
run --target``, 64 B echo, closed loop, client on CPU 1. Built-in and reference
alternate (A B, then B A the next repeat); each cell is the median of the repeats.

Two ratios: throughput, and server CPU time per request (the server's process
tree, read from /proc around each run, over the requests of the run). On a
shared machine throughput moves with everyone else's load; CPU per request
moves far less, so it is the better measure of what a wrapper costs.

Target: built-in >= 0.9 x reference at every point, or a documented reason the
model pays more (docs/models.md).

What it cannot see: a cost that depends on how the process came to be. Both
servers get the client's reachability check (a connection closed unused) before
the load; the asyncio model used to be slow only in processes that never got
such a connection, like the embedded server of ``sockbench run``. The syscall
budget test (``tests/servers/test_servers_syscalls.py``) covers that case.

    .venv/bin/python benchmarks/models_vs_reference.py                 # ~5 min
    .venv/bin/python benchmarks/models_vs_reference.py --clients 10,100,1000 \\
        --duration 3                                                    # the full grid
    .venv/bin/python benchmarks/models_vs_reference.py --models asyncio --clients 10,100,1000
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from _common import (
    PYTHON,
    RESULTS,
    ROOT,
    fmt,
    log,
    machine_line,
    md_table,
    median,
    raise_fd_limit,
    running,
    sockbench_run,
    wait_for_quiet,
    write_markdown,
)

REFERENCES = Path(__file__).resolve().parent / "reference_servers"
# model -> (script, extra arguments)
REFERENCE = {
    "threaded": ("threaded.py", []),
    "threadpool": ("threadpool.py", []),
    "selectors": ("selectors_echo.py", []),
    "asyncio": ("asyncio_echo.py", []),
    "uvloop": ("asyncio_echo.py", ["uvloop"]),
    "trio": ("trio_echo.py", []),
    "prefork": ("prefork.py", ["2"]),
}
PREFORK_PROCESSES = "2"  # the built-in prefork gets as many processes as its reference
SERVER_CPU, CLIENT_CPU = "0", "1"
READY_TIMEOUT_S = 15.0
TARGET = 0.9


@dataclass
class Side:
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # server CPU µs per request


@dataclass
class Cell:
    builtin: Side = field(default_factory=Side)
    reference: Side = field(default_factory=Side)

    def rps_ratio(self) -> float:
        return median(self.builtin.rps) / median(self.reference.rps)

    def cpu_ratio(self) -> float:
        """Reference CPU per request / built-in's: above 1, the built-in is cheaper."""
        return median(self.reference.cpu_us) / median(self.builtin.cpu_us)


@dataclass
class Server:
    url: str
    pid: int


@contextmanager
def started(argv: list[str], url: str) -> Iterator[Server]:
    """Run ``argv`` until it prints a line starting with READY; yield it, stop it at exit."""
    with running(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("READY"):
            raise RuntimeError(f"{' '.join(argv)} did not start")
        # The built-in child says where it bound (port 0 -> a real port).
        yield Server(line.split()[1] if len(line.split()) > 1 else url, proc.pid)


def builtin_server(model: str, proto: str, where: Path) -> Iterator[Server]:
    """The server child exactly as the launcher of ``sockbench run`` starts it."""
    bind = f"unix://{where}" if proto == "unix" else "tcp://127.0.0.1:0"
    from sockbench.core.spec.server import BuiltIn
    from sockbench.servers.spec import to_argv

    processes = int(PREFORK_PROCESSES) if model == "prefork" else 0
    spec = BuiltIn(model, processes=processes, cpus=(int(SERVER_CPU),))
    argv = [
        PYTHON, "-m", "sockbench.servers.child", *to_argv(spec),
        "--proto", proto, "--bind", bind, "--exit-with-parent",
    ]  # fmt: skip
    return started(argv, bind)


def reference_server(model: str, proto: str, where: Path) -> Iterator[Server]:
    script, extra = REFERENCE[model]
    if proto == "unix":
        address, url = f"unix:{where}", f"unix://{where}"
    else:
        port = _free_port()
        address, url = f"tcp:{port}", f"tcp://127.0.0.1:{port}"
    argv = ["taskset", "-c", SERVER_CPU, PYTHON, str(REFERENCES / script), address, *extra]
    return started(argv, url)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants (prefork workers)."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def drive(server: Server, proto: str, clients: int, a: argparse.Namespace) -> tuple[float, float]:
    """One client run against ``server``: (req/s, server CPU µs per request)."""
    args = [
        "--proto", proto, "--target", server.url, "--clients", str(clients),
        "--duration", str(a.duration), "--warmup", "0", "--payload", "64",
        "--client-cpus", CLIENT_CPU, "--quiet",
    ]  # fmt: skip
    before = cpu_seconds(server.pid)
    result = sockbench_run(args, timeout_s=a.duration + 120)
    used = cpu_seconds(server.pid) - before
    totals = result["totals"]
    errors = sum(totals["errors"].values())
    if errors:
        log(f"    ({errors} errors: {totals['errors']})")
    # The connections' setup and the reachability check count too: the same for both.
    return float(totals["throughput_rps"]), used * 1e6 / max(1, totals["requests"])


def measure(model: str, proto: str, a: argparse.Namespace, cells: dict[tuple, Cell]) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        builtin_server(model, proto, Path(tmp) / "builtin.sock") as builtin,
        reference_server(model, proto, Path(tmp) / "ref.sock") as reference,
    ):
        for clients in a.clients:
            cell = cells.setdefault((model, proto, clients), Cell())
            order = [("builtin", builtin), ("reference", reference)]
            for rep in range(a.repeats):
                for name, server in order if rep % 2 == 0 else order[::-1]:
                    wait_for_quiet(max_wait_s=a.quiet_wait)
                    rps, cpu_us = drive(server, proto, clients, a)
                    side = getattr(cell, name)
                    side.rps.append(rps)
                    side.cpu_us.append(cpu_us)
                    log(f"  {model:10} {proto:4} c{clients:<5} {name:9} "
                        f"{rps:10,.0f} req/s {cpu_us:6.1f} µs CPU/req")  # fmt: skip


def report(cells: dict[tuple, Cell], a: argparse.Namespace, started_at: float) -> str:
    def flag(ratio: float) -> str:
        return f"{ratio:.2f}×" + ("" if ratio >= TARGET else " ⚠")

    rows = []
    for (model, proto, clients), cell in cells.items():
        b, r = cell.builtin, cell.reference
        rows.append([
            model, proto, fmt(clients), fmt(median(b.rps)), fmt(median(r.rps)),
            flag(cell.rps_ratio()), fmt(median(b.cpu_us), 1), fmt(median(r.cpu_us), 1),
            flag(cell.cpu_ratio()),
            " / ".join(fmt(v / 1000) + "k" for v in b.rps),
            " / ".join(fmt(v / 1000) + "k" for v in r.rps),
        ])  # fmt: skip
    headers = [
        "model", "proto", "clients", "built-in req/s", "reference req/s", "req/s ratio",
        "built-in CPU µs/req", "reference CPU µs/req", "CPU ratio (ref / built-in)",
        "built-in runs", "reference runs",
    ]  # fmt: skip
    took = (time.monotonic() - started_at) / 60
    return "\n\n".join([
        "# Built-in server models vs minimal reference servers (64 B echo, closed loop)",
        f"Machine: {machine_line()}. Server pinned to CPU {SERVER_CPU}, client to CPU "
        f"{CLIENT_CPU}; {a.duration:g} s per run; built-in and reference alternated, "
        f"{a.repeats} repeats, medians. Built-in: the server child `sockbench run --server "
        "M` starts; reference: `benchmarks/reference_servers/`; both driven by `sockbench "
        "run --target`. CPU µs/req: the server's CPU time over the run / its requests. "
        f"Target: ≥ {TARGET}× (⚠ below). Took {took:.1f} min.",
        f"Command: `{a.command}`",
        md_table(headers, rows, "llrrrrrrrll"),
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(REFERENCE))
    parser.add_argument("--protos", default="tcp,unix")
    parser.add_argument("--clients", default="100", help="e.g. 10,100,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=float, default=1.5)
    parser.add_argument("--quiet-wait", type=float, default=3.0, help="max s to wait for calm")
    parser.add_argument("--out", type=Path, default=RESULTS / "models_vs_reference.md")
    a = parser.parse_args()
    a.models = [m for m in a.models.split(",") if m]
    unknown = set(a.models) - set(REFERENCE)
    if unknown:
        parser.error(f"no reference for {', '.join(sorted(unknown))}")
    a.clients = [int(c) for c in a.clients.split(",")]
    a.command = "benchmarks/models_vs_reference.py " + " ".join(sys.argv[1:])
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs 2 CPUs: the server on CPU 0, the client on CPU 1")
    machine_line()
    raise_fd_limit()
    # The server child must import this very sockbench, installed or not.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
    )
    started_at = time.monotonic()
    cells: dict[tuple, Cell] = {}
    try:
        for proto in a.protos.split(","):
            for model in a.models:
                measure(model, proto, a, cells)
    finally:
        if cells:
            write_markdown(a.out, report(cells, a, started_at))


if __name__ == "__main__":
    main()
