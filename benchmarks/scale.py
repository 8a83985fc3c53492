"""Holding many connections: 10k, 20k, 50k clients at a low open-loop rate.

For each N: ``sockbench run --clients N --duration 5 --warmup 1 --rate N×R
--server prefork --server-processes 4 --workers auto --source-ips auto``, with a
thread counting the server processes' descriptors every 50 ms meanwhile, so the
connect ramp is timed from the outside: from 1% to 99% of the N connections
accepted. Then a baseline run with one client per worker (same workers, same server)
gives the fixed RSS, so the per-connection cost is (RSS_N - RSS_base) / (N - workers).
Errors are reported by kind, with the kernel's listen-queue and SYN drop counters.
The largest N is run twice more: with a 10 s warm-up (``--lag-check``), and over 5
source addresses (``--more-sources``).

    .venv/bin/python benchmarks/scale.py                 # 10k, 20k, 50k: ~5 minutes
    .venv/bin/python benchmarks/scale.py --quick         # 10k only: ~1 minute

``--defaults 50000,100000,200000`` instead runs one command per N at sockbench's
defaults, closed loop, as a user would type it (``sockbench run --clients N --server
prefork --duration 3s --warmup 1s``): the auto choices (workers, server processes,
source addresses, timeout) are sockbench's; the table says what they were, the errors,
the connect ramp and rate sockbench reports, and the memory per connection: the
generator's RSS, the server's, and the kernel's (slab and TCP buffers, system-wide
deltas sampled every 50 ms), written to ``results/scale_defaults.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from _common import (
    RESULTS,
    SOCKBENCH,
    fmt,
    log,
    machine_line,
    md_table,
    raise_fd_limit,
    spawn,
    stop,
    sysctls,
    write_markdown,
)

KIB = 1024
MIB = 1024 * 1024
TARGET_KIB = 6.0
RAMP_LOW, RAMP_HIGH = 0.01, 0.99
SYSCTLS = ("net.core.somaxconn", "net.ipv4.ip_local_port_range", "fs.file-max", "fs.nr_open",
           "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_tw_reuse")  # fmt: skip
_TCP_LINE = re.compile(r"^TCP: inuse (\d+) orphan \d+ tw (\d+) alloc \d+ mem (\d+)", re.M)


def read_tcp() -> tuple[int, int, int]:
    """(sockets in use, in TIME_WAIT, pages of TCP buffer memory), system-wide."""
    m = _TCP_LINE.search(Path("/proc/net/sockstat").read_text())
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else (0, 0, 0)


KERNEL_COUNTERS = ("ListenOverflows", "ListenDrops", "SyncookiesSent", "TCPReqQFullDrop",
                   "TCPTimeouts")  # fmt: skip


def tcp_ext() -> dict[str, int]:
    """The kernel's TcpExt counters (system-wide: other work on the machine adds to them)."""
    lines = [ln.split() for ln in Path("/proc/net/netstat").read_text().splitlines()]
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names and names[0] == "TcpExt:":
            return dict(zip(names[1:], (int(v) for v in values[1:]), strict=False))
    return {}


def kernel_drops(before: dict[str, int], after: dict[str, int]) -> str:
    deltas = {k: after.get(k, 0) - before.get(k, 0) for k in KERNEL_COUNTERS}
    return ", ".join(f"{k} {v:,}" for k, v in deltas.items() if v) or "none"


