"""Where a connected client's memory goes: a tracemalloc profile per client.

Runs ``--clients`` of the engine's own client tasks in this process (trio), against a
``sockbench serve --server selectors`` process, in two modes:

* open loop (``clients.reference.open_loop``) at 0.01 requests/s per client: connected
  and nearly idle, the case ``benchmarks/scale.py`` measures;
* closed loop (``clients.reference.closed_loop``): busy ping-pong;

each also through the pump (``clients.pump.Pump``, the default driver: one task per
worker, a ``__slots__`` record per client).

Once every client is connected and running, a tracemalloc snapshot is compared with
one taken before the clients started; the table lists the source lines that hold
the most memory, in bytes per client. The RSS growth per client is measured in a run
of its own without tracemalloc, whose traces (a few hundred bytes per live block, and
a table sized by the connect phase's peak) would count as the clients' memory.

    .venv/bin/python benchmarks/client_memory.py             # 2000 clients, ~30 s
"""

from __future__ import annotations

import argparse
import gc
import json
import linecache
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil
import trio
from _common import (
    PYTHON,
    RESULTS,
    SOCKBENCH,
    free_port,
    log,
    machine_line,
    md_table,
    raise_fd_limit,
    run_bounded,
    running,
    wait_tcp,
    write_markdown,
)

from sockbench.core.exchange import NEVER, RequestWindow
from sockbench.core.expect import Echo
from sockbench.core.schedule import RateSchedule
from sockbench.endpoints import Endpoint, Proto
from sockbench.engine.clients import reference
from sockbench.engine.clients.context import ClientContext
from sockbench.engine.clients.gate import StartGate
from sockbench.engine.clients.pump import Pump
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.worker.workload import payload_bytes

PAYLOAD = 64
# "(pump)": every client in the worker's one pump (the default); else a task per client.
MODES = ("open loop (pump)", "open loop", "closed loop (pump)", "closed loop")
TOP = 12
ROOT = Path(__file__).resolve().parents[1]


async def profile(
    mode: str, port: int, clients: int, settle_s: float
) -> tuple[list[list[str]], float, float]:
    """(rows of the top source lines, traced KiB per client, RSS KiB per client).

    Untraced (tracemalloc off): no rows, RSS only.
    """
    traced = tracemalloc.is_tracing()
    endpoint = Endpoint(Proto.TCP, "127.0.0.1", port)
    request = payload_bytes(PAYLOAD)
    window = RequestWindow(10 * 10**9, clients=clients, measure_start_ns=0, measure_end_ns=NEVER)
    stats = WorkerRecorder(clients, window, open_loop="open loop" in mode)
    gate = StartGate(clients)
    limiter = trio.CapacityLimiter(256)
    schedule = RateSchedule(clients * 0.01, clients) if "open loop" in mode else None
    me = psutil.Process()
    gc.collect()
    before = tracemalloc.take_snapshot() if traced else None
    rss0 = me.memory_info().rss
    contexts = [
        ClientContext(
            endpoint,
            request,
            Echo(request),
            10.0,
            stats,
            gate,
            limiter,
            index=i,
            schedule=schedule.client(i) if schedule is not None else None,
        )
        for i in range(clients)
    ]
    async with trio.open_nursery() as nursery:
        if "(pump)" in mode:
            nursery.start_soon(Pump(contexts).run)
        for ctx in contexts if "(pump)" not in mode else ():
            nursery.start_soon(reference.open_loop if schedule else reference.closed_loop, ctx)
        with trio.fail_after(120):
            await gate.all_attempted.wait()
        if stats.connections != clients:
            raise RuntimeError(f"only {stats.connections} of {clients} connected")
        stats.start_ns = time.monotonic_ns()
        gate.go.set()
        await trio.sleep(settle_s)
        gc.collect()
        after = tracemalloc.take_snapshot() if traced else None
        rss1 = me.memory_info().rss
        nursery.cancel_scope.cancel()
    rss = (rss1 - rss0) / clients / 1024
    if before is None or after is None:
        return [], 0.0, rss
    diffs = after.compare_to(before, "lineno")
    total = sum(d.size_diff for d in diffs)
    rows = []
    for d in diffs[:TOP]:
        frame = d.traceback[0]
        code = linecache.getline(frame.filename, frame.lineno).strip().replace("|", "\\|")
        rows.append(
            [
                f"{_short(frame.filename)}:{frame.lineno}",
                f"`{code[:70]}`" if code else "",
                f"{d.size_diff / clients:,.0f}",
                f"{d.count_diff / clients:.2f}",
            ]
        )
    rest = total - sum(d.size_diff for d in diffs[:TOP])
    rows.append(["everything else", "", f"{rest / clients:,.0f}", ""])
    rows.append(["**total**", "", f"**{total / clients:,.0f}**", ""])
    return rows, total / clients / 1024, rss


