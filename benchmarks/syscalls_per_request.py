"""Syscalls per request of each server model's echo path, counted with ``strace -c``.

The cheapest way to see what a model's wrapping costs: a minimal echo makes one
receive and one send per request, plus a share of one readiness wait. Each model
runs as ``sockbench run`` embeds it; 8 connections, 64 B echoes, counted after
every connection has been served once (see ``tests/support/strace.py``). Column
"worst case" repeats the count with glibc's mmap threshold pinned at its
starting 128 KiB (``MALLOC_MMAP_THRESHOLD_``), as a process gets it when nothing
larger was freed before: an allocation per request that glibc maps shows there.

    .venv/bin/python benchmarks/syscalls_per_request.py        # ~2 min
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _common import RESULTS, ROOT, log, machine_line, md_table, write_markdown

sys.path.insert(0, str(ROOT))

from sockbench.endpoints import Endpoint, Proto
from sockbench.servers.registry import MODELS
from tests.support.strace import echo_syscalls, sends

MEMORY_CALLS = ("mmap", "munmap", "mremap", "brk")
WORST_CASE_ENV = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}


def bind(proto: Proto, directory: str) -> Endpoint:
    if proto.is_unix:
        return Endpoint(proto, path=os.path.join(directory, "s.sock"))
    return Endpoint(proto, "127.0.0.1", 0)


def count(model: str, proto: Proto, requests: int, env: dict[str, str]) -> dict[str, int]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the launcher passes our environment to the server
    try:
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            return echo_syscalls(model, bind(proto, tmp), requests)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def per_request(counts: dict[str, int], names: tuple[str, ...] | None = None) -> str:
    served = max(1, sends(counts))
    chosen = sorted(counts.items(), key=lambda kv: -kv[1])
    chosen = [(n, c) for n, c in chosen if c / served >= 0.005]
    if names is not None:
        chosen = [(n, c) for n, c in chosen if n in names]
    return ", ".join(f"{name} {calls / served:.2f}" for name, calls in chosen) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--protos", default="tcp,unix,udp")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=RESULTS / "syscalls_per_request.md")
    a = parser.parse_args()
    machine_line()
    rows = []
    for proto in (Proto(p) for p in a.protos.split(",")):
        for model in a.models.split(","):
            natural = count(model, proto, a.requests, {})
            worst = count(model, proto, a.requests, WORST_CASE_ENV)
            total = sum(natural.values()) / max(1, sends(natural))
            log(f"  {model:10} {proto.value:4} {total:.2f} calls/request: {per_request(natural)}")
            rows.append([
                model, proto.value, f"{total:.2f}", per_request(natural),
                per_request(worst, MEMORY_CALLS),
            ])  # fmt: skip
    headers = ["model", "proto", "syscalls / request", "as embedded", "worst case: memory calls"]
    write_markdown(a.out, "\n\n".join([
        "# Server syscalls per echo request (`strace -c -f`, 64 B, 8 connections)",
        f"Machine: {machine_line()}. {a.requests} requests per cell, calls divided by "
        "the sends strace saw. Worst case: `MALLOC_MMAP_THRESHOLD_=131072`.",
        f"Command: `benchmarks/syscalls_per_request.py {' '.join(sys.argv[1:])}`",
        md_table(headers, rows, "llrll"),
    ]))  # fmt: skip


if __name__ == "__main__":
    main()
