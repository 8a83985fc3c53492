"""What a protocol costs the generator: reply parsing per call, the steps of a request,
and CPU per request.

1. ``check_reply`` per call, in ns (``timeit``, min of 5), for the built-in parsers on
   the replies a SET/GET mix gets, against the fixed ``--expect`` matcher (the anchor),
   measured A B A B in one process.
2. The per-request steps of ``--protocol redis`` (build, kind, parse, and the whole
   issue-reply-record cycle without the socket calls; ``_protocol_steps.py``), in ns,
   pinned to ``--cpu``. With ``--baseline REV`` the same steps of that commit's tree
   (``git archive``) alternate with the working tree's, A B A B, in fresh processes.
3. The generator's CPU per request (µs, from the result's ``generator`` section), against
   one private redis-server, alternating ``--send PING --expect +PONG`` (the fixed-size
   pump: the anchor), ``--protocol redis --ratio 1:0`` (SET) and ``--ratio 0:1`` (GET,
   hits: the SETs wrote the keys), ``--reps`` times, each tree in turn with
   ``--baseline``. CPU per request is far less disturbed by a busy machine than req/s.

    .venv/bin/python benchmarks/protocol_cost.py --baseline main
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

from _common import (
    RESULTS,
    ROOT,
    fmt,
    free_port,
    log,
    machine_line,
    md_table,
    median,
    running,
    sockbench_run,
    wait_for_quiet,
    wait_tcp,
    write_markdown,
)

from sockbench.core.expect import Exact
from sockbench.core.protocols import ProtocolOptions, build_protocol
from sockbench.core.protocols.memcache import memcache_reply_length
from sockbench.core.protocols.mix import value_bytes
from sockbench.core.protocols.resp import resp_reply_length

VALUE = b"v" * 100  # a value another client wrote
OWN = value_bytes(100)  # the value sockbench's own SETs write
# What --protocol redis --value-size 100 checks replies with (a fast path for its mix).
redis_reply = build_protocol("redis", ProtocolOptions(value_size=100)).check_reply
memcache_reply = build_protocol("memcache", ProtocolOptions(value_size=100)).check_reply
PARSERS: list[tuple[str, Callable[[bytearray, int, int], int], bytes]] = [
    ("fixed --expect '+PONG\\r\\n' (anchor)", Exact(b"+PONG\r\n").check, b"+PONG\r\n"),
    ("redis +OK (SET)", redis_reply, b"+OK\r\n"),
    ("redis $100 bulk (GET hit, value its SETs wrote)", redis_reply, b"$100\r\n" + OWN + b"\r\n"),
    ("redis $100 bulk (GET hit, another writer's value)", redis_reply,
     b"$100\r\n" + VALUE + b"\r\n"),
    ("redis $-1 nil (GET miss)", redis_reply, b"$-1\r\n"),
    ("general RESP +OK", resp_reply_length, b"+OK\r\n"),
    ("general RESP $100 bulk", resp_reply_length, b"$100\r\n" + VALUE + b"\r\n"),
    ("general RESP $-1 nil", resp_reply_length, b"$-1\r\n"),
    ("general RESP *2 array", resp_reply_length, b"*2\r\n$3\r\nfoo\r\n:42\r\n"),
    ("memcached STORED (set)", memcache_reply, b"STORED\r\n"),
    ("memcached VALUE + END (get hit, value its SETs wrote)", memcache_reply,
     b"VALUE key:000000000001 0 100\r\n" + OWN + b"\r\nEND\r\n"),
    ("memcached VALUE + END (get hit, another writer's value)", memcache_reply,
     b"VALUE key:000000000001 0 100\r\n" + VALUE + b"\r\nEND\r\n"),
    ("memcached END (get miss)", memcache_reply, b"END\r\n"),
    ("general memcached VALUE + END", memcache_reply_length,
     b"VALUE key:000000000001 0 100\r\n" + VALUE + b"\r\nEND\r\n"),
]  # fmt: skip
CALLS = 100_000


def parser_costs(rounds: int) -> list[list[str]]:
    samples: dict[str, list[float]] = {name: [] for name, _, _ in PARSERS}
    for _ in range(rounds):
        for name, check, reply in PARSERS:  # A B A B: every parser once per round
            buf = bytearray(reply) + bytearray(64)
            end = len(reply)
            assert check(buf, 0, end) == end
            timer = timeit.Timer(lambda c=check, b=buf, e=end: c(b, 0, e))  # type: ignore[misc]
            samples[name].append(min(timer.repeat(5, CALLS)) / CALLS * 1e9)
    anchor = median(samples[PARSERS[0][0]])
    return [[name, fmt(median(v)), f"{median(v) / anchor:.2f}"] for name, v in samples.items()]


def _tree(rev: str, into: Path, paths: tuple[str, ...] = ("sockbench",)) -> Path:
    """The sockbench package (or other ``paths``) of commit ``rev``, unpacked under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, *paths], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _steps_once(tree: Path, cpu: int | None, repeat: int) -> dict[str, float]:
    argv = [sys.executable, str(Path(__file__).with_name("_protocol_steps.py")), str(repeat)]
    if cpu is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", str(cpu), *argv]
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{Path(__file__).parent}"}
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True, timeout=600)
    return dict(json.loads(out.stdout))


