"""sockbench vs wrk: HTTP/1.1 GETs of a small fixed body from one local nginx.

A private nginx (one worker process, ``daemon off``, a generated config in a temp dir,
127.0.0.1 and a free port, no access log, ``keepalive_requests`` high enough that no
connection is closed during a run) serves ``/index.html`` (``hello\\n``, 6 bytes). For
each connection count N it is loaded alternately by

    wrk -t1 -cN -dD --latency --timeout 5s http://127.0.0.1:PORT/index.html
    sockbench run --target tcp://127.0.0.1:PORT --protocol http --http-path /index.html \\
        --workers 1 --clients N --duration D --warmup W --timeout 5

A B A B ..., ``--reps`` times each; the table reports medians. nginx is pinned to CPU 0
and each generator (all of its processes) to CPU 1 with ``taskset``, so "per core" is
what one core of generator does: req/s divided by the generator's CPU (over sockbench's
measurement window; over wrk's whole run, which is its window: wrk connects at its start
and has no warm-up). Both are closed loop: a connection sends its next request when the
reply came. Their latencies are not the same quantity: see ``LATENCY_NOTE``.

wrk is not a test dependency: without it the script says so in one line (``apt-get
install wrk``) and does nothing.

    .venv/bin/python benchmarks/vs_wrk.py                  # 10, 100, 1000 connections, ~2 min
    .venv/bin/python benchmarks/vs_wrk.py --quick          # 1 s runs, 2 reps
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _common import (
    RESULTS,
    ROOT,
    children_cpu_s,
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

sys.path.insert(0, str(ROOT))

from vs_redis_benchmark import Cell, cpu_seconds

from tests.support.nginx import private_config

NGINX_CPU, GENERATOR_CPU = "0", "1"
BODY = "hello\n"
PATH = "/index.html"
SERVER = """
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {dir}/www;
    }}"""
LATENCY_NOTE = (
    "Latency: both tools are closed loop here and both time a request from its send to "
    "its reply, so the p50s compare; neither is corrected for coordinated omission: while "
    "a reply is late its connection sends nothing, so the requests it would have sent are "
    "never timed and a stall shows as one slow request, not as many. wrk's percentiles "
    "are its thread's own histogram of those send-to-reply times (wrk2's -R adds a rate "
    "and times from the intended send); sockbench's closed loop measures from the send "
    "the same way, and its open loop (--rate) measures from each request's due time, "
    "which counts the wait a stall imposes on every request due during it. wrk's "
    "histogram starts with its first request; sockbench's window starts after its "
    "warm-up, when every connection is up."
)


# What one run gives: req/s, p50 µs, p99 µs, generator CPU µs per request, nginx CPU %,
# errors (a Cell's add), and the user-space part of the CPU µs per request.
Run = tuple[float, float, float, float, float, int, float]
# connections, sockbench's runs, wrk's, and each one's user µs per request by run
Row = tuple[int, Cell, Cell, list[float], list[float]]


def per_core(cell: Cell) -> float:
    """req/s per core of generator: 1 / CPU seconds per request (``cell.cpu``: µs each)."""
    return 1e6 / median(cell.cpu)


def start_nginx(workdir: Path, port: int) -> list[str]:
    (workdir / "www").mkdir()
    (workdir / "www" / PATH.lstrip("/")).write_text(BODY)
    config = workdir / "nginx.conf"
    http = SERVER.format(dir=workdir, port=port)
    config.write_text(
        private_config(workdir, http, connections=8192, main="worker_rlimit_nofile 65536;\n")
    )
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    assert binary is not None
    return ["taskset", "-c", NGINX_CPU, binary, "-c", str(config), "-p", str(workdir)]


def run_sockbench(port: int, clients: int, args: argparse.Namespace, server: psutil.Process) -> Run:
    """(req/s, p50 µs, p99 µs, generator CPU µs per request, nginx CPU %, errors)."""
    sb_args = [
        "--target", f"tcp://127.0.0.1:{port}", "--protocol", "http", "--http-path", PATH,
        "--workers", "1", "--clients", str(clients), "--duration", str(args.duration),
        "--warmup", str(args.warmup), "--timeout", "5",
    ]  # fmt: skip
    wait_for_quiet()
    before = cpu_seconds(server)
    t0 = time.monotonic()
    result = sockbench_run(
        sb_args, args.duration + args.warmup + 120, prefix=("taskset", "-c", GENERATOR_CPU)
    )
    server_cpu = (cpu_seconds(server) - before) / (time.monotonic() - t0) * 100
    totals = result["totals"]
    rps = float(totals["throughput_rps"])
    gen = result.get("generator") or {}
    cpu = float(gen.get("cpu_percent_mean", float("nan")))
    user = float(gen.get("cpu_user_percent_mean", float("nan")))
    user_us = user / 100 / float(totals["throughput_rps"]) * 1e6
    lat = result["latency_us"]
    errors = sum(totals["errors"].values())
    cpu_us = cpu / 100 / rps * 1e6
    return rps, float(lat["p50"]), float(lat["p99"]), cpu_us, server_cpu, errors, user_us


_UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def _us(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS_US[unit]


def parse_wrk(out: str) -> tuple[int, float, float, float, int]:
    """(requests, req/s, p50 µs, p99 µs, errors) from ``wrk --latency``'s report."""
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _us(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _us(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return requests, rps, p50, p99, errors + (int(non2xx.group(1)) if non2xx else 0)


def run_wrk(port: int, clients: int, args: argparse.Namespace, server: psutil.Process) -> Run:
    """As :func:`run_sockbench`, from wrk's report and its CPU over its run."""
    argv = [
        "taskset", "-c", GENERATOR_CPU, "wrk", "-t1", f"-c{clients}",
        f"-d{args.wrk_duration}s", "--latency", "--timeout", "5s",
        f"http://127.0.0.1:{port}{PATH}",
    ]  # fmt: skip
    wait_for_quiet()
    cpu0 = children_cpu_s()
    user0 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    before = cpu_seconds(server)
    t0 = time.monotonic()
    done = run_bounded(argv, args.wrk_duration + 60)
    wall = time.monotonic() - t0
    cpu = children_cpu_s() - cpu0
    user = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - user0
    server_cpu = (cpu_seconds(server) - before) / wall * 100
    out = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.decode(errors='replace')[-2000:]}")
    requests, rps, p50, p99, errors = parse_wrk(out)
    done_requests = max(requests, 1)
    return rps, p50, p99, cpu / done_requests * 1e6, server_cpu, errors, user / done_requests * 1e6


def measure(args: argparse.Namespace) -> list[Row]:
    port = free_port()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sockbench-nginx-") as tmp:
        workdir = Path(tmp)
        argv = start_nginx(workdir, port)
        with running(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            wait_tcp(port)
            server = psutil.Process(proc.pid)
            for clients in args.connections:
                sb, wrk, sb_user, wrk_user = Cell(), Cell(), [], []
                for rep in range(args.reps):
                    *values, user = run_sockbench(port, clients, args, server)
                    sb.add(*values)  # type: ignore[arg-type]
                    sb_user.append(user)
                    *values, user = run_wrk(port, clients, args, server)
                    wrk.add(*values)  # type: ignore[arg-type]
                    wrk_user.append(user)
                    log(
                        f"C={clients} rep {rep + 1}: sockbench {sb.rps[-1]:,.0f}/s "
                        f"({sb.cpu[-1]:.1f} µs CPU/req, p50 {sb.p50_us[-1]:.0f} µs, errors "
                        f"{sb.errors[-1]}), wrk {wrk.rps[-1]:,.0f}/s ({wrk.cpu[-1]:.1f} µs "
                        f"CPU/req, p50 {wrk.p50_us[-1]:.0f} µs, errors {wrk.errors[-1]})"
                    )
                rows.append((clients, sb, wrk, sb_user, wrk_user))
    return rows


def _ratio(a: float, b: float) -> str:
    ratio = a / b
    return f"**{ratio:.2f}**" if ratio < 1.0 else f"{ratio:.2f}"


def render(rows: list[Row], args: argparse.Namespace) -> str:
    headers = [
        "connections", "sockbench req/s", "wrk req/s", "ratio",
        "sockbench CPU µs/req (user)", "wrk CPU µs/req (user)", "sockbench req/s per core",
        "wrk req/s per core", "per-core ratio", "sockbench p50 / p99 µs", "wrk p50 / p99 µs",
        "nginx CPU % (sb / wrk)", "errors (sb / wrk)",
    ]  # fmt: skip
    table = [
        [
            f"{clients:,}",
            fmt(median(sb.rps)),
            fmt(median(wrk.rps)),
            _ratio(median(sb.rps), median(wrk.rps)),
            f"{fmt(median(sb.cpu), 1)} ({fmt(median(sb_user), 1)})",
            f"{fmt(median(wrk.cpu), 1)} ({fmt(median(wrk_user), 1)})",
            fmt(per_core(sb)),
            fmt(per_core(wrk)),
            _ratio(per_core(sb), per_core(wrk)),
            f"{fmt(median(sb.p50_us))} / {fmt(median(sb.p99_us))}",
            f"{fmt(median(wrk.p50_us))} / {fmt(median(wrk.p99_us))}",
            f"{fmt(median(sb.server_cpu))} / {fmt(median(wrk.server_cpu))}",
            f"{sum(sb.errors)} / {sum(wrk.errors)}",
        ]
        for clients, sb, wrk, sb_user, wrk_user in rows
    ]
    runs = "; ".join(
        f"C={c}: sb {', '.join(fmt(v) for v in sb.rps)} / wrk {', '.join(fmt(v) for v in w.rps)}"
        for c, sb, w, _, _ in rows
    )
    wrk_version = run_bounded(["wrk", "-v"], 10).stdout.decode(errors="replace").split("\n")[0]
    return "\n".join(
        [
            "# sockbench vs wrk: GET of a 6-byte body from one local nginx",
            "",
            f"Machine: {machine_line()}. {wrk_version.strip()} (`{shutil.which('wrk')}`), "
            f"`wrk -t1`, sockbench `--protocol http --workers 1`; nginx (one worker, no "
            f"access log) on CPU {NGINX_CPU}, each generator on CPU {GENERATOR_CPU} "
            "(`taskset`, all of its processes).",
            f"Each cell: median of {args.reps} runs, A B A B (sockbench, then wrk, repeated); "
            f"sockbench measures {args.duration:g} s after {args.warmup:g} s of warm-up, wrk "
            f"runs {args.wrk_duration} s. CPU µs/req: the generator's CPU per request "
            "(sockbench over its window, wrk over its run), in brackets the part in user "
            "space (the rest is the kernel's); req/s per core = 1 / that; "
            "ratio = sockbench / wrk (target ≥ 1.0 per core at 100 connections; bold when "
            "missed). nginx CPU % like top (100 = one core), over each tool's whole run.",
            "",
            md_table(headers, table),
            "",
            f"Every run, req/s (sockbench / wrk): {runs}.",
            "",
            LATENCY_NOTE,
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", default="10,100,1000", help="comma-separated")
    parser.add_argument("--reps", type=int, default=3, help="A B pairs per connection count")
    parser.add_argument("--duration", type=float, default=4.0, help="sockbench's window, s")
    parser.add_argument("--warmup", type=float, default=1.0, help="sockbench's warm-up, s")
    parser.add_argument("--quick", action="store_true", help="1 s windows, 2 reps")
    parser.add_argument("--out", type=Path, default=RESULTS / "vs_wrk.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("vs_wrk: wrk is not installed, skipped (apt-get install wrk)", file=sys.stderr)
        return
    if not (shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")):
        print("vs_wrk: nginx is not installed, skipped (apt-get install nginx)", file=sys.stderr)
        return
    log(f"measuring {machine_line()}")
    if args.quick:
        args.duration, args.warmup, args.reps = 1.0, 0.5, 2
    args.wrk_duration = max(1, round(args.duration))
    args.connections = [int(c) for c in args.connections.split(",")]
    raise_fd_limit()
    write_markdown(args.out, render(measure(args), args))


if __name__ == "__main__":
    main()