def read_slab_kib() -> int:
    """The kernel's slab memory (sockets, inodes, dentries live there), system-wide."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):
            return int(line.split()[1])
    return 0


def tree_rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            pass
    return total


def count_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class RampWatcher:
    """Counts, every ``interval_s``, the descriptors of the server's processes (accepted
    connections) and of the generator's (client sockets), in a thread, bounded in time.

    The server is the child of the sockbench process whose command line names
    ``sockbench.servers``; its prefork children are included.
    """

    def __init__(self, pid: int, interval_s: float = 0.05, limit_s: float = 3600) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.limit_s = limit_s
        self.samples: list[tuple[float, int, int, int]] = []  # t, server fds, client fds, mem
        self.slab_kib: list[int] = []
        self.rss_peak = (0, 0)  # bytes: server tree, generator tree (sampled every 0.5 s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RampWatcher:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _split(self) -> tuple[list[int], list[int]]:
        try:
            root = psutil.Process(self.pid)
            server, generator = [], [self.pid]
            for child in root.children():
                tree = [child.pid] + [c.pid for c in child.children(recursive=True)]
                if "sockbench.servers" in " ".join(child.cmdline()):
                    server += tree
                else:
                    generator += tree
        except psutil.Error:
            return [], []
        return server, generator

    def _loop(self) -> None:
        end = time.monotonic() + self.limit_s
        server: list[int] = []
        generator: list[int] = []
        next_scan = 0.0
        while not self._stop.wait(self.interval_s) and time.monotonic() < end:
            now = time.monotonic()
            if now >= next_scan:  # the process tree changes only at start-up
                server, generator = self._split()
                next_scan = now + 0.5
                rss = (tree_rss(server), tree_rss(generator))
                self.rss_peak = (max(self.rss_peak[0], rss[0]), max(self.rss_peak[1], rss[1]))
            self.samples.append(
                (
                    now - self.t0,
                    sum(count_fds(p) for p in server),
                    sum(count_fds(p) for p in generator),
                    read_tcp()[2],
                )
            )
            self.slab_kib.append(read_slab_kib())

    def ramp(self, connections: int) -> tuple[float | None, float | None, int, int]:
        """(s from launch to 1% of the connections accepted, s from 1% to 99%, peak server
        descriptors above its idle count, peak kernel TCP memory pages).

        1% and 99% rather than first and last: the server's own descriptors move a little
        while its processes start, and a few stragglers would stretch the ramp."""
        with_server = [s for s in self.samples if s[1] > 0]
        if not with_server:
            return None, None, 0, 0
        base = min(s[1] for s in with_server)
        start = end = None
        for t, fds, _gen, _mem in with_server:
            if start is None and fds >= base + RAMP_LOW * connections:
                start = t
            if end is None and fds >= base + RAMP_HIGH * connections:
                end = t
                break
        peak = max(s[1] for s in with_server) - base
        mem = max(s[3] for s in self.samples)
        return start, (end - start) if start is not None and end is not None else None, peak, mem


@dataclass
class Outcome:
    clients: int
    result: dict[str, Any]
    wall_s: float
    first_connect_s: float | None
    ramp_s: float | None
    peak_sockets: int
    tcp_mem_pages: int
    kernel: str = "none"
    slab_peak_kib: int = 0
    rss_peak: tuple[int, int] = (0, 0)  # server tree, generator tree, sampled from outside


def sb_args(
    clients: int,
    args: argparse.Namespace,
    workers: str = "auto",
    warmup: float | None = None,
    sources: str = "auto",
) -> list[str]:
    return [
        "--clients", str(clients),
        "--duration", str(args.duration),
        "--warmup", str(args.warmup if warmup is None else warmup),
        "--rate", f"{max(1.0, clients * args.per_client_rate):g}",
        "--server", "prefork",
        "--server-processes", str(args.server_processes),
        "--workers", workers,
        "--source-ips", sources,
        "--timeout", "10",
        "--json", "-", "--out", "",
    ]  # fmt: skip


def run_one(clients: int, argv: list[str], timeout_s: float) -> Outcome:
    counters = tcp_ext()
    t0 = time.monotonic()
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with RampWatcher(proc.pid, limit_s=timeout_s) as watcher:
            out, err = proc.communicate(timeout=timeout_s)
    finally:
        stop(proc)
    wall = time.monotonic() - t0
    try:
        result = json.loads(out)
    except json.JSONDecodeError:
        tail = err.decode(errors="replace")[-3000:]
        raise RuntimeError(f"run failed (rc {proc.returncode}): {' '.join(argv)}\n{tail}") from None
    first, ramp, peak, mem = watcher.ramp(result["totals"]["connections"])
    return Outcome(
        clients, result, wall, first, ramp, peak, mem, kernel_drops(counters, tcp_ext()),
        max(watcher.slab_kib, default=0), watcher.rss_peak,
    )  # fmt: skip


def errors_by_kind(result: dict[str, Any]) -> str:
    kinds = Counter(result["totals"]["errors"]) + Counter(result["totals"]["warmup_errors"])
    return ", ".join(f"{k} {v:,}" for k, v in kinds.most_common()) or "none"


def generator_lag(result: dict[str, Any]) -> str:
    """p99 of how late the generator itself sent (open loop), in ms."""
    for key in ("scheduler_lag_us", "send_lag_us"):
        section = result.get(key)
        if section:
            return f"{section['p99'] / 1000:,.1f}"
    return "–"


def setup_s(result: dict[str, Any]) -> float:
    """Run start -> measurement start, minus warm-up: imports, server, workers, connects."""
    started = datetime.fromisoformat(result["started_at"]).timestamp()
    return float(result["measurement_started_at_s"] - started - result["config"]["warmup_s"])


def rss(result: dict[str, Any], key: str) -> int:
    section = result.get(key) or {}
    return int(section.get("rss_bytes_max", 0))


def scale_rows(args: argparse.Namespace) -> tuple[list[list[str]], list[str]]:
    rows, notes = [], []
    timeout = args.timeout
    runs = [(n, args.warmup, "auto") for n in args.clients]
    if args.lag_check:
        runs.append((max(args.clients), args.lag_check, "auto"))
    if args.more_sources:
        runs.append((max(args.clients), args.warmup, args.more_sources))
    bases: dict[int, Outcome] = {}
    for n, warmup, sources in runs:
        label = f"{n:,}"
        if warmup != args.warmup:
            label += f" (warm-up {warmup:g} s)"
        if sources != "auto":
            label += f" (`--source-ips {sources}`)"
        log(f"N={label}: running ...")
        argv = [*SOCKBENCH, "run", *sb_args(n, args, warmup=warmup, sources=sources)]
        big = run_one(n, argv, timeout)
        workers = int(big.result["config"]["workers"])
        if n not in bases:
            log(f"N={n:,}: {workers} workers; baseline with {workers} client(s) ...")
            bases[n] = run_one(
                workers, [*SOCKBENCH, "run", *sb_args(workers, args, str(workers))], 300
            )
        base = bases[n]
        totals = big.result["totals"]
        conns = int(totals["connections"])
        gen_n, gen_b = rss(big.result, "generator"), rss(base.result, "generator")
        srv_n, srv_b = rss(big.result, "server_resources"), rss(base.result, "server_resources")
        per_conn = (gen_n - gen_b) / max(1, n - workers) / KIB
        connect = big.result["connect_us"]
        ramp = f"{big.ramp_s:.2f}" if big.ramp_s is not None else "not all"
        cps = fmt((RAMP_HIGH - RAMP_LOW) * conns / big.ramp_s) if big.ramp_s else "–"
        rows.append(
            [
                label,
                f"{workers} / {len(big.result['config']['source_ips']) or 1}",
                f"{conns:,}",
                f"{setup_s(big.result):.1f} ({setup_s(base.result):.1f})",
                fmt(big.first_connect_s, 1),
                ramp,
                cps,
                f"{connect['p50'] / 1000:.1f} / {connect['p99'] / 1000:.1f}",
                errors_by_kind(big.result),
                big.kernel,
                f"{totals['throughput_rps']:,.0f} / {totals.get('requested_rps', 0):,.0f}",
                generator_lag(big.result),
                f"{big.result['latency_us']['p99'] / 1000:,.1f}",
                f"{gen_n / MIB:,.0f} ({gen_b / MIB:,.0f})",
                f"{gen_n / n / KIB:.1f}",
                f"**{per_conn:.1f}**" if per_conn > TARGET_KIB else f"{per_conn:.1f}",
                f"{srv_n / MIB:,.0f} ({srv_b / MIB:,.0f})",
                f"{(srv_n - srv_b) / n / KIB:.1f}",
                f"{big.tcp_mem_pages * 4 / n:.2f}",
            ]
        )
        for warning in big.result.get("warnings", []):
            notes.append(f"N={label}: {warning}")
        log(f"N={label}: " + " | ".join(rows[-1]))
    return rows, notes


def defaults_rows(args: argparse.Namespace) -> tuple[list[list[str]], list[str], list[str]]:
    """One command per N at sockbench's defaults (closed loop); rows, notes, commands."""
    rows, notes, commands = [], [], []
    for n in args.defaults:
        argv = [*SOCKBENCH, "run", "--clients", str(n), "--server", "prefork",
                "--duration", f"{args.duration:g}s", "--warmup", f"{args.warmup:g}s",
                "--json", "-", "--out", ""]  # fmt: skip
        if args.connect_rate:
            argv[5:5] = ["--connect-rate", args.connect_rate]
        commands.append(shlex.join(["sockbench", *argv[len(SOCKBENCH) :]]))
        log(f"N={n:,}: {commands[-1]}")
        slab0, tcp0 = read_slab_kib(), read_tcp()[2]
        big = run_one(n, argv, args.timeout)
        r, totals, config = big.result, big.result["totals"], big.result["config"]
        conns = int(totals["connections"])
        # Peak RSS of each process tree, sampled from outside (sockbench's own sampler
        # lists every descriptor, too slow to sample 14 workers of 14k often).
        srv = max(rss(r, "server_resources"), big.rss_peak[0])
        gen = max(rss(r, "generator"), big.rss_peak[1])
        rps = float(totals["throughput_rps"])
        rows.append(
            [
                f"{n:,}",
                f"{config['workers']} / {config['server_processes']} / "
                f"{len(config['source_ips']) or 1}",
                f"{config['timeout_s']:g}",
                f"{conns:,}",
                errors_by_kind(r),
                big.kernel,
                f"{totals.get('connect_ramp_s', 0):.1f}",
                fmt(totals.get("connect_rate_per_s")),
                f"{rps:,.0f}",
                f"{n / rps:.2f}" if rps else "–",
                f"{r['latency_us']['p99'] / 1000:,.0f}",
                f"{gen / MIB:,.0f}",
                f"{gen / max(1, conns) / KIB:.1f}",
                f"{srv / MIB:,.0f}",
                f"{srv / max(1, conns) / KIB:.1f}",
                f"{(max(big.slab_peak_kib, slab0) - slab0) / max(1, conns):.1f}",
                f"{max(0, big.tcp_mem_pages - tcp0) * 4 / max(1, conns):.2f}",
            ]
        )
        notes += [f"N={n:,}: {w}" for w in r.get("warnings", [])]
        log(f"N={n:,}: " + " | ".join(rows[-1]))
    return rows, notes, commands


