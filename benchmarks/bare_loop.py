"""How far sockbench's HTTP path is from a bare Python epoll loop: the CPython floor.

Issue 29 asks for wrk's req/s per core at 100 connections. wrk is C; the question this
script answers is how much of the gap is Python's own, and how much is sockbench's work
per request. The bare loop (:data:`BARE`, run as its own process) is what a Python
generator cannot do without: one ``epoll`` set, and per reply one ``recv_into``, two
clock reads, an ``append`` of the latency and one ``send`` of the next GET. It frames
nothing: every read must be one whole reply of the length the first one had (nginx's
reply to the same GET, its ``Date`` of fixed width), and a read that is not ends its
run with an error rather than a wrong count. Against it, the same command as
``vs_wrk.py``:

    sockbench run --target tcp://127.0.0.1:PORT --protocol http --http-path /index.html \\
        --workers 1 --clients N --duration D --warmup W --timeout 5

alternated A B A B, ``--reps`` times, against one private nginx (``vs_wrk.start_nginx``)
on CPU 0, each generator on CPU 1. Both report CPU per request over their measured
window only (the bare loop after its own warm-up of W seconds).

    .venv/bin/python benchmarks/bare_loop.py                 # 100 connections, ~1 min
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
from _common import (
    RESULTS,
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
from vs_wrk import GENERATOR_CPU, NGINX_CPU, PATH, run_sockbench, start_nginx

#: The bare loop: argv port, connections, warm-up s, window s; prints one JSON line.
BARE = r"""
import json, resource, select, socket, sys, time
port, n, warmup, window = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
request = b"GET PATH HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
epoll = select.epoll()
conns = {}
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    epoll.register(s.fileno(), select.EPOLLIN)
    conns[s.fileno()] = [s, bytearray(65536), 0]
size = None
latencies = []
mono = time.monotonic_ns
for c in conns.values():
    c[2] = mono()
    c[0].send(request)
count = 0
start = time.monotonic() + warmup
end = start + window
measuring = False
poll = epoll.poll
while True:
    for fd, _ in poll():
        c = conns[fd]
        got = c[0].recv_into(c[1])
        if got != size:
            if size is not None:
                sys.exit(f"a read of {got} bytes, not one reply of {size}: not measured")
            size = got
        now = mono()
        latencies.append(now - c[2])
        count += 1
        c[2] = mono()
        c[0].send(request)
    now_s = time.monotonic()
    if not measuring and now_s >= start:
        measuring, count, latencies = True, 0, []
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), now_s
    elif measuring and now_s >= end:
        break
