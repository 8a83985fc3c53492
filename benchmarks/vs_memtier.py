"""sockbench vs memtier_benchmark: SET/GET against one redis-server and one memcached.

Both tools on one thread (``memtier_benchmark -t 1``, ``sockbench --workers 1``), the
server pinned to CPU 0 and each generator to CPU 1 (``taskset -c 1`` and
``--client-cpus 1``), alternated A B A B, ``--reps`` times per cell; the tables report
medians. A cell is (server, clients, ratio, pipeline); by default 1, 10, 50 and 500
clients, ``--ratio 1:10`` and ``1:0``, with and without ``--pipeline 8``:

    memtier_benchmark -s 127.0.0.1 -p PORT -P redis|memcache_text -t 1 -c C \\
        --ratio S:G --pipeline P -d 32 --key-pattern R:R --key-minimum 1 \\
        --key-maximum K --distinct-client-seed --test-time W+1 \\
        --print-percentiles 50,99 --hide-histogram --json-out-file FILE
    sockbench run --target tcp://127.0.0.1:PORT --protocol redis|memcache \\
        --workers 1 --client-cpus 1 --clients C --ratio S:G --pipeline P \\
        --value-size 32 --key-pattern R --key-space K --duration W --warmup 1

The same workload: SETs and GETs in the same ratio, 32-byte values, uniformly random
keys over K keys (memtier's default ``R:R`` over ``--key-maximum``; its default
10,000,000 would make every GET a miss, so both key spaces are prefilled, each tool's
own key names, before the first cell). What differs: the key names (memtier-N, 9 to 14
bytes; sockbench key:NNNNNNNNNNNN, 16 bytes); memtier counts hits and misses, sockbench
counts any well-formed reply as completed (a miss is a completed GET); memtier's
percentiles cover its whole run, its first second (connects, warm-up) included.

Measured over the window only:

- req/s: sockbench's window; memtier's per-second ``Time-Serie`` counts of seconds
  1..W (second 0 is its warm-up), over W seconds.
- generator CPU per request: sockbench's own generator CPU over its window (result
  JSON ``generator.cpu_percent_mean``); memtier's process CPU clock read at 1 s and at
  1 + W s after it started (``clock_gettime`` on its CPU clock: ns, not 10 ms ticks),
  over the requests of those seconds.
- the server's CPU, the same way for both tools: its CPU clock read every 0.25 s while
  the tool runs, the median slice's share of a core (most slices lie in the window). A
  server near a whole core under both tools is the limit: there both measure the
  server, and the req/s ratio is its cost per request under each tool's traffic.

    .venv/bin/python benchmarks/vs_memtier.py               # ~20 minutes
    .venv/bin/python benchmarks/vs_memtier.py --quick       # ~3 minutes: 10,50 clients
    benchmarks/build_memtier.sh                             # builds memtier first

Skips with one line when memtier_benchmark is missing (``--memtier`` or
``build/memtier/memtier_benchmark``, else ``$PATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    QUIET_BELOW,
    RESULTS,
    ROOT,
    SOCKBENCH,
    fmt,
    free_port,
    log,
    machine_line,
    md_table,
    median,
    raise_fd_limit,
    run_bounded,
    running,
    sockbench_run,
    spawn,
    stop,
    wait_for_quiet,
    wait_tcp,
    write_markdown,
)
from vs_redis_benchmark import start_redis

from sockbench.core.significance import paired
from sockbench.engine.io.sampling import TreeSampler, process_cpu_s

SERVER_CPU, GENERATOR_CPU = "0", "1"
VALUE_SIZE = 32
WARMUP_S = 1
QUIET_MAX_S = 1.0  # the machine is shared: wait this long at most for a quiet moment
SERVER_SLICE_S = 0.25  # the server's CPU is read this often while a tool runs
#: A server this busy (share of its one core) under a tool is that run's limit.
SERVER_BOUND = 0.95
MEMTIER_PROTOCOL = {"redis": "redis", "memcache": "memcache_text"}
SOCKBENCH_PROTOCOL = {"redis": "redis", "memcache": "memcache"}


@dataclass
class Runs:
    """One tool's repetitions of one cell."""

    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # generator CPU µs per request
    p50_us: list[float] = field(default_factory=list)
    p99_us: list[float] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    server_busy: list[float] = field(default_factory=list)  # share of the server's core

    def add(
        self, rps: float, cpu_us: float, p50: float, p99: float, errors: int, busy: float
    ) -> None:
        self.rps.append(rps)
        self.cpu_us.append(cpu_us)
        self.p50_us.append(p50)
        self.p99_us.append(p99)
        self.errors.append(errors)
        self.server_busy.append(busy)