def step_costs(args: argparse.Namespace, trees: dict[str, Path]) -> list[list[str]]:
    """Each step's ns, median over rounds of each round's best; before/after if asked."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for rnd in range(args.step_rounds):
        for name, tree in trees.items():  # A B A B
            wait_for_quiet()
            samples[name].append(_steps_once(tree, args.cpu, 7))
            cycle = samples[name][-1]["cycle get"]
            log(f"steps round {rnd + 1} {name}: cycle get {cycle:.0f} ns")
    steps = list(samples["after"][0])
    table = {
        name: {k: median([s[k] for s in runs]) for k in steps} for name, runs in samples.items()
    }
    after = table["after"]
    rows = []
    for step in steps:
        row = [step]
        if "before" in table:
            row += [fmt(table["before"][step]), fmt(after[step]),
                    f"{after[step] / table['before'][step]:.2f}"]  # fmt: skip
        else:
            row.append(fmt(after[step]))
        kind = step.split()[0]
        anchor = after.get(f"{kind} ping")
        row.append(f"{after[step] / anchor:.2f}" if anchor else "")
        rows.append(row)
    return rows


VARIANTS = {
    "PING, --send/--expect (fixed-size pump, anchor)": [
        "--send", "PING\\r\\n", "--expect", "+PONG\\r\\n",
    ],
    "SET, --protocol redis --ratio 1:0 (protocol pump)": [
        "--protocol", "redis", "--ratio", "1:0", "--value-size", "100", "--key-space", "1000",
    ],
    "GET, --protocol redis --ratio 0:1 (protocol pump)": [
        "--protocol", "redis", "--ratio", "0:1", "--value-size", "100", "--key-space", "1000",
    ],
}  # fmt: skip


def generator_costs(args: argparse.Namespace, trees: dict[str, Path]) -> list[list[str]]:
    """CPU µs per request of each variant (and tree: before/after alternated), median."""
    port = free_port()
    runs = [(variant, tree) for variant in VARIANTS for tree in trees]
    cpu_us: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    rps: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    with tempfile.TemporaryDirectory(prefix="sockbench-redis-") as workdir:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", workdir, "--loglevel", "warning"]  # fmt: skip
        with running(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT):
            wait_tcp(port)
            for rep in range(args.reps):
                for variant, tree in runs:
                    wait_for_quiet()
                    result = sockbench_run(
                        [
                            "--target", f"tcp://127.0.0.1:{port}", *VARIANTS[variant],
                            "--clients", str(args.clients), "--duration", str(args.duration),
                            "--warmup", "1", "--workers", "1",
                        ],
                        timeout_s=args.duration + 120,
                        prefix=["env", f"PYTHONPATH={trees[tree]}"],
                    )  # fmt: skip
                    totals = result["totals"]
                    assert not totals["errors"], totals["errors"]
                    cpu = result["generator"]["cpu_percent_mean"] / 100
                    run = (variant, tree)
                    cpu_us[run].append(cpu / totals["throughput_rps"] * 1e6)
                    rps[run].append(totals["throughput_rps"])
                    log(f"rep {rep + 1} {variant} ({tree}): {cpu_us[run][-1]:.2f} µs CPU/request")
    anchor = median(cpu_us[next(iter(VARIANTS)), "after"])
    return [
        [variant, tree, fmt(median(cpu_us[variant, tree]), 2),
         f"{median(cpu_us[variant, tree]) / anchor:.2f}", fmt(median(rps[variant, tree])),
         ", ".join(fmt(v, 2) for v in cpu_us[variant, tree])]
        for variant, tree in runs
    ]  # fmt: skip


def _generator_section(args: argparse.Namespace, rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    return [
        f"## Generator CPU per request against one redis-server ({args.clients} clients, "
        f"{args.duration:g} s, `--workers 1`; median of {args.reps}, every workload and tree "
        "in turn)",
        "",
        md_table(
            ["workload", "tree", "CPU µs/request", "vs PING (after)", "req/s", "every run (µs)"],
            rows,
        ),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="A B A B rounds of parser timing")
    parser.add_argument("--baseline", help="a git revision to time the steps of, alternated")
    parser.add_argument("--step-rounds", type=int, default=5, help="A B A B rounds of steps")
    parser.add_argument("--cpu", type=int, default=1, help="pin the step timing to this CPU")
    parser.add_argument("--no-generator", action="store_true", help="skip the redis runs")
    parser.add_argument("--reps", type=int, default=3, help="runs per generator variant")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "protocol_cost.md")
    args = parser.parse_args()
    parsers = parser_costs(args.rounds)
    with tempfile.TemporaryDirectory(prefix="sockbench-baseline-") as tmp:
        trees = {"after": ROOT}
        if args.baseline:
            trees = {"before": _tree(args.baseline, Path(tmp)), "after": ROOT}
        steps = step_costs(args, trees)
        generator = [] if args.no_generator else generator_costs(args, trees)
    step_headers = ["step (ns per request)"]
    if args.baseline:
        step_headers += [f"before ({args.baseline})", "after", "after/before"]
    else:
        step_headers.append("ns")
    step_headers.append("vs fixed --expect (after)")
    alternated = "before and after alternated in fresh processes" if args.baseline else "one tree"
    text = "\n".join(
        [
            "# What a protocol costs the generator",
            "",
            f"Machine: {machine_line()}.",
            "",
            f"## check_reply per call (timeit, min of 5 × {CALLS:,} calls; median of "
            f"{args.rounds} rounds, A B A B)",
            "",
            md_table(["reply", "ns per call", "vs fixed --expect"], parsers),
            "",
            f"## The steps of a request (`_protocol_steps.py`, pinned to CPU {args.cpu}; "
            f"median over {args.step_rounds} rounds of the best of 7 × 50,000; {alternated})",
            "",
            "build: `request()`; kind: `kind_index()` (before: `kind()`); parse: `check_reply` "
            "on its reply; cycle: issue, reply fed in, recorded (by kind), as the pump does per "
            "request, sockets left out. `ping` is the fixed `--send/--expect` path; `get-miss` "
            "a GET answered `$-1`.",
            "",
            md_table(step_headers, steps),
            "",
            *_generator_section(args, generator),
        ]
    )
    write_markdown(args.out, text)


if __name__ == "__main__":
    main()
