"""Each built-in server model vs the plainest echo server of the same idea.

A comparison of models measures the models only if none of them pays for our
wrapping. So each built-in model runs exactly as ``sockbench run --server M``
embeds it (the default of every run), and its reference, from
``benchmarks/reference_servers/``, runs as a plain script; both are driven by the
same client: ``sockbench run``, 64 B echo, closed loop. Server on CPU 0, client on
CPU 1, so the two never share a core; built-in and reference alternate (A B A B,
then B A B A the next repeat) and each cell is the median of the repeats.

Target: built-in >= 0.9 x reference at every point, or a documented reason the
model pays more (docs/models.md). A ratio on a shared, busy machine has a few
percent of noise even alternated; look at the repeats before reading one cell.

The reference is reached as an external target, so the client's reachability
check connects (and closes) once before the load: that connection is part of
what the reference measures, as it is for any ``--target`` run.

    .venv/bin/python benchmarks/models_vs_reference.py                 # ~6 min
    .venv/bin/python benchmarks/models_vs_reference.py --clients 10,100,1000 \\
        --duration 3 --warmup 1                                         # the full grid
    .venv/bin/python benchmarks/models_vs_reference.py --models asyncio --clients 10,100,1000
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    PYTHON,
    RESULTS,
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
# The built-in prefork gets as many processes as its reference.
MODEL_ARGS = {"prefork": ["--server-processes", "2"]}
SERVER_CPU, CLIENT_CPU = "0", "1"
READY_TIMEOUT_S = 15.0
TARGET = 0.9


@dataclass
class Cell:
    builtin: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    def ratio(self) -> float:
        return median(self.builtin) / median(self.reference)


@contextmanager
def reference_server(model: str, proto: str, where: Path) -> Iterator[str]:
    """Start the reference for ``model`` pinned to the server CPU; yield its target URL."""
    script, extra = REFERENCE[model]
    if proto == "unix":
        address, url = f"unix:{where}", f"unix://{where}"
    else:
        port = _free_port()
        address, url = f"tcp:{port}", f"tcp://127.0.0.1:{port}"
    argv = ["taskset", "-c", SERVER_CPU, PYTHON, str(REFERENCES / script), address, *extra]
    with running(argv, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
        if not ready or not proc.stdout.readline().startswith(b"READY"):
            raise RuntimeError(f"reference server {script} did not start")
        yield url


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def throughput(args: list[str], clients: int, a: argparse.Namespace) -> float:
    common = [
        "--clients", str(clients), "--duration", str(a.duration), "--warmup", str(a.warmup),
        "--payload", "64", "--client-cpus", CLIENT_CPU, "--quiet",
    ]  # fmt: skip
    timeout = a.duration + a.warmup + 120
    result = sockbench_run([*args, *common], timeout_s=timeout)
    errors = sum(result["totals"]["errors"].values())
    if errors:
        log(f"    ({errors} errors: {result['totals']['errors']})")
    return float(result["totals"]["throughput_rps"])


def measure(model: str, proto: str, a: argparse.Namespace, cells: dict[tuple, Cell]) -> None:
    builtin = ["--proto", proto, "--server", model, "--server-cpus", SERVER_CPU]
    builtin += MODEL_ARGS.get(model, [])
    with (
        tempfile.TemporaryDirectory() as tmp,
        reference_server(model, proto, Path(tmp) / "ref.sock") as url,
    ):
        reference = ["--proto", proto, "--target", url]
        for clients in a.clients:
            cell = cells.setdefault((model, proto, clients), Cell())
            for rep in range(a.repeats):
                order = [("builtin", builtin), ("reference", reference)]
                for name, args in order if rep % 2 == 0 else order[::-1]:
                    wait_for_quiet(max_wait_s=a.quiet_wait)
                    rps = throughput(args, clients, a)
                    getattr(cell, name).append(rps)
                    log(f"  {model:10} {proto:4} c{clients:<5} {name:9} {rps:10,.0f} req/s")


def report(cells: dict[tuple, Cell], a: argparse.Namespace, started: float) -> str:
    rows = []
    for (model, proto, clients), cell in cells.items():
        ratio = cell.ratio()
        flag = "" if ratio >= TARGET else " ⚠"
        rows.append([
            model, proto, fmt(clients), fmt(median(cell.builtin)), fmt(median(cell.reference)),
            f"{ratio:.2f}×{flag}",
            " / ".join(fmt(v / 1000) + "k" for v in cell.builtin),
            " / ".join(fmt(v / 1000) + "k" for v in cell.reference),
        ])  # fmt: skip
    headers = [
        "model", "proto", "clients", "built-in req/s", "reference req/s", "built-in / ref",
        "built-in runs", "reference runs",
    ]  # fmt: skip
    return "\n\n".join([
        "# Built-in server models vs minimal reference servers (64 B echo, closed loop)",
        f"Machine: {machine_line()}. Server pinned to CPU {SERVER_CPU}, client to CPU "
        f"{CLIENT_CPU}; {a.duration:g} s measured after {a.warmup:g} s warm-up per run; "
        f"built-in and reference alternated, {a.repeats} repeats, medians. Built-in: "
        "`sockbench run --server M` (embedded, as every run starts it); reference: "
        "`benchmarks/reference_servers/`, reached with `sockbench run --target`. "
        f"Target: ≥ {TARGET}× (⚠ below). Took {(time.monotonic() - started) / 60:.1f} min.",
        f"Command: `{a.command}`",
        md_table(headers, rows, "llrrrrll"),
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(REFERENCE))
    parser.add_argument("--protos", default="tcp,unix")
    parser.add_argument("--clients", default="100", help="e.g. 10,100,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=0.5)
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
    started = time.monotonic()
    cells: dict[tuple, Cell] = {}
    try:
        for proto in a.protos.split(","):
            for model in a.models:
                measure(model, proto, a, cells)
    finally:
        if cells:
            write_markdown(a.out, report(cells, a, started))


if __name__ == "__main__":
    main()
