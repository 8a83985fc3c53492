"""What the compiled build's system-call shim saves per call: the socket and select
methods against ``sockbench/engine/io/_sysio.c`` on the same descriptors.

The pump's per-request calls are a ``send``, a ``recv_into`` and (about one per
request, fewer in a batch) an ``epoll_wait``. The loop here is those calls and nothing
else: 100 bytes sent into one end of a non-blocking ``socket.socketpair()`` and read
from the other into a 4 KiB ``bytearray``; and ``poll(0)`` of an epoll set with one
ready descriptor. Each variant's calls are bound once (no method lookup in the loop),
so what differs is the call itself: argument parsing, the socket module's timeout
machinery and the GIL's release and retake (the shim keeps the GIL for calls that
cannot block). Rounds alternate A B A B in one child process pinned to one CPU.

The shim is the compiled build's where it is built, otherwise compiled from its source
here (``sysio.build_shim``: a C compiler and Python's headers).

    .venv/bin/python benchmarks/sysio_cost.py            # ~30 s -> results/sysio_cost.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import RESULTS, fmt, log, machine_line, md_table, median, write_markdown

from sockbench.engine.io import sysio

CPU = "1"

#: argv: the shim's module name and file, calls per round, rounds; prints one JSON line.
CHILD = r"""
import importlib.util, json, select, socket, sys, time
spec = importlib.util.spec_from_file_location(sys.argv[1], sys.argv[2])
shim = importlib.util.module_from_spec(spec); spec.loader.exec_module(shim)
n, rounds = int(sys.argv[3]), int(sys.argv[4])
a, b = socket.socketpair(); a.setblocking(False); b.setblocking(False)
data, buf = b"x" * 100, bytearray(4096)
ep = select.epoll(); ep.register(a.fileno(), select.EPOLLOUT)

def pair(send, recv_into):
    start = time.perf_counter_ns()
    for _ in range(n):
        send(data); recv_into(buf)
    return (time.perf_counter_ns() - start) / n

def poll(p):
    start = time.perf_counter_ns()
    for _ in range(n):
        p(0, 64)
    return (time.perf_counter_ns() - start) / n

shim_a, shim_b = shim.Stream(a.fileno()), shim.Stream(b.fileno())
variants = {
    "socket": lambda: pair(a.send, b.recv_into),
    "shim": lambda: pair(shim_a.send, shim_b.recv_into),
    "epoll": lambda: poll(ep.poll),
    "shim_epoll": lambda: poll(shim.Epoll(ep.fileno()).poll),
}
out = {name: [] for name in variants}
for _ in range(rounds):
    for name, run in variants.items():
        out[name].append(run())
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5, help="A B rounds")
    parser.add_argument("--out", type=Path, default=RESULTS / "sysio_cost.md")
    args = parser.parse_args()
    machine = machine_line()
    with tempfile.TemporaryDirectory(prefix="sysio-") as tmp:
        shim = sysio._sysio if sysio.shimmed() else sysio.build_shim(Path(tmp))
        assert shim is not None
        argv = ["taskset", "-c", CPU, sys.executable, "-c", CHILD, shim.__name__,
                str(shim.__file__), str(args.calls), str(args.rounds)]  # fmt: skip
        log(f"{args.rounds} rounds of {args.calls:,} calls each, on CPU {CPU}")
        child = subprocess.run(argv, check=True, capture_output=True, text=True)
    ns: dict[str, list[float]] = json.loads(child.stdout)
    rows = []
    for what, before, after in (
        ("`send` 100 B + `recv_into`", "socket", "shim"),
        ("`epoll_wait`, timeout 0, one ready", "epoll", "shim_epoll"),
    ):
        old, new = median(ns[before]), median(ns[after])
        rows.append([
            what, fmt(old), fmt(new), fmt(old - new), f"{new / old:.2f}",
            ", ".join(fmt(v) for v in ns[before]), ", ".join(fmt(v) for v in ns[after]),
        ])  # fmt: skip
    table = md_table(
        ["calls", "socket/select ns", "shim ns", "saved ns", "ratio",
         "every round, socket/select", "every round, shim"],
        rows, align="lrrrrll",
    )  # fmt: skip
    text = (
        "# The system-call shim against the socket and select methods\n\n"
        f"{machine}\n\n"
        f"`benchmarks/sysio_cost.py --calls {args.calls} --rounds {args.rounds}`: one child "
        f"process on CPU {CPU}, rounds alternated; ns per loop turn (median of the rounds). "
        "The calls are bound once; what differs is the call: argument parsing, the socket "
        "module's timeout machinery, the GIL released and retaken (the shim keeps it for a "
        "call that cannot block).\n\n"
        f"{table}\n"
    )
    write_markdown(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