def server_busy(sampler: TreeSampler) -> float:
    """The server's CPU while a tool ran: the median ``SERVER_SLICE_S`` slice's share of a
    core. The median, not the mean: a run's start (connects, imports) and end leave the
    server idle for a few slices, which the window's many slices outvote, the same way
    for either tool."""
    return median([s.cpu_percent for s in sampler.samples]) / 100 if sampler.samples else 0.0


@dataclass(frozen=True)
class Cell:
    server: str
    clients: int
    ratio: str
    pipeline: int


def find_memtier(given: str | None) -> str | None:
    built = ROOT / "build" / "memtier" / "memtier_benchmark"
    for candidate in (given, str(built) if built.exists() else None):
        if candidate:
            return candidate
    return shutil.which("memtier_benchmark")


def server_argv(server: str, port: int, workdir: str) -> list[str]:
    if server == "redis":
        return start_redis(port, workdir, SERVER_CPU)
    return [
        "taskset", "-c", SERVER_CPU, "memcached", "-l", "127.0.0.1", "-p", str(port),
        "-U", "0", "-t", "1", "-c", "4096", "-m", "256",
        *(["-u", "root"] if os.geteuid() == 0 else []),  # memcached refuses root without it
    ]  # fmt: skip


def memtier_argv(memtier: str, port: int, cell: Cell, args: argparse.Namespace) -> list[str]:
    return [
        "taskset", "-c", GENERATOR_CPU, memtier,
        "-s", "127.0.0.1", "-p", str(port), "-P", MEMTIER_PROTOCOL[cell.server],
        "-t", "1", "-c", str(cell.clients), "--ratio", cell.ratio,
        "--pipeline", str(cell.pipeline), "-d", str(VALUE_SIZE),
        "--key-pattern", "R:R", "--key-minimum", "1", "--key-maximum", str(args.keys),
        "--distinct-client-seed", "--test-time", str(WARMUP_S + args.duration),
        "--print-percentiles", "50,99", "--hide-histogram",
    ]  # fmt: skip


def sockbench_args(port: int, cell: Cell, args: argparse.Namespace) -> list[str]:
    return [
        "--target", f"tcp://127.0.0.1:{port}", "--protocol", SOCKBENCH_PROTOCOL[cell.server],
        "--workers", "1", "--client-cpus", GENERATOR_CPU, "--clients", str(cell.clients),
        "--ratio", cell.ratio, "--pipeline", str(cell.pipeline),
        "--value-size", str(VALUE_SIZE), "--key-pattern", "R", "--key-space", str(args.keys),
        "--duration", str(args.duration), "--warmup", str(WARMUP_S), "--timeout", "5",
    ]  # fmt: skip


#: One run: req/s, generator CPU µs per request, p50 and p99 µs, errors.
Measured = tuple[float, float, float, float, int]


def run_sockbench(port: int, cell: Cell, args: argparse.Namespace) -> Measured:
    result = sockbench_run(sockbench_args(port, cell, args), timeout_s=args.duration + 120)
    rps = float(result["totals"]["throughput_rps"])
    cpu = float(result["generator"]["cpu_percent_mean"]) / 100
    lat = result["latency_us"]
    errors = sum(result["totals"]["errors"].values())
    return rps, cpu / rps * 1e6, float(lat["p50"]), float(lat["p99"]), errors