def _short(path: str) -> str:
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.split(f"{ROOT}/", 1)[-1]


def measure_one(mode: str, clients: int, settle_s: float, traced: bool) -> dict[str, object]:
    """Profile one mode in this (fresh) process, so RSS starts from nothing reused."""
    raise_fd_limit()
    port = free_port()
    server = [*SOCKBENCH, "serve", "--server", "selectors", "--bind", f"127.0.0.1:{port}"]
    with running(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        wait_tcp(port)
        if traced:
            tracemalloc.start(1)
        rows, per_client, rss = trio.run(profile, mode, port, clients, settle_s)
        tracemalloc.stop()
    return {"rows": rows, "traced": per_client, "rss": rss}


def _run_one(mode: str, args: argparse.Namespace, traced: bool) -> dict[str, Any]:
    argv = [PYTHON, __file__, "--only", mode, "--clients", str(args.clients),
            "--settle", str(args.settle), *(["--traced"] if traced else [])]  # fmt: skip
    done = run_bounded(argv, timeout_s=300)
    if done.returncode != 0:
        sys.exit(done.stderr.decode(errors="replace")[-3000:])
    got: dict[str, Any] = json.loads(done.stdout)
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds of running")
    parser.add_argument("--only", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "client_memory.md")
    args = parser.parse_args()
    log(f"measuring {machine_line()}")
    if args.only:
        print(json.dumps(measure_one(args.only, args.clients, args.settle, args.traced)))
        return
    sections = []
    summary = []
    for mode in MODES:
        got = _run_one(mode, args, traced=True)
        rss = _run_one(mode, args, traced=False)["rss"]
        traced = got["traced"]
        log(f"{mode}: {traced:.1f} KiB traced, {rss:.1f} KiB RSS per client")
        summary.append([mode, f"{rss:.1f}", f"{traced:.1f}"])
        sections += [
            f"## {mode.capitalize()}: {traced:.1f} KiB traced, {rss:.1f} KiB RSS per client",
            "",
            md_table(
                ["allocated at", "code", "bytes / client", "blocks / client"], got["rows"], "llrr"
            ),
            "",
        ]
    text = "\n".join(
        [
            "# Memory per connected client (tracemalloc)",
            "",
            f"Machine: {machine_line()}. {args.clients:,} clients of the engine's own tasks "
            f"in one trio loop (a fresh process per mode and measure), {args.settle:g} s "
            "after all connected; live memory by the source line that allocated it "
            "(snapshot after - before). RSS growth, measured without tracemalloc (its "
            "traces would count), also counts what tracemalloc cannot see (allocator "
            "slack, memory kept after the connect phase, interpreter caches).",
            "",
            "    .venv/bin/python benchmarks/client_memory.py --clients "
            f"{args.clients} --settle {args.settle:g}",
            "",
            md_table(["mode", "RSS KiB / client", "traced KiB / client"], summary, "lrr"),
            "",
            *sections,
        ]
    )
    write_markdown(args.out, text)


if __name__ == "__main__":
    main()
