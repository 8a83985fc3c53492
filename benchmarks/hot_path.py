"""What one closed-loop echo request costs the generator: syscalls, allocations, CPU.

A ``sockbench serve --server selectors`` process is the server (never the generator).
For TCP, UDP, unix and unix-dgram (``--protos``), 1 and 100 clients, and both engine
paths: the batched pump (``clients.pump.Pump``, one epoll set for all of a worker's
sockets; the default for every echo workload) and a trio task per client (``--no-batch``):

1. **Syscalls per request**: ``perf stat -e syscalls:sys_enter_*`` counts (in the
   kernel, without slowing the process down) the syscalls of a whole
   ``sockbench run --target ... --warmup 0 --workers 1``, once with a short and once
   with a long measurement window. The difference between the two, divided by the
   difference in requests, is the marginal cost of a request: start-up, imports,
   connects and teardown cancel out. (``/proc/PID/io`` ``syscr``/``syscw`` are no use
   here: they count read()/write()-family calls, not send/recv on sockets.) Without
   perf, ``strace -f -c`` does the counting (slower, same counts).
2. **CPU per request**: the same runs' ``task-clock`` (marginal, as above), and the
   result's own ``generator.cpu_percent_mean`` × duration / requests.
3. **Allocations per request**: an in-process harness runs the engine's own client
   code (``Pump`` or ``reference.closed_loop`` tasks) against the same server
   and counts, over
   ``--requests`` requests in steady state, every allocation through CPython's object
   and mem allocators (a small C hook compiled on the fly from ``_allocount.c``; net
   live blocks from ``sys.getallocatedblocks()`` when there is no compiler), plus the
   allocations of the primitives one request uses.

    .venv/bin/python benchmarks/hot_path.py            # ~4 minutes
    .venv/bin/python benchmarks/hot_path.py --quick    # ~1 minute
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import trio
from _common import (
    RESULTS,
    SOCKBENCH,
    fmt,
    free_port,
    log,
    machine_line,
    md_table,
    median,
    run_bounded,
    running,
    wait_for_quiet,
    wait_tcp,
    write_markdown,
)

from sockbench.core.exchange import NEVER, RequestWindow, stream_exchange
from sockbench.core.expect import Echo
from sockbench.endpoints import Endpoint, Proto
from sockbench.engine.clients import reference
from sockbench.engine.clients.context import ClientContext
from sockbench.engine.clients.gate import StartGate
from sockbench.engine.clients.pump import Pump
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.worker.workload import payload_bytes

HERE = Path(__file__).resolve().parent
SYSCALLS = ("sendto", "recvfrom", "epoll_ctl", "epoll_wait", "epoll_pwait", "read", "write")
PAYLOAD = 64
BATCHED = "batched pump"
# engine path -> extra `sockbench run` options
PATHS = {BATCHED: [], "task per client": ["--no-batch"]}


# --- 1 and 2: syscalls and CPU of a real `sockbench run` -----------------------------


def perf_events() -> list[str]:
    return [f"syscalls:sys_enter_{name}" for name in SYSCALLS] + [
        "raw_syscalls:sys_enter",
        "task-clock",
    ]


def perf_works() -> bool:
    if shutil.which("perf") is None:
        return False
    argv = ["perf", "stat", "-x,", "-e", ",".join(perf_events()), "--", "true"]
    done = run_bounded(argv, timeout_s=30)
    return done.returncode == 0 and b"not supported" not in done.stderr


def parse_perf(path: Path) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in path.read_text().splitlines():
        parts = line.split(",")
        if len(parts) < 3 or line.startswith("#"):
            continue
        value, event = parts[0], parts[2]
        with contextlib.suppress(ValueError):
            name = event.removeprefix("syscalls:sys_enter_").removeprefix("raw_syscalls:")
            counts["all syscalls" if name == "sys_enter" else name] = float(value)
    return counts


def parse_strace(path: Path) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit():
            name = parts[-1]
            calls = int(parts[3])
            if name == "total":
                counts["all syscalls"] = calls
            else:
                counts[name] = calls
    return counts


def counted_run(
    target: str,
    clients: int,
    seconds: float,
    path: str,
    tool: str,
    workdir: Path,
    client_cpu: str = "",
) -> tuple[dict[str, float], dict[str, Any]]:
    """Syscall counts and the result of one ``sockbench run`` against the server."""
    sb = [
        *SOCKBENCH, "run", "--target", target, "--clients", str(clients),
        "--payload", str(PAYLOAD), "--warmup", "0", "--duration", str(seconds),
        "--workers", "1", "--json", "-", "--out", "", *PATHS[path],
    ]  # fmt: skip
    if client_cpu:
        sb += ["--client-cpus", client_cpu]
    out = workdir / f"count-{clients}-{seconds}-{path.split()[0]}.txt"
    wait_for_quiet()
    if tool == "perf":
        argv = ["perf", "stat", "-x,", "-o", str(out), "-e", ",".join(perf_events()), "--", *sb]
    else:
        argv = ["strace", "-f", "-c", "-o", str(out), *sb]
    done = run_bounded(argv, timeout_s=seconds + 120)
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:]) from None
    counts = parse_perf(out) if tool == "perf" else parse_strace(out)
    return counts, result


def syscall_rows(proto: str, target: str, args: argparse.Namespace, tool: str) -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="sockbench-hot-") as tmp:
        for path, clients in ((p, c) for p in args.paths for c in args.clients):
            marginal: dict[str, list[float]] = {}
            sampled_cpu: list[float] = []
            rps: list[float] = []
            for rep in range(args.reps):
                short, r_short = counted_run(
                    target, clients, args.short, path, tool, Path(tmp), args.client_cpu
                )
                long, r_long = counted_run(
                    target, clients, args.long, path, tool, Path(tmp), args.client_cpu
                )
                dreq = r_long["totals"]["requests"] - r_short["totals"]["requests"]
                for key in {*short, *long}:
                    value = (long.get(key, 0) - short.get(key, 0)) / dreq
                    marginal.setdefault(key, []).append(value)
                gen = r_long["generator"]
                sampled_cpu.append(
                    gen["cpu_percent_mean"] / 100 * r_long["duration_s"]
                    / r_long["totals"]["requests"] * 1e6
                )  # fmt: skip
                rps.append(r_long["totals"]["throughput_rps"])
                log(
                    f"  {proto} {path} C={clients} rep {rep + 1}: {rps[-1]:,.0f} req/s, per req "
                    + ", ".join(f"{k} {v[-1]:.2f}" for k, v in sorted(marginal.items()))
                )
            per = {k: median(v) for k, v in marginal.items()}
            cpu_us = per.get("task-clock", float("nan")) * 1000  # ms per request -> µs
            epoll_waits = per.get("epoll_wait", 0) + per.get("epoll_pwait", 0)
            other = per.get("all syscalls", 0) - sum(
                per.get(k, 0) for k in ("sendto", "recvfrom", "epoll_ctl", "epoll_wait",
                                        "epoll_pwait")
            )  # fmt: skip
            rows.append(
                [
                    proto,
                    path,
                    f"{clients}",
                    fmt(median(rps)),
                    f"{per.get('sendto', 0):.3f}",
                    f"{per.get('recvfrom', 0):.3f}",
                    f"{per.get('epoll_ctl', 0):.3f}",
                    f"{epoll_waits:.3f}",
                    f"{other:.3f}",
                    f"{per.get('all syscalls', 0):.3f}",
                    fmt(cpu_us, 1),
                    fmt(median(sampled_cpu), 1),
                ]
            )
    return rows


def syscall_table(targets: dict[str, str], args: argparse.Namespace) -> str:
    tool = "perf" if perf_works() else "strace"
    if tool == "strace" and shutil.which("strace") is None:
        return "(neither perf nor strace is available: syscalls not counted)"
    log(f"counting syscalls with {tool}")
    rows = [
        row for proto, target in targets.items() for row in syscall_rows(proto, target, args, tool)
    ]
    headers = [
        "proto", "engine path", "clients", "req/s", "send (sendto)", "recv (recvfrom)", "epoll_ctl",
        "epoll_wait", "other", "all syscalls", "CPU µs/req (task-clock, marginal)",
        "CPU µs/req (sampled in window)",
    ]  # fmt: skip
    how = (
        f"Counted with `{tool}` over whole runs of {args.short:g} s and {args.long:g} s; "
        "each value is (long - short) / (requests long - requests short), median of "
        f"{args.reps}. `other`: everything else (the resource sampler's /proc reads, "
        "the interval ticker's timer, ...)."
    )
    return how + "\n\n" + md_table(headers, rows, "ll" + "r" * (len(headers) - 2))


# --- 3: allocations in an in-process harness ------------------------------------------


def build_allocount() -> ModuleType | None:
    """Compile _allocount.c into a temp dir and import it; None without a compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    include = sysconfig.get_paths()["include"]
    if cc is None or not Path(include, "Python.h").exists():
        return None
    build = Path(tempfile.mkdtemp(prefix="sockbench-allocount-"))
    target = build / f"_allocount{sysconfig.get_config_var('EXT_SUFFIX')}"
    argv = [cc, "-O2", "-shared", "-fPIC", f"-I{include}", str(HERE / "_allocount.c"),
            "-o", str(target)]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            log(f"cannot build the allocation counter: {done.stderr.decode()[-500:]}")
            return None
        loader = importlib.machinery.ExtensionFileLoader("_allocount", str(target))
        spec = importlib.util.spec_from_file_location("_allocount", target, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        return module
    finally:
        shutil.rmtree(build, ignore_errors=True)


class Counter:
    """Gross allocations (with the C hook) and net live blocks."""

    def __init__(self, hook: ModuleType | None) -> None:
        self.hook = hook

    def read(self) -> tuple[int, int]:
        gross = sum(self.hook.counts()[:2]) if self.hook is not None else -1
        return gross, sys.getallocatedblocks()

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        if self.hook is not None:
            self.hook.install()
        try:
            yield
        finally:
            if self.hook is not None:
                self.hook.uninstall()


async def steady_state(
    port: int, clients: int, path: str, warm: int, n: int, counter: Counter
) -> tuple[float, float, float, float]:
    """(gross allocs, net blocks, CPU µs, wall µs) per request over ``n`` requests."""
    endpoint = Endpoint(Proto.TCP, "127.0.0.1", port)
    request = payload_bytes(PAYLOAD)
    window = RequestWindow(5 * 10**9, clients=clients, measure_start_ns=0, measure_end_ns=NEVER)
    recorder = WorkerRecorder(clients, window)
    gate = StartGate(clients)
    limiter = trio.CapacityLimiter(256)
    contexts = [
        ClientContext(endpoint, request, Echo(request), 5.0, recorder, gate, limiter)
        for _ in range(clients)
    ]
    async with trio.open_nursery() as nursery:
        if path == BATCHED:
            nursery.start_soon(Pump(contexts).run)
        else:
            for ctx in contexts:
                nursery.start_soon(reference.closed_loop, ctx)
        await gate.all_attempted.wait()
        if recorder.connections != clients:
            raise RuntimeError(f"only {recorder.connections} of {clients} clients connected")
        gate.go.set()
        await _reach(recorder, warm)
        gc.collect()
        first = recorder.requests
        allocs0, blocks0 = counter.read()
        cpu0, t0 = time.process_time_ns(), time.perf_counter_ns()
        await _reach(recorder, warm + n)
        cpu1, t1 = time.process_time_ns(), time.perf_counter_ns()
        allocs1, blocks1 = counter.read()
        done = recorder.requests - first
        nursery.cancel_scope.cancel()
    return (
        (allocs1 - allocs0) / done if allocs0 >= 0 else float("nan"),
        (blocks1 - blocks0) / done,
        (cpu1 - cpu0) / done / 1e3,
        (t1 - t0) / done / 1e3,
    )


async def _reach(recorder: WorkerRecorder, requests: int) -> None:
    """Wait until ``requests`` completed (looking every 10 ms: a few allocations per look)."""
    with trio.fail_after(120):
        while recorder.requests < requests:
            await trio.sleep(0.01)


def primitive_allocs(counter: Counter, loops: int = 20_000) -> list[tuple[str, float]]:
    """Allocations of the building blocks of one request, each alone in a loop."""
    window = RequestWindow(5 * 10**9, measure_start_ns=0, measure_end_ns=NEVER)
    request = payload_bytes(PAYLOAD)
    exchange = stream_exchange(window, WorkerRecorder(0, window), Echo(request), PAYLOAD)

    def measure(body: Callable[[], Any]) -> float:
        async def main() -> float:
            await body()  # warm caches
            a0, _ = counter.read()
            for _ in range(loops):
                await body()
            a1, _ = counter.read()
            return (a1 - a0) / loops

        return float(trio.run(main))

    async def monotonic() -> None:
        time.monotonic_ns()

    async def move_on() -> None:
        with trio.move_on_after(1.0):
            pass

    async def checkpoint() -> None:
        await trio.lowlevel.checkpoint()

    async def complete() -> None:
        start = time.monotonic_ns()
        exchange.issue(start, start)
        exchange.space()[:PAYLOAD] = request
        exchange.received(PAYLOAD, start + 25_000)

    async def nothing() -> None:
        pass

    empty = measure(nothing)  # the loop and the coroutine object itself
    rows = [
        ("`time.monotonic_ns()`", measure(monotonic)),
        ("`with trio.move_on_after(t): pass`", measure(move_on)),
        (
            "`await trio.lowlevel.checkpoint()` (one trip through the scheduler)",
            measure(checkpoint),
        ),
        (
            "`time.monotonic_ns()` + `StreamExchange.issue` + `.received` (all bookkeeping)",
            measure(complete),
        ),
    ]
    return [(name, value - empty) for name, value in rows]


def allocation_table(port: int, args: argparse.Namespace) -> str:
    hook = build_allocount()
    counter = Counter(hook)
    rows = []
    with counter.counting():
        for path, clients in ((p, c) for p in args.paths for c in args.clients):
            n = args.requests
            samples = []
            for _ in range(args.reps):
                wait_for_quiet()
                samples.append(
                    trio.run(steady_state, port, clients, path, args.requests // 5, n, counter)
                )
            gross, net, cpu, wall = (median([s[i] for s in samples]) for i in range(4))
            log(f"  {path} C={clients}: {gross:.2f} allocations, {net:+.4f} net blocks per request")
            rows.append(
                [path, str(clients), f"{n:,}", fmt(gross, 2), f"{net:+.4f}", fmt(cpu, 1),
                 fmt(wall, 1)]
            )  # fmt: skip
        prims = primitive_allocs(counter) if hook is not None else []
    headers = ["engine path", "clients", "requests measured", "allocations / request",
               "net live blocks / request", "CPU µs / request", "wall µs / request"]  # fmt: skip
    text = [
        "In-process harness: the engine's own client code against the same server: "
        "`Pump` (one epoll pump for all clients, the default for closed-loop "
        "ping-pong) or `reference.closed_loop` (a trio task per client, `--no-batch`); "
        f"{args.requests:,} requests after {args.requests // 5:,} of warm-up, "
        f"median of {args.reps}. Allocations: every malloc/calloc through CPython's object "
        "and mem allocators (a counting hook, `benchmarks/_allocount.c`), i.e. every "
        "object created, even if freed right away; net live blocks: "
        "`sys.getallocatedblocks()` after - before (0 = nothing retained).",
        "",
        md_table(headers, rows, "l" + "r" * (len(headers) - 1)),
        "",
    ]
    if hook is None:
        text.append("(No C compiler: allocations not counted, net blocks only.)")
    if prims:
        text += [
            "Allocations of the pieces of one request, each alone in a trio loop:",
            "",
            md_table(["operation", "allocations"], [[n, f"{v:.2f}"] for n, v in prims], "lr"),
            "",
        ]
    return "\n".join(text)


@contextlib.contextmanager
def serving(proto: str, args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    """A ``sockbench serve`` process for ``proto``, pinned; yields its target URL."""
    if proto.startswith("unix"):
        bind = str(tmp / f"{proto}.sock")
        target = f"{proto}://{bind}"
    else:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        bind = f"127.0.0.1:{free_port(kind)}"
        target = f"{proto}://{bind}"
    server = [*SOCKBENCH, "serve", "--server", args.model, "--proto", proto, "--bind", bind]
    if args.server_cpu and shutil.which("taskset"):
        server = ["taskset", "-c", args.server_cpu, *server]
    with running(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        wait_ready(proto, bind)
        yield target


def wait_ready(proto: str, bind: str, timeout_s: float = 10.0) -> None:
    """Until the server answers: a TCP accept, a Unix path, or a datagram echoed."""
    if proto == "tcp":
        wait_tcp(int(bind.rsplit(":", 1)[1]))
        return
    deadline = time.monotonic() + timeout_s
    while not (proto.startswith("unix") and Path(bind).exists()) and proto != "udp":
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {proto} server at {bind}")
        time.sleep(0.05)
    if proto != "udp":
        return
    host, port = bind.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        while True:
            try:
                probe.sendto(b"ping-probe", (host, int(port)))
                probe.recvfrom(64)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no udp server at {bind}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,100")
    parser.add_argument("--short", type=float, default=1.0, help="short run, seconds")
    parser.add_argument("--long", type=float, default=6.0, help="long run, seconds")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100_000, help="harness requests")
    parser.add_argument("--model", default="selectors", help="server model")
    parser.add_argument("--paths", default=",".join(PATHS), help="engine paths to measure")
    parser.add_argument("--server-cpu", default="0", help="pin the server ('' = no pinning)")
    parser.add_argument("--client-cpu", default="1", help="pin the generator ('' = no pinning)")
    parser.add_argument("--protos", default="tcp,udp,unix,unix-dgram", help="transports")
    parser.add_argument("--quick", action="store_true", help="shorter runs, 1 rep")
    parser.add_argument("--out", type=Path, default=RESULTS / "hot_path.md")
    args = parser.parse_args()
    log(f"measuring {machine_line()}")
    if args.quick:
        args.long, args.reps, args.requests = 3.0, 1, 30_000
    args.clients = [int(c) for c in args.clients.split(",")]
    args.paths = [p for p in args.paths.split(",") if p in PATHS]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sockbench-hot-srv-")))
        targets = {p: stack.enter_context(serving(p, args, tmp)) for p in args.protos.split(",")}
        syscalls = syscall_table(targets, args)
        if args.client_cpu:  # the in-process harness is the generator here
            os.sched_setaffinity(0, {int(args.client_cpu)})
        allocs = (
            allocation_table(int(targets["tcp"].rsplit(":", 1)[1]), args)
            if "tcp" in targets
            else ""
        )
    text = "\n".join(
        [
            "# Hot path: one closed-loop echo request, as the generator sees it",
            "",
            f"Machine: {machine_line()}. Server: `sockbench serve --server {args.model}` in its "
            f"own process; {PAYLOAD}-byte requests; generator `--workers 1`. Pinning: server "
            f"on CPU {args.server_cpu or '(any)'}, generator on CPU {args.client_cpu or '(any)'} "
            "(unpinned, one-client numbers jump between two modes: same or different CPU).",
            "Target: one send and one recv per request in the common case (epoll calls "
            "reported apart), no per-request allocation in steady state.",
            "",
            "## Syscalls and CPU per request (`sockbench run`)",
            "",
            syscalls,
            "",
            "## Allocations per request (in-process harness)",
            "",
            allocs,
        ]
    )
    write_markdown(args.out, text)


if __name__ == "__main__":
    main()