def write_defaults(args: argparse.Namespace, limits: dict[str, str], fds: str) -> None:
    rows, notes, commands = defaults_rows(args)
    headers = [
        "clients", "workers / server processes / source IPs (auto)", "timeout s (default)",
        "connected", "errors by kind (window + warm-up)", "kernel TCP drops (TcpExt)",
        "connect ramp s", "connects/s", "req/s", "clients / req/s s (Little)",
        "latency p99 ms", "generator RSS MiB", "generator KiB / conn", "server RSS MiB",
        "server KiB / conn", "kernel slab KiB / conn", "kernel TCP buffers KiB / conn",
    ]  # fmt: skip
    text = [
        "# Scale at defaults: one command per N",
        "",
        f"Machine: {machine_line()}. "
        + ", ".join(f"`{k} = {v}`" for k, v in limits.items())
        + f", RLIMIT_NOFILE {fds}.",
        "Commands, one run each (closed loop, every other option at its default):",
        "",
        *[f"    {c}" for c in commands],
        "",
        "connect ramp and connects/s: sockbench's own `totals.connect_ramp_s` and "
        "`connect_rate_per_s` (first client's first attempt to the last client's first "
        "connection). Memory: peak RSS of the generator's and the server's process trees "
        "(sockbench's samples) over the connections; the kernel's slab (sockets, inodes, "
        "dentries, file structs of both ends) and TCP buffer pages (`/proc/sockstat`) as "
        "system-wide deltas from before the run to their peak, sampled every 50 ms: other "
        "work on the machine adds noise to those two.",
        "",
        md_table(headers, rows),
        "",
    ]
    if notes:
        text += ["Warnings sockbench gave:", "", *[f"- {n}" for n in notes], ""]
    write_markdown(args.out_defaults, "\n".join(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="10000,20000,50000")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--per-client-rate", type=float, default=0.1,
                        help="requests/s per client (open loop)")  # fmt: skip
    parser.add_argument("--server-processes", type=int, default=4)
    parser.add_argument("--lag-check", type=float, default=10.0,
                        help="run the largest N again with this warm-up (0: don't)")  # fmt: skip
    parser.add_argument("--more-sources", default="127.0.0.1-127.0.0.5",
                        help="run the largest N again with these --source-ips")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=1500, help="seconds per run")
    parser.add_argument("--quick", action="store_true", help="10k only")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.md")
    parser.add_argument("--defaults", default="",
                        help="N,N,...: one run each at sockbench's defaults instead")  # fmt: skip
    parser.add_argument("--connect-rate", default="", help="with --defaults: --connect-rate")
    parser.add_argument("--out-defaults", type=Path, default=RESULTS / "scale_defaults.md")
    args = parser.parse_args()
    if args.defaults:
        args.defaults = [int(float(c)) for c in args.defaults.split(",")]
        if args.duration == 5.0:
            args.duration = 3.0  # a few seconds: 200k loads the whole machine
        soft = raise_fd_limit()
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        write_defaults(args, sysctls(SYSCTLS), f"{soft}/{hard}")
        return
    log(f"measuring {machine_line()}")
    if args.quick:
        args.clients, args.lag_check, args.more_sources = "10000", 0.0, ""
    args.clients = [int(c) for c in args.clients.split(",")]
    soft = raise_fd_limit()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limits = sysctls(SYSCTLS)
    log("kernel limits: " + ", ".join(f"{k}={v}" for k, v in limits.items()))
    rows, notes = scale_rows(args)
    headers = [
        "clients", "workers / source IPs", "connected", "setup s (baseline)",
        "launch → 1% connected s", "ramp 1% → 99% s", "connections/s",
        "connect p50 / p99 ms", "errors by kind", "kernel TCP drops (TcpExt, whole run)",
        "req/s done / asked",
        "generator lag p99 ms", "latency p99 ms",
        "generator RSS MiB (baseline)", "RSS / client KiB", "(RSS_N − RSS_base) / N KiB",
        "server RSS MiB (baseline)", "server KiB / conn", "kernel TCP buffers KiB / conn",
    ]  # fmt: skip
    text = [
        "# Scale: holding 10k-50k idle-ish connections",
        "",
        f"Machine: {machine_line()}. "
        + ", ".join(f"`{k} = {v}`" for k, v in limits.items())
        + f", RLIMIT_NOFILE {soft}/{hard}.",
        f"Each run: `sockbench run --clients N --duration {args.duration:g} --warmup "
        f"{args.warmup:g} --rate N×{args.per_client_rate:g} --server prefork "
        f"--server-processes {args.server_processes} --workers auto --source-ips auto`, "
        f"one run per N. Baseline: the same with one client per worker.",
        "setup s: from the run's start to the measurement's, minus warm-up (imports, server "
        "and worker start, per-client set-up, connects). The connect ramp is timed outside "
        "sockbench by counting the server processes' descriptors every 50 ms: from 1% to 99% "
        "of N accepted. generator lag: how late the generator itself sent (open loop, "
        "`scheduler_lag_us`). The last rows repeat the largest N with a longer warm-up (to "
        "tell a start-up transient from a steady shortfall) and over more source addresses "
        "(auto puts up to 25,000 connections on one). "
        "Target: (RSS_N − RSS_base) / N ≤ 6 KiB (bold when missed).",
        "",
        md_table(headers, rows),
        "",
    ]
    if notes:
        text += ["Warnings sockbench gave:", "", *[f"- {n}" for n in notes], ""]
    write_markdown(args.out, "\n".join(text))


if __name__ == "__main__":
    sys.exit(main())
