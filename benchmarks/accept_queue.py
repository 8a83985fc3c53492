"""A TCP target's accept queue past its knee: the result's count against the kernel's.

Runs ``sockbench run --server-cmd 'socat TCP-LISTEN:{port},backlog=B,fork EXEC:cat'``
(a process per connection: an accept loop that falls behind a burst of connects) at
each backlog B and client count, and writes per run: the result's
``accept_queue.drops`` (the listening socket's own count, from a sock_diag dump before
and after the run), the machine's ``TcpExt: ListenDrops`` delta over the run
(``/proc/net/netstat``: each overflow at any listening socket here, once) and
``TCPBacklogDrop``, connect p50 and p99,
the connections starved, whether a ``listen_drops`` warning was given, and the load.

    .venv/bin/python benchmarks/accept_queue.py
    .venv/bin/python benchmarks/accept_queue.py --backlogs 8,1024 --clients 300 --reps 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from _common import ROOT, machine_line, md_table, sockbench_run, wait_for_quiet, write_markdown

COLUMNS = (
    "backlog", "clients", "accept_queue.drops", "kernel ListenDrops", "TCPBacklogDrop",
    "connect p50",
    "connect p99", "starved", "listen_drops warning", "req/s", "load",
)  # fmt: skip


def tcp_ext(*names: str) -> tuple[int, ...]:
    """The machine's TcpExt counters ``names`` (``/proc/net/netstat``)."""
    with open("/proc/net/netstat") as netstat:
        keys, values = (line.split() for line in netstat if line.startswith("TcpExt:"))
    return tuple(int(values[keys.index(name)]) for name in names)


def _ms(us: int) -> str:
    return f"{us / 1000:,.1f} ms"


def one_run(backlog: int, clients: int) -> list[str]:
    wait_for_quiet()
    server = f"socat TCP-LISTEN:{{port}},bind=127.0.0.1,backlog={backlog},reuseaddr,fork EXEC:cat"
    before = tcp_ext("ListenDrops", "TCPBacklogDrop")
    doc = sockbench_run(
        ["--server-cmd", server, "--clients", str(clients), "-d", "2", "--warmup", "1"], 120
    )
    after = tcp_ext("ListenDrops", "TCPBacklogDrop")
    listen, backlogged = (b - a for a, b in zip(before, after, strict=True))
    queue, connect = doc.get("accept_queue") or {}, doc["connect_us"]
    warned = any(w["kind"] == "listen_drops" for w in doc["warning_details"])
    return [
        f"{backlog:,}", f"{clients:,}", f"{queue['drops']:,}" if "drops" in queue else "—",
        f"{listen:,}", f"{backlogged:,}",
        _ms(connect["p50"]), _ms(connect["p99"]),
        f"{doc['totals']['errors'].get('starved', 0):,}", "yes" if warned else "no",
        f"{doc['totals']['throughput_rps']:,.0f}", f"{os.getloadavg()[0]:.2f}",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlogs", default="8,64,1024")
    parser.add_argument("--clients", default="300")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "accept_queue.md")
    args = parser.parse_args()
    if shutil.which("socat") is None:
        print("accept_queue: socat is not installed, skipped (apt-get install socat)")
        return
    rows: list[list[str]] = []
    for _ in range(args.reps):
        for clients in (int(c) for c in args.clients.split(",")):
            for backlog in (int(b) for b in args.backlogs.split(",")):
                rows.append(one_run(backlog, clients))
                print(" | ".join(rows[-1]), flush=True)
    write_markdown(
        args.out,
        "\n\n".join(
            [
                "# A TCP target's accept queue past its knee: the result's drops and the kernel's",
                machine_line(),
                f"`{' '.join(sys.argv)}`; each run `sockbench run --server-cmd 'socat "
                "TCP-LISTEN:{port},bind=127.0.0.1,backlog=B,reuseaddr,fork EXEC:cat' --clients "
                "N -d 2 --warmup 1`. `accept_queue.drops` is the listening socket's own count "
                "over the run. The kernel's `ListenDrops` counts each overflow once, at every "
                "listening socket on the machine; the socket's own count also takes in the "
                "retries of handshakes it held while its queue was full, which it discards, so "
                "it reads at or above `ListenDrops` while nothing else here drops. "
                "`TCPBacklogDrop`: packets dropped while the socket was locked (none here).",
                md_table(COLUMNS, rows),
            ]
        ),
    )


if __name__ == "__main__":
    main()
