"""sockbench vs redis-benchmark: PING, SET and GET throughput against one local redis-server.

For each test (``-t ping,set,get``) and concurrency C, a private ``redis-server`` (its
own port and temp dir, no persistence) is loaded alternately by

    sockbench run --target tcp://127.0.0.1:PORT --clients C \\
        --send 'PING\\r\\n' --expect '+PONG\\r\\n'
    redis-benchmark -h 127.0.0.1 -p PORT -t ping_inline -c C -n N --csv

and, for ``set`` and ``get``, ``sockbench run --protocol redis --ratio 1:0`` (or ``0:1``)
``--value-size D --key-space K`` against ``redis-benchmark -t set -d D -r K`` (or ``get``):
the same command, value size and random keys from the same key space. SET runs
before GET at each C, so both tools' GETs find the keys.

A B A B ..., ``--reps`` times each, and the table reports medians. For the client
counts in ``--busy-poll`` (1 and 10: latency-bound), ``sockbench run --busy-poll``
(the pump spins instead of sleeping) joins the rotation as a third variant. N is chosen so
redis-benchmark runs about as long as sockbench's measurement window. Both tools
are single-threaded here (sockbench ``--workers 1``), and on this 2-core machine
they share it with redis-server: by default redis-server is pinned to CPU 0 and
the generator to CPU 1 (``--pinning shared`` lets the scheduler place them;
``--pinning same-cpu`` puts both on CPU 0, where one client's round trip has no
cross-CPU wake-up in it: see ``vcpu_wakeup.py``).

At one client (unless ``--no-floor``), a plain blocking Python client
(``_blocking_redis.py``: ``sendall`` + ``recv_into`` in a loop, the same commands and
keys) joins the rotation too: Python's floor for one client, against which a one-client
ratio can be read.

    .venv/bin/python benchmarks/vs_redis_benchmark.py            # ~3 minutes per pinning
    .venv/bin/python benchmarks/vs_redis_benchmark.py --quick    # ~1 minute
    .venv/bin/python benchmarks/vs_redis_benchmark.py -t set,get -d 100 --concurrency 10,100,1000
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from _common import (
    RESULTS,
    SOCKBENCH,
    children_cpu_s,
    ensure_tools,
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
    wait_for_quiet,
    wait_tcp,
    write_markdown,
)

TOOLS = {"redis-server": "redis-server", "redis-benchmark": "redis-tools", "taskset": "util-linux"}
MIN_REQUESTS = 10_000
KEY_SPACE = 100_000
REDIS_BENCHMARK_TESTS = {"ping": "ping_inline", "set": "set", "get": "get"}
# (redis-server's CPU, the client's): ``same-cpu`` has no cross-CPU wake-up, so a
# one-client round trip there is the two processes' work (see vcpu_wakeup.py).
PLACEMENTS: dict[str, tuple[str | None, str | None]] = {
    "pinned": ("0", "1"),
    "same-cpu": ("0", "0"),
    "shared": (None, None),
}


@dataclass
class Cell:
    """All repetitions of one tool at one concurrency."""

    rps: list[float] = field(default_factory=list)
    p50_us: list[float] = field(default_factory=list)
    p99_us: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)

    def add(self, rps: float, p50: float, p99: float, cpu: float, scpu: float, err: int) -> None:
        self.rps.append(rps)
        self.p50_us.append(p50)
        self.p99_us.append(p99)
        self.cpu.append(cpu)
        self.server_cpu.append(scpu)
        self.errors.append(err)


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def start_redis(port: int, workdir: str, pin: str | None) -> list[str]:
    argv = [
        "redis-server",
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", workdir,
        "--maxclients", "10000",
        "--tcp-backlog", "4096",
        "--protected-mode", "yes",
        "--loglevel", "warning",
        "--daemonize", "no",
    ]  # fmt: skip
    return (["taskset", "-c", pin] if pin else []) + argv


def workload_args(test: str, data_size: int) -> list[str]:
    """sockbench options for one redis-benchmark test."""
    if test == "ping":
        return ["--send", "PING\\r\\n", "--expect", "+PONG\\r\\n"]
    ratio = "1:0" if test == "set" else "0:1"
    return [
        "--protocol", "redis", "--ratio", ratio, "--value-size", str(data_size),
        "--key-space", str(KEY_SPACE),
    ]  # fmt: skip


def run_sockbench(
    port: int,
    clients: int,
    args: argparse.Namespace,
    pin: str | None,
    server: psutil.Process,
    *extra: str,
    test: str = "ping",
) -> tuple[float, float, float, float, float, int]:
    sb_args = [
        *extra,
        "--target", f"tcp://127.0.0.1:{port}",
        *workload_args(test, args.data_size),
        "--clients", str(clients),
        "--duration", str(args.duration),
        "--warmup", str(args.warmup),
        "--timeout", "5",
        "--workers", str(args.workers),
    ]  # fmt: skip
    if pin:
        sb_args += ["--client-cpus", pin]
    wait_for_quiet()
    before = cpu_seconds(server)
    t0 = time.monotonic()
    result = sockbench_run(sb_args, timeout_s=args.duration + args.warmup + 120)
    server_cpu = (cpu_seconds(server) - before) / (time.monotonic() - t0) * 100
    totals = result["totals"]
    errors = sum(totals["errors"].values())
    gen = result.get("generator") or {}
    lat = result["latency_us"]
    return (
        float(totals["throughput_rps"]),
        float(lat["p50"]),
        float(lat["p99"]),
        float(gen.get("cpu_percent_mean", float("nan"))),
        server_cpu,
        errors,
    )


def run_redis_benchmark(
    port: int,
    clients: int,
    requests: int,
    timeout_s: float,
    pin: str | None,
    server: psutil.Process,
    test: str = "ping",
    data_size: int = 3,
) -> tuple[float, float, float, float, float]:
    argv = (["taskset", "-c", pin] if pin else []) + [
        "redis-benchmark",
        "-h", "127.0.0.1",
        "-p", str(port),
        "-t", REDIS_BENCHMARK_TESTS[test],
        "-c", str(clients),
        "-n", str(requests),
        "--csv",
    ]  # fmt: skip
    if test != "ping":
        argv += ["-d", str(data_size), "-r", str(KEY_SPACE)]
    wait_for_quiet()
    cpu0 = children_cpu_s()
    before = cpu_seconds(server)
    t0 = time.monotonic()
    done = run_bounded(argv, timeout_s)
    wall = time.monotonic() - t0
    server_cpu = (cpu_seconds(server) - before) / wall * 100
    cpu = (children_cpu_s() - cpu0) / wall * 100
    if done.returncode != 0:
        raise RuntimeError(
            f"redis-benchmark failed: {done.stderr.decode(errors='replace')[-2000:]}"
        )
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode())))
    [row] = [r for r in rows if r.get("test") == REDIS_BENCHMARK_TESTS[test].upper()]
    return (
        float(row["rps"]),
        float(row["p50_latency_ms"]) * 1000,
        float(row["p99_latency_ms"]) * 1000,
        cpu,
        server_cpu,
    )


# test, clients, sockbench, redis-benchmark, busy-poll, blocking Python client
Row = tuple[str, int, Cell, Cell, Cell, Cell]


def run_blocking_python(
    port: int, test: str, args: argparse.Namespace, pin: str | None, burn_us: float = 0.0
) -> tuple[float, float, float]:
    """(req/s, p50 µs, p99 µs) of the plain blocking Python client, one connection;
    ``burn_us``: it spins that long after each send (``vcpu_wakeup.py``)."""
    script = Path(__file__).with_name("_blocking_redis.py")
    argv = (["taskset", "-c", pin] if pin else []) + [
        sys.executable, str(script), str(port), test, str(args.duration),
        str(args.data_size), str(KEY_SPACE), f"{burn_us:g}",
    ]  # fmt: skip
    wait_for_quiet()
    done = run_bounded(argv, 60 + 10 * args.duration)
    if done.returncode != 0:
        raise RuntimeError(f"blocking client failed: {done.stderr.decode(errors='replace')}")
    out = json.loads(done.stdout)
    return float(out["rps"]), float(out["p50_us"]), float(out["p99_us"])


def measure(pinning: str, args: argparse.Namespace) -> list[Row]:
    redis_cpu, gen_cpu = PLACEMENTS[pinning]
    port = free_port()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sockbench-redis-") as workdir:
        argv = start_redis(port, workdir, redis_cpu)
        with (
            Path(workdir, "redis.log").open("wb") as redis_log,
            running(argv, stdout=redis_log, stderr=subprocess.STDOUT) as proc,
        ):
            wait_tcp(port)
            server = psutil.Process(proc.pid)
            for clients in args.concurrency:
                for test in args.tests:
                    rows.append(
                        (test, clients, *measure_cell(port, clients, test, args, gen_cpu, server))
                    )
    return rows


def measure_cell(
    port: int,
    clients: int,
    test: str,
    args: argparse.Namespace,
    gen_cpu: str | None,
    server: psutil.Process,
) -> tuple[Cell, Cell, Cell, Cell]:
    """Every repetition of one test at one concurrency, A B A B."""
    sb, rb, busy, floor = Cell(), Cell(), Cell(), Cell()
    estimate: float | None = None
    for rep in range(args.reps):
        rps, p50, p99, cpu, scpu, errors = run_sockbench(
            port, clients, args, gen_cpu, server, test=test
        )
        sb.add(rps, p50, p99, cpu, scpu, errors)
        if clients in args.busy_poll and test == "ping":
            busy.add(*run_sockbench(port, clients, args, gen_cpu, server, "--busy-poll", test=test))
        # N for about --duration seconds: redis-benchmark's own last rate, else ours.
        estimate = estimate or rps
        requests = max(MIN_REQUESTS, 10 * clients, int(estimate * args.duration))
        rb_rps, rb_p50, rb_p99, rb_cpu, rb_scpu = run_redis_benchmark(
            port, clients, requests, 120 + 10 * args.duration, gen_cpu, server, test,
            args.data_size,
        )  # fmt: skip
        estimate = rb_rps
        rb.add(rb_rps, rb_p50, rb_p99, rb_cpu, rb_scpu, 0)
        if clients == 1 and args.floor:
            floor.add(*run_blocking_python(port, test, args, gen_cpu), 0.0, 0.0, 0)
        busy_note = (
            f", --busy-poll {busy.rps[-1]:,.0f}/s (p50 {busy.p50_us[-1]:.0f} µs)"
            if busy.rps
            else ""
        )
        log(
            f"{test} C={clients} rep {rep + 1}: sockbench {rps:,.0f}/s "
            f"(p50 {p50:.0f} µs, cpu {cpu:.0f}%, errors {errors}){busy_note}, "
            f"redis-benchmark {rb_rps:,.0f}/s (n={requests}, cpu {rb_cpu:.0f}%)"
        )
    return sb, rb, busy, floor


def _ratio(a: float, b: float) -> str:
    ratio = a / b
    return f"**{ratio:.2f}**" if ratio < 1.0 else f"{ratio:.2f}"


def render(pinning: str, rows: list[Row], args: argparse.Namespace) -> str:
    headers = [
        "test", "clients", "sockbench req/s", "redis-benchmark req/s", "ratio",
        "sockbench p50 µs", "sockbench p99 µs", "r-b p50 µs", "r-b p99 µs",
        "sockbench CPU %", "r-b CPU %", "redis-server CPU % (sb / r-b)", "sb errors",
    ]  # fmt: skip
    table = []
    busy_rows = []
    floor_rows = []
    for test, clients, sb, rb, busy, floor in rows:
        table.append(
            [
                test.upper(),
                f"{clients:,}",
                fmt(median(sb.rps)),
                fmt(median(rb.rps)),
                _ratio(median(sb.rps), median(rb.rps)),
                fmt(median(sb.p50_us)),
                fmt(median(sb.p99_us)),
                fmt(median(rb.p50_us)),
                fmt(median(rb.p99_us)),
                fmt(median(sb.cpu)),
                fmt(median(rb.cpu)),
                f"{fmt(median(sb.server_cpu))} / {fmt(median(rb.server_cpu))}",
                str(sum(sb.errors)),
            ]
        )
        if busy.rps:
            busy_rows.append(
                [
                    f"{clients:,}",
                    fmt(median(busy.rps)),
                    fmt(median(rb.rps)),
                    _ratio(median(busy.rps), median(rb.rps)),
                    fmt(median(busy.p50_us)),
                    fmt(median(busy.p99_us)),
                    fmt(median(busy.cpu)),
                    str(sum(busy.errors)),
                ]
            )
        if floor.rps:
            base = median(floor.rps)
            floor_rows.append(
                [
                    test.upper(),
                    fmt(base),
                    fmt(median(floor.p50_us)),
                    fmt(median(sb.rps)),
                    f"{median(sb.rps) / base:.2f}",
                    fmt(median(rb.rps)),
                    f"{median(rb.rps) / base:.2f}",
                ]
            )
    redis_cpu, gen_cpu = PLACEMENTS[pinning]
    where = (
        f"redis-server pinned to CPU {redis_cpu} (`taskset -c {redis_cpu}`), sockbench "
        f"`--client-cpus {gen_cpu}`, redis-benchmark `taskset -c {gen_cpu}`"
        if gen_cpu is not None
        else "no pinning: redis-server and the generator share both cores"
    )
    runs = "; ".join(
        f"{t.upper()} C={c}: sb {', '.join(fmt(v) for v in sb.rps)} / "
        f"r-b {', '.join(fmt(v) for v in rb.rps)}"
        + (f" / busy-poll {', '.join(fmt(v) for v in busy.rps)}" if busy.rps else "")
        + (f" / blocking Python {', '.join(fmt(v) for v in fl.rps)}" if fl.rps else "")
        for t, c, sb, rb, busy, fl in rows
    )
    lines = [f"## {pinning.capitalize()}: {where}", "", md_table(headers, table), ""]
    if busy_rows:
        lines += [
            "With `--busy-poll` (the pump spins instead of sleeping; same rotation, same "
            "redis-benchmark runs):",
            "",
            md_table(
                [
                    "clients",
                    "sockbench --busy-poll req/s",
                    "redis-benchmark req/s",
                    "ratio",
                    "p50 µs",
                    "p99 µs",
                    "sockbench CPU %",
                    "errors",
                ],
                busy_rows,
            ),
            "",
        ]
    if floor_rows:
        lines += [
            "One client against Python's floor (a plain blocking `sendall` + `recv_into` "
            "loop, `_blocking_redis.py`, same commands and keys, same rotation):",
            "",
            md_table(
                [
                    "test",
                    "blocking Python req/s",
                    "its p50 µs",
                    "sockbench req/s",
                    "sockbench / blocking",
                    "redis-benchmark req/s",
                    "redis-benchmark / blocking",
                ],
                floor_rows,
            ),
            "",
        ]
    lines += [f"Every run, req/s (sockbench / redis-benchmark): {runs}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", default="1,10,100,1000,5000",
                        help="comma-separated client counts")  # fmt: skip
    parser.add_argument("--reps", type=int, default=3, help="A B pairs per concurrency")
    parser.add_argument("--duration", type=float, default=4.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="sockbench warm-up seconds")
    parser.add_argument("--workers", type=int, default=1, help="sockbench worker processes")
    parser.add_argument(
        "--pinning", default="pinned",
        help="comma-separated: pinned (server CPU 0, client CPU 1), same-cpu (both on CPU 0), "
        "shared (no pinning); both = pinned,shared",
    )  # fmt: skip
    parser.add_argument(
        "--busy-poll", default="1,10", help="client counts also run with --busy-poll ('' = none)"
    )
    parser.add_argument(
        "--floor", action=argparse.BooleanOptionalAction, default=True,
        help="at 1 client, also run a plain blocking Python client (Python's floor)",
    )  # fmt: skip
    parser.add_argument("-t", "--tests", default="ping", help="comma-separated: ping, set, get")
    parser.add_argument(
        "-d", "--data-size", type=int, default=3, help="SET/GET value bytes (redis-benchmark -d)"
    )
    parser.add_argument("--quick", action="store_true", help="C in 1,100,1000; 2 s runs")
    parser.add_argument("--out", type=Path, default=RESULTS / "vs_redis_benchmark.md")
    args = parser.parse_args()
    log(f"measuring {machine_line()}")
    if args.quick:
        args.concurrency, args.duration, args.warmup = "1,100,1000", 2.0, 0.5
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    unknown = set(args.tests) - set(REDIS_BENCHMARK_TESTS)
    if unknown:
        parser.error(f"unknown test(s) {', '.join(sorted(unknown))}; choose ping, set, get")
    # SET before GET, so GETs find keys (as redis-benchmark -t set,get does).
    args.tests.sort(key=list(REDIS_BENCHMARK_TESTS).index)
    args.busy_poll = {int(c) for c in args.busy_poll.split(",") if c.strip()}
    if "--busy-poll" not in run_bounded([*SOCKBENCH, "run", "--help"], 60).stdout.decode():
        args.busy_poll = set()  # an older sockbench
    ensure_tools(TOOLS)
    raise_fd_limit()
    pinnings = [p.strip() for p in args.pinning.replace("both", "pinned,shared").split(",")]
    if not pinnings or set(pinnings) - set(PLACEMENTS):
        parser.error(f"--pinning: comma-separated {', '.join(PLACEMENTS)} (or both)")
    version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout.split()
    sections = []
    for pinning in pinnings:
        sections.append(render(pinning, measure(pinning, args), args))
    redis_version = next((v.split("=")[1] for v in version if v.startswith("v=")), "?")
    header = [
        f"# sockbench vs redis-benchmark: {', '.join(t.upper() for t in args.tests)} "
        "against one local redis-server",
        "",
        f"Machine: {machine_line()}. redis {redis_version} "
        f"(`{shutil.which('redis-benchmark')}`), single-threaded redis-benchmark, "
        f"sockbench `--workers {args.workers}`.",
        f"Each cell: median of {args.reps} runs, A B A B (sockbench, then redis-benchmark, "
        f"repeated; sockbench --busy-poll too for C in {sorted(args.busy_poll) or 'none'}); "
        f"sockbench measures {args.duration:g} s after {args.warmup:g} s warm-up "
        f"(connect ramp excluded), redis-benchmark gets `-n` = its previous rate × "
        f"{args.duration:g} s (the first time: sockbench's rate), at least {MIN_REQUESTS:,}.",
        (
            f"SET/GET: `sockbench --protocol redis --ratio 1:0|0:1 --value-size {args.data_size} "
            f"--key-space {KEY_SPACE}` vs `redis-benchmark -t set|get -d {args.data_size} "
            f"-r {KEY_SPACE}`. "
            if set(args.tests) - {"ping"}
            else ""
        )
        + "ratio = sockbench req/s / redis-benchmark req/s (target ≥ 1.0; bold when missed). "
        "CPU % like top (100 = one core): sockbench over its measurement window, "
        "redis-benchmark over its whole run, redis-server over each tool's whole run.",
        "",
    ]
    write_markdown(args.out, "\n".join(header + sections))


if __name__ == "__main__":
    main()