def run_memtier(memtier: str, port: int, cell: Cell, args: argparse.Namespace) -> Measured:
    """One memtier run; its CPU clock read at 1 s and 1 + W s after its start."""
    with tempfile.TemporaryDirectory(prefix="sockbench-memtier-") as tmp:
        out = Path(tmp, "out.json")
        argv = [*memtier_argv(memtier, port, cell, args), "--json-out-file", str(out)]
        proc = spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            started = time.monotonic()
            cpu0, t0 = _cpu_at(proc.pid, started + WARMUP_S)
            cpu1, t1 = _cpu_at(proc.pid, started + WARMUP_S + args.duration)
            _, err = proc.communicate(timeout=args.duration + 60)
        finally:
            stop(proc)
        if proc.returncode != 0 or cpu0 is None or cpu1 is None:
            raise RuntimeError(f"memtier failed: {err.decode(errors='replace')[-2000:]}")
        totals = json.loads(out.read_text())["ALL STATS"]["Totals"]
    series = totals["Time-Serie"]
    seconds = [str(s) for s in range(WARMUP_S, WARMUP_S + args.duration)]
    requests = sum(int(series[s]["Count"]) for s in seconds if s in series)
    rps = requests / args.duration
    cpu_share = (cpu1 - cpu0) / (t1 - t0)
    pct = totals["Percentile Latencies"]
    errors = int(totals.get("Connection Errors", 0))
    return rps, cpu_share / rps * 1e6, pct["p50.00"] * 1000, pct["p99.00"] * 1000, errors


def _cpu_at(pid: int, when: float) -> tuple[float | None, float]:
    time.sleep(max(0.0, when - time.monotonic()))
    return process_cpu_s(pid), time.monotonic()


def prefill(memtier: str, port: int, server: str, keys: int) -> None:
    """Every key of both tools' key spaces set once, so GETs hit from the first cell."""
    fill_memtier = [
        memtier, "-s", "127.0.0.1", "-p", str(port), "-P", MEMTIER_PROTOCOL[server],
        "-t", "1", "-c", "1", "--pipeline", "64", "--ratio", "1:0", "--key-pattern", "P:P",
        "-d", str(VALUE_SIZE), "--key-minimum", "1", "--key-maximum", str(keys),
        "-n", "allkeys", "--hide-histogram",
    ]  # fmt: skip
    fill_sockbench = [
        "--target", f"tcp://127.0.0.1:{port}", "--protocol", SOCKBENCH_PROTOCOL[server],
        "--clients", "1", "--pipeline", "64", "--ratio", "1:0", "--key-pattern", "S",
        "--key-space", str(keys), "--value-size", str(VALUE_SIZE), "--requests", str(keys),
        "--warmup", "0", "--workers", "1",
    ]  # fmt: skip
    done = run_bounded(fill_memtier, 300)
    if done.returncode != 0:
        raise RuntimeError(f"memtier prefill failed: {done.stderr.decode(errors='replace')}")
    sockbench_run(fill_sockbench, timeout_s=300)


@contextmanager
def server_running(server: str) -> Iterator[tuple[int, int]]:
    """The server started, pinned: its port and its pid (``taskset`` execs it)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"sockbench-{server}-") as workdir:
        log_path = Path(workdir, "server.log")
        with (
            log_path.open("wb") as server_log,
            running(
                server_argv(server, port, workdir), stdout=server_log, stderr=subprocess.STDOUT
            ) as proc,
        ):
            wait_tcp(port)
            yield port, proc.pid


Results = dict[Cell, tuple[Runs, Runs]]  # (sockbench, memtier)


def measure(memtier: str, args: argparse.Namespace) -> tuple[Results, list[float]]:
    """The cells' runs, and the cores other processes kept busy just before each run."""
    results: Results = {}
    others: list[float] = []
    for server in args.servers:
        with server_running(server) as (port, pid):
            prefill(memtier, port, server, args.keys)
            for cell in cells(server, args):
                sb, mt = results.setdefault(cell, (Runs(), Runs()))
                for rep in range(args.reps):
                    others.append(wait_for_quiet(QUIET_MAX_S))
                    with TreeSampler(pid, SERVER_SLICE_S) as sampler:
                        measured = run_sockbench(port, cell, args)
                    sb.add(*measured, server_busy(sampler))
                    others.append(wait_for_quiet(QUIET_MAX_S))
                    with TreeSampler(pid, SERVER_SLICE_S) as sampler:
                        measured = run_memtier(memtier, port, cell, args)
                    mt.add(*measured, server_busy(sampler))
                    log(
                        f"{server} C={cell.clients} {cell.ratio} P={cell.pipeline} rep {rep + 1}: "
                        f"sockbench {sb.rps[-1]:,.0f}/s ({sb.cpu_us[-1]:.1f} µs CPU/req, "
                        f"server {sb.server_busy[-1]:.0%}), "
                        f"memtier {mt.rps[-1]:,.0f}/s ({mt.cpu_us[-1]:.1f} µs CPU/req, "
                        f"server {mt.server_busy[-1]:.0%}), "
                        f"others {max(others[-2:]):.2f} cores, load {os.getloadavg()[0]:.1f}"
                    )
    return results, others


