"""What a request costs sockbench's Python between two syscalls: the exchange, the protocol and
the recorder, with no socket, A B A B against another tree.

The generator's CPU per request is its syscalls (the kernel's, about the same for any tool)
plus the Python that frames each reply, keeps the in-flight marks, counts and records it,
and issues the next request. That Python is what separates sockbench from wrk and memtier
(issues 29 and 32), and on a shared 2-core VM a whole run's CPU per request moves ±10 %
between runs, far more than one change saves. So this script times that Python alone: in a
loop, the engine's own objects (``StreamExchange``, ``WorkerRecorder``, the protocol, the
pump's ``issue``/``issue_batch``) take replies copied into :meth:`space` as a read would
leave them, and issue the next requests, exactly as the pump's closed loop does after each
``recv_into``; no socket, no clock but the marks'. Per case:

- ``http``: ``--protocol http``, one request in flight, nginx's reply to a GET of 6 bytes;
- ``echo``: 64-byte echo (the fixed-size reply path);
- ``redis``/``memcache``: the SET:GET 1:10 mix (32-byte values, GETs hitting and missing
  in turn), one request in flight;
- ``redis-p8``/``memcache-p8``: the same at ``--pipeline 8``: each refill one batch, its 8
  replies in one read.

Each measurement runs in a process of its own with the tree's ``sockbench`` first on its
path, so ``--against DIR`` (another checkout, for instance ``git worktree add /tmp/old
HEAD~3``) times the other tree's code on the same interpreter, alternated with this one,
``--reps`` times; the table gives the median ns per request (the best of ``--rounds``
rounds of ``--requests`` each, per measurement) and the ratio.

    .venv/bin/python benchmarks/python_path.py                           # this tree only
    .venv/bin/python benchmarks/python_path.py --against /tmp/old --out results/python_path.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import RESULTS, ROOT, fmt, log, machine_line, md_table, median, write_markdown

CASES = ("http", "echo", "redis", "memcache", "redis-p8", "memcache-p8")

# The measuring side: run as ``python -c MEASURE TREE CASE REQUESTS ROUNDS`` with TREE first
# on the path, so it times that tree's code (it uses only what every tree since the
# pipeline batches has: the engine's issue/issue_batch, StreamExchange, WorkerRecorder).
MEASURE = r"""
import json, sys, time
from types import SimpleNamespace
sys.path.insert(0, sys.argv[1])
case, requests, rounds = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from sockbench.core import exchange as exchange_module
from sockbench.core.exchange import RequestWindow, StreamExchange
from sockbench.core.expect import Exact
from sockbench.core.protocols import ProtocolOptions, build_protocol
from sockbench.core.protocols.contract import kinded, one_kind
from sockbench.core.protocols.mix import value_bytes
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.clients.reference import issue, issue_batch
from sockbench.engine.worker.workload import ProtocolMatcher

name, _, depth = case.partition("-p")
depth = int(depth or 1)
window = RequestWindow(10**12, None, clients=1)
window.set_times(0, 1 << 62, None)
recorder = WorkerRecorder(1, window, open_loop=False)
mono = time.monotonic_ns
NGINX_200 = (  # nginx's reply to GET /index.html (6 bytes)
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 06 Dec 2026 12:09:44 GMT\r\n"
    b"Content-Type: text/html\r\nContent-Length: 6\r\nLast-Modified: Sun, 06 Dec 2026 "
    b'12:09:44 GMT\r\nConnection: keep-alive\r\nETag: "6b155088-6"\r\n'
    b"Accept-Ranges: bytes\r\n\r\nhello\n"
)
if name == "echo":
    request = b"x" * 64
    protocol, replies = None, [request]
    # A tree before stream_exchange() chose the class in StreamExchange itself.
    fixed = getattr(exchange_module, "stream_exchange", StreamExchange)
    ex = fixed(window, recorder, Exact(request), len(request))