r1 = resource.getrusage(resource.RUSAGE_SELF)
user, system = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
latencies.sort()
print(json.dumps({
    "rps": count / (now_s - t0), "cpu_us": (user + system) / count * 1e6,
    "user_us": user / count * 1e6, "p50_us": latencies[len(latencies) // 2] / 1e3,
}))
""".replace("PATH", PATH)


def run_bare(port: int, clients: int, args: argparse.Namespace) -> dict[str, float]:
    wait_for_quiet()
    argv = [
        "taskset", "-c", GENERATOR_CPU, sys.executable, "-c", BARE, str(port), str(clients),
        str(args.warmup), str(args.duration),
    ]  # fmt: skip
    done = run_bounded(argv, args.duration + args.warmup + 60)
    if done.returncode != 0:
        raise RuntimeError(f"the bare loop failed: {done.stderr.decode(errors='replace')}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def measure(args: argparse.Namespace) -> list[tuple[int, dict[str, list[float]]]]:
    port = free_port()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sockbench-nginx-") as tmp:
        argv = start_nginx(Path(tmp), port)
        with running(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            wait_tcp(port)
            server = psutil.Process(proc.pid)
            for clients in args.connections:
                cell: dict[str, list[float]] = {
                    k: []
                    for k in ("sb_rps", "sb_cpu", "sb_user", "bare_rps", "bare_cpu", "bare_user")
                }
                for rep in range(args.reps):
                    rps, _, _, cpu, _, errors, user = run_sockbench(port, clients, args, server)
                    if errors:
                        raise RuntimeError(f"sockbench counted {errors} errors: not comparable")
                    cell["sb_rps"].append(rps)
                    cell["sb_cpu"].append(cpu)
                    cell["sb_user"].append(user)
                    bare = run_bare(port, clients, args)
                    cell["bare_rps"].append(bare["rps"])
                    cell["bare_cpu"].append(bare["cpu_us"])
                    cell["bare_user"].append(bare["user_us"])
                    log(
                        f"C={clients} rep {rep + 1}: sockbench {rps:,.0f}/s {cpu:.2f} µs/req "
                        f"(user {user:.2f}), bare loop {bare['rps']:,.0f}/s "
                        f"{bare['cpu_us']:.2f} µs/req (user {bare['user_us']:.2f})"
                    )
                rows.append((clients, cell))
    return rows


def render(rows: list[tuple[int, dict[str, list[float]]]], args: argparse.Namespace) -> str:
    headers = [
        "connections", "sockbench req/s", "bare loop req/s", "sockbench CPU µs/req (user)",
        "bare loop CPU µs/req (user)", "sockbench - bare, µs/req (user)",
    ]  # fmt: skip
    table = []
    for clients, c in rows:
        sb_cpu, bare_cpu = median(c["sb_cpu"]), median(c["bare_cpu"])
        sb_user, bare_user = median(c["sb_user"]), median(c["bare_user"])
        table.append(
            [
                f"{clients:,}",
                fmt(median(c["sb_rps"])),
                fmt(median(c["bare_rps"])),
                f"{fmt(sb_cpu, 2)} ({fmt(sb_user, 2)})",
                f"{fmt(bare_cpu, 2)} ({fmt(bare_user, 2)})",
                f"{fmt(sb_cpu - bare_cpu, 2)} ({fmt(sb_user - bare_user, 2)})",
            ]
        )
    runs = "; ".join(
        f"C={clients}: sockbench {', '.join(fmt(v, 2) for v in c['sb_cpu'])} / bare "
        f"{', '.join(fmt(v, 2) for v in c['bare_cpu'])}"
        for clients, c in rows
    )
    return "\n".join(
        [
            "# sockbench's HTTP path against a bare Python epoll loop",
            "",
            f"Machine: {machine_line()}. nginx (one worker, no access log) on CPU "
            f"{NGINX_CPU}, each generator on CPU {GENERATOR_CPU} (`taskset`); GET {PATH} "
            "(a 6-byte body). The bare loop: per reply one `recv_into`, two clock reads, "
            "one `append`, one `send` (benchmarks/bare_loop.py). sockbench: `--protocol "
            "http --workers 1`.",
            f"Each cell: median of {args.reps} runs, A B A B; both measure {args.duration:g} "
            f"s after {args.warmup:g} s of warm-up. CPU µs/req over the window, user space "
            "in brackets.",
            "",
            md_table(headers, table),
            "",
            f"Every run, CPU µs/req: {runs}.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", default="100", help="comma-separated")
    parser.add_argument("--reps", type=int, default=3, help="A B pairs per connection count")
    parser.add_argument("--duration", type=float, default=4.0, help="each window, s")
    parser.add_argument("--warmup", type=float, default=1.0, help="each warm-up, s")
    parser.add_argument("--out", type=Path, default=RESULTS / "bare_loop.md")
    args = parser.parse_args()
    if not (shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")):
        print("bare_loop: nginx is not installed, skipped (apt-get install nginx)", file=sys.stderr)
        return
    args.connections = [int(c) for c in args.connections.split(",")]
    log(f"measuring {machine_line()}")
    write_markdown(args.out, render(measure(args), args))


if __name__ == "__main__":
    main()