def cells(server: str, args: argparse.Namespace) -> list[Cell]:
    return [
        Cell(server, clients, ratio, pipeline)
        for pipeline in args.pipelines
        for ratio in args.ratios
        for clients in args.clients
    ]


def machine_state(others: list[float]) -> str:
    """Quiet or not, from what other processes used just before each run.

    The load average cannot say: the server and the generator under test keep it
    near 1-2 on their own.
    """
    busy = [x for x in others if x >= QUIET_BELOW]
    if not busy:
        return (
            f"**A quiet machine**: before each of the {len(others)} runs, other processes "
            f"used under {QUIET_BELOW} of a core (at most {max(others):.2f})."
        )
    return (
        f"**A loaded machine**: before {len(busy)} of the {len(others)} runs other processes "
        f"used {QUIET_BELOW} to {max(busy):.1f} cores of the 2, so read the ratios, not the "
        "absolute numbers."
    )


def paired_ratio(memtier: list[float], sockbench: list[float]) -> str:
    """``0.99 (0.92-1.07)``: sockbench against memtier, pair by pair."""
    verdict = paired(memtier, sockbench)
    if verdict is None:
        return "-"
    if verdict.significant is None:
        return f"{verdict.ratio:.2f} ({verdict.reason})"
    return f"{verdict.ratio:.2f} ({verdict.low:.2f}-{verdict.high:.2f})"


def server_cpu(sb: Runs, mt: Runs) -> str:
    """``97 % / 98 %``: the server's busy share under each tool (medians); in bold where
    it is the limit under both (``SERVER_BOUND``): a cell that measures the server."""
    a, b = median(sb.server_busy), median(mt.server_busy)
    text = f"{a:.0%} / {b:.0%}".replace("%", " %")
    return f"**{text}**" if min(a, b) >= SERVER_BOUND else text