else:
    options = {"http": ProtocolOptions()}.get(name) or ProtocolOptions(
        value_size=32, key_space=100_000, ratio=(1, 10))
    protocol = build_protocol(name, options)
    recorder.track_kinds(protocol.kinds, protocol.lookups)
    one = one_kind(protocol)
    ex = StreamExchange(
        window, recorder, ProtocolMatcher(protocol.check_reply), one[1] if one else 0,
        pipelined=depth > 1, kind_sink=recorder if kinded(protocol) else None,
        kind=one[0] if one else None, reply_kind=protocol.reply_kind,
        reply_at_close=protocol.reply_at_close, lookups=protocol.lookups,
        misses=protocol.misses, miss_reply=protocol.miss_reply)
    request = protocol.fixed or b""
    if name == "http":
        replies = [NGINX_200]
    else:  # each request's reply over a cycle of 8 x 11 requests: GETs hit and miss in turn
        stored, hit, miss = ((b"+OK\r\n", b"$32\r\n" + value_bytes(32) + b"\r\n", b"$-1\r\n")
            if name == "redis" else (b"STORED\r\n", b"VALUE key:000000000001 0 32\r\n"
            + value_bytes(32) + b"\r\nEND\r\n", b"END\r\n"))
        kinds = [protocol.kind_index(0, seq) for seq in range(88)]
        each = [stored if k == 0 else (hit if seq % 2 else miss) for seq, k in enumerate(kinds)]
        replies = [b"".join(each[i : i + depth]) for i in range(0, 88, depth)]
ctx = SimpleNamespace(protocol=protocol, index_in_run=0, request=request)

def loop(n):
    seq = 0
    batches = len(replies)
    t0 = time.process_time_ns()
    for i in range(n // depth):
        now = mono()
        if depth > 1:
            issued = issue_batch(ctx, ex, seq, depth, now)[1]
        else:
            issued = 1 if issue(ctx, ex, seq, now, now) else 0
        seq += issued
        reply = replies[i % batches]
        space = ex.space()
        space[: len(reply)] = reply
        ex.received(len(reply), mono())
    return (time.process_time_ns() - t0) / (n // depth * depth)

loop(max(requests // 10, 8 * 88))
best = min(loop(requests) for _ in range(rounds))
assert not ex.in_flight and not recorder.failures, recorder.failures
print(json.dumps({"ns": best, "requests": recorder.requests}))
"""


def measure(tree: Path, case: str, requests: int, rounds: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tree), case, str(requests), str(rounds)],
        capture_output=True, text=True, timeout=600, cwd="/",
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{tree} {case}: {done.stderr.strip().splitlines()[-1]}")
    return float(json.loads(done.stdout)["ns"])


def _commit(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    return f"`{done.stdout.strip()}`" if done.returncode == 0 else "an unknown commit"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--against", type=Path, help="another tree (a checkout) to time too")
    parser.add_argument("--reps", type=int, default=3, help="A B pairs per case")
    parser.add_argument("--requests", type=int, default=88_000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement (best)")
    parser.add_argument("--out", type=Path, default=RESULTS / "python_path.md")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        raise SystemExit(f"--cases: unknown {', '.join(sorted(unknown))} (known: {CASES})")
    header = machine_line()
    trees = [("this tree", ROOT)] + ([("against", args.against)] if args.against else [])
    times: dict[tuple[str, str], list[float]] = {}
    for case in cases:
        for _ in range(args.reps):
            for label, tree in trees:
                ns = measure(tree, case, args.requests, args.rounds)
                times.setdefault((case, label), []).append(ns)
                log(f"{case} {label}: {ns:.0f} ns/request")
    headers = ["case", "this tree, ns/request"]
    if args.against:
        headers += [f"{args.against}, ns/request", "this / against"]
    rows = []
    for case in cases:
        mine = median(times[case, "this tree"])
        row = [case, fmt(mine)]
        if args.against:
            theirs = median(times[case, "against"])
            row += [fmt(theirs), fmt(mine / theirs, 2)]
        rows.append(row)
    every = "; ".join(
        f"{case} {label}: {', '.join(fmt(t) for t in times[case, label])}"
        for case in cases
        for label, _ in trees
    )
    against = f", against {args.against} at {_commit(args.against)}" if args.against else ""
    text = (
        "# The Python between two syscalls: ns per request, no socket\n\n"
        f"Machine: {header}{against}. `benchmarks/python_path.py --reps {args.reps} "
        f"--requests {args.requests} --rounds {args.rounds}`: each cell the median of "
        f"{args.reps} measurements, A B A B, each the best of {args.rounds} rounds (CPU time "
        "of the loop: the exchange, the protocol, the recorder and the pump's issue, as the "
        "closed loop runs them after each read).\n\n"
        + md_table(headers, rows)
        + f"\n\nEvery measurement, ns/request: {every}.\n"
    )
    write_markdown(args.out, text)


if __name__ == "__main__":
    main()
