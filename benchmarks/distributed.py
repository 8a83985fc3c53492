"""Workers as Ray actors vs worker processes: PING throughput against one redis-server.

A local Ray cluster of three 1-CPU nodes (``ray.cluster_utils.Cluster``, every node
on 127.0.0.1) and three local worker processes load the same private redis-server
alternately, A B A B, ``--reps`` times each:

    sockbench run --target tcp://127.0.0.1:PORT --send 'PING\\r\\n' --expect '+PONG\\r\\n' \\
        --clients C --workers 3                          # processes
    sockbench run ... --workers 3 --cluster ray:HOST:PORT # Ray actors, one per node

The table reports medians of req/s, of set-up seconds (the command's wall time less
warm-up and measurement: interpreter start, workers, connections, and for Ray
joining the cluster, placing the actors, checking every node and measuring clocks;
``generator.cluster_setup_s`` is that last part alone) and of the largest clock
uncertainty of any node. The target is Ray within 10 % of processes. The cluster's
own start-up (seconds, once) is reported separately.

    .venv/bin/python benchmarks/distributed.py           # ~2 minutes
    .venv/bin/python benchmarks/distributed.py --quick   # ~1 minute
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Before Ray is imported: keep every node and driver on 127.0.0.1.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

from _common import (
    RESULTS,
    ensure_tools,
    fmt,
    free_port,
    log,
    machine_line,
    md_table,
    median,
    raise_fd_limit,
    running,
    sockbench_run,
    wait_for_quiet,
    wait_tcp,
    write_markdown,
)

NODES = 3
TOOLS = {"redis-server": "redis-server"}


@dataclass
class Variant:
    name: str
    rps: list[float] = field(default_factory=list)
    setup_s: list[float] = field(default_factory=list)
    cluster_setup_s: list[float] = field(default_factory=list)
    uncertainty_us: list[float] = field(default_factory=list)
    p99_us: list[float] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)


def _redis(port: int, workdir: str) -> list[str]:
    return [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", workdir, "--protected-mode", "yes",
        "--loglevel", "warning", "--daemonize", "no",
    ]  # fmt: skip


def _measure(variant: Variant, args: argparse.Namespace, port: int, extra: list[str]) -> None:
    wait_for_quiet()
    run_args = [
        "--target", f"tcp://127.0.0.1:{port}", "--send", r"PING\r\n", "--expect", r"+PONG\r\n",
        "--clients", str(args.clients), "--workers", str(NODES),
        "--duration", str(args.duration), "--warmup", str(args.warmup), "--quiet", *extra,
    ]  # fmt: skip
    began = time.monotonic()
    result = sockbench_run(run_args, timeout_s=args.duration + args.warmup + 180)
    wall = time.monotonic() - began
    generator: dict[str, Any] = result.get("generator") or {}
    nodes = generator.get("nodes") or []
    variant.rps.append(result["totals"]["throughput_rps"])
    variant.setup_s.append(wall - args.duration - args.warmup)
    variant.p99_us.append(result["latency_us"]["p99"])
    variant.errors.append(sum(result["totals"]["errors"].values()))
    if nodes:
        variant.cluster_setup_s.append(generator["cluster_setup_s"])
        variant.uncertainty_us.append(max(n["clock_uncertainty_us"] for n in nodes))
        assert len({n["node_id"] for n in nodes}) == NODES, "workers did not spread over nodes"
    log(f"{variant.name}: {variant.rps[-1]:,.0f} req/s, set-up {variant.setup_s[-1]:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 reps of 3 s")
    parser.add_argument("--out", type=Path, default=RESULTS / "distributed.md")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.duration = 2, 3.0
    log(f"measuring {machine_line()}")
    ensure_tools(TOOLS)
    raise_fd_limit()
    import ray
    from ray.cluster_utils import Cluster

    processes, actors = Variant("processes"), Variant("Ray actors")
    began = time.monotonic()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    try:
        for _ in range(NODES - 1):
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        cluster_start_s = time.monotonic() - began
        port = free_port()
        quiet = {"stdout": subprocess.DEVNULL}
        with tempfile.TemporaryDirectory() as workdir, running(_redis(port, workdir), **quiet):
            wait_tcp(port)
            for _ in range(args.reps):
                _measure(processes, args, port, [])
                _measure(actors, args, port, ["--cluster", f"ray:{cluster.address}"])
    finally:
        ray.shutdown()
        cluster.shutdown()
    ratio = median(actors.rps) / median(processes.rps)
    rows = [
        [
            v.name,
            fmt(median(v.rps)),
            f"{fmt(min(v.rps))}–{fmt(max(v.rps))}",
            fmt(median(v.rps) / median(processes.rps), 2),
            fmt(median(v.p99_us)),
            fmt(median(v.setup_s), 1),
            fmt(median(v.cluster_setup_s), 2) if v.cluster_setup_s else "–",
            fmt(median(v.uncertainty_us)) if v.uncertainty_us else "–",
            str(sum(v.errors)),
        ]
        for v in (processes, actors)
    ]
    table = md_table(
        [
            "workers",
            "req/s",
            "range",
            "ratio",
            "p99 µs",
            "set-up s",
            "placing s",
            "clock ± µs",
            "errors",
        ],
        rows,
    )
    text = "\n".join(
        [
            f"# {NODES} Ray actors on a local {NODES}-node cluster vs {NODES} worker processes",
            "",
            f"Machine: {machine_line()}. redis-server PING, {args.clients} clients, "
            f"{args.duration:g} s measured after {args.warmup:g} s warm-up; medians of "
            f"{args.reps} runs, alternated A B A B. set-up = wall time less warm-up and "
            "measurement; placing = Ray's part of it (join, place, check nodes, clocks); "
            "clock ± = the largest clock-offset uncertainty of any node. "
            f"The cluster itself took {cluster_start_s:.1f} s to start (once).",
            "",
            table,
            "",
            f"Ray / processes req/s: {ratio:.2f} (target ≥ 0.90"
            + ("" if ratio >= 0.9 else "; **missed**")
            + ").",
        ]
    )
    write_markdown(args.out, text)


if __name__ == "__main__":
    main()