def render(results: Results, others: list[float], args: argparse.Namespace, memtier: str) -> str:
    headers = [
        "server", "clients", "ratio", "pipeline", "sockbench req/s", "memtier req/s",
        "req/s ratio", "paired ratio (95 % CI)", "sockbench CPU µs/req", "memtier CPU µs/req",
        "CPU ratio", "server CPU sb / mt",
        "sb p50 µs", "sb p99 µs", "mt p50 µs", "mt p99 µs", "errors sb / mt",
    ]  # fmt: skip
    rows = []
    for cell, (sb, mt) in results.items():
        rows.append(
            [
                cell.server, str(cell.clients), cell.ratio, str(cell.pipeline),
                fmt(median(sb.rps)), fmt(median(mt.rps)),
                f"{median(sb.rps) / median(mt.rps):.2f}", paired_ratio(mt.rps, sb.rps),
                fmt(median(sb.cpu_us), 1), fmt(median(mt.cpu_us), 1),
                f"{median(sb.cpu_us) / median(mt.cpu_us):.1f}", server_cpu(sb, mt),
                fmt(median(sb.p50_us)), fmt(median(sb.p99_us)),
                fmt(median(mt.p50_us)), fmt(median(mt.p99_us)),
                f"{sum(sb.errors)} / {sum(mt.errors)}",
            ]
        )  # fmt: skip
    runs = "; ".join(
        f"{c.server} C={c.clients} {c.ratio} P={c.pipeline}: "
        f"sb {', '.join(fmt(v) for v in sb.rps)} / mt {', '.join(fmt(v) for v in mt.rps)}"
        for c, (sb, mt) in results.items()
    )
    version = run_bounded([memtier, "--version"], 10).stdout.decode().splitlines()[0]
    commit = ROOT / "build" / "memtier" / "COMMIT"
    built_from = f", built from commit {commit.read_text().strip()}" if commit.exists() else ""
    example = Cell(args.servers[0], args.clients[0], args.ratios[0], args.pipelines[0])
    lines = [
        "# sockbench vs memtier_benchmark: SET/GET against redis-server and memcached",
        "",
        f"Machine: {machine_line()}. {version.strip()}{built_from} "
        f"(`benchmarks/build_memtier.sh`). {machine_state(others)}",
        "",
        f"Each cell: median of {args.reps} runs, A B A B (sockbench, then memtier). Server "
        f"pinned to CPU {SERVER_CPU}, each generator on CPU {GENERATOR_CPU}, one thread each. "
        f"Both prefilled: all {args.keys:,} keys of each tool's key space set once before "
        f"the first cell. {args.duration} s measured after {WARMUP_S} s of warm-up.",
        "",
        "The commands, for the first cell (the others change `-c`/`--clients`, "
        "`--ratio`, `--pipeline`, `-P`/`--protocol`):",
        "",
        "```",
        " ".join(memtier_argv("memtier_benchmark", 0, example, args)).replace(" -p 0", " -p PORT"),
        " ".join(["sockbench", "run", *sockbench_args(0, example, args)]).replace(":0 ", ":PORT "),
        "```",
        "",
        "req/s ratio = sockbench / memtier (≥ 1: sockbench as fast), of the medians. "
        "Paired ratio: the geometric mean of each pair's sockbench / memtier, with its 95 % "
        "Student t interval over the pairs (`sockbench.core.significance.paired`): a drift "
        "of the machine moves both runs of a pair alike and cancels; an interval that holds "
        "1.00 is no difference this run can tell. CPU µs/req: the "
        "generator's CPU over the window's requests (CPU ratio = sockbench / memtier: how "
        "many times memtier's CPU sockbench spends per request). memtier's p50/p99 cover "
        "its whole run, its first second included; sockbench's only the window. Server "
        "CPU: the server's share of its core while each tool ran (the median of 0.25 s "
        f"slices); in bold where it was at least {SERVER_BOUND:.0%} under both tools: "
        "there the server is the limit, both tools measure it, and the req/s ratio is its "
        "cost per request under each tool's traffic, not the tools' speed.",
        "",
        md_table(headers, rows),
        "",
        f"Every run, req/s (sockbench / memtier): {runs}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", default="redis,memcache", help="redis, memcache")
    parser.add_argument("--clients", default="1,10,50,500", help="comma-separated counts")
    parser.add_argument("--ratios", default="1:10,1:0", help="comma-separated SET:GET ratios")
    parser.add_argument("--pipelines", default="1,8", help="comma-separated pipeline depths")
    parser.add_argument("--reps", type=int, default=3, help="A B pairs per cell")
    parser.add_argument("--duration", type=int, default=3, help="measured seconds per run")
    parser.add_argument("--keys", type=int, default=100_000, help="key space of both tools")
    parser.add_argument("--memtier", help="the memtier_benchmark binary")
    parser.add_argument("--quick", action="store_true", help="10 and 50 clients, 2 reps")
    parser.add_argument("--out", type=Path, default=RESULTS / "vs_memtier.md")
    args = parser.parse_args()
    log(f"measuring {machine_line()}")
    memtier = find_memtier(args.memtier)
    if memtier is None:
        print("skipped: memtier_benchmark not found; build it with benchmarks/build_memtier.sh")
        return
    if args.quick:
        args.clients, args.reps = "10,50", 2
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if set(args.servers) - set(MEMTIER_PROTOCOL):
        parser.error("--servers: comma-separated redis, memcache")
    args.clients = [int(c) for c in args.clients.split(",")]
    args.ratios = [r.strip() for r in args.ratios.split(",")]
    args.pipelines = [int(p) for p in args.pipelines.split(",")]
    for binary in ("taskset", "redis-server", "memcached"):
        if shutil.which(binary) is None:
            print(f"skipped: {binary} not found (.ci/system-deps installs it)")
            return
    if run_bounded([*SOCKBENCH, "--help"], 60).returncode != 0:
        raise SystemExit("sockbench does not start")
    raise_fd_limit()
    results, others = measure(memtier, args)
    write_markdown(args.out, render(results, others, args, memtier))


if __name__ == "__main__":
    main()
