"""What a protocol costs the generator: reply parsing per call, and CPU per request.

1. ``check_reply`` per call, in ns (``timeit``, min of 5), for the built-in parsers on
   the replies a SET/GET mix gets, against the fixed ``--expect`` matcher (the anchor),
   measured A B A B in one process.
2. The generator's CPU per request (µs, from the result's ``generator`` section), against
   one private redis-server, alternating ``--send PING --expect +PONG`` (the fixed-size
   pump: the anchor), ``--protocol redis --ratio 0:1`` (GET) and ``--ratio 1:0`` (SET),
   ``--reps`` times. CPU per request is far less disturbed by a busy machine than req/s.

    .venv/bin/python benchmarks/protocol_cost.py
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

from _common import (
    RESULTS,
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
from sockbench.core.protocols.memcache import memcache_reply_length
from sockbench.core.protocols.resp import resp_reply_length

VALUE = b"v" * 100
PARSERS: list[tuple[str, Callable[[bytearray, int, int], int], bytes]] = [
    ("fixed --expect '+PONG\\r\\n' (anchor)", Exact(b"+PONG\r\n").check, b"+PONG\r\n"),
    ("RESP +OK (SET)", resp_reply_length, b"+OK\r\n"),
    ("RESP $100 bulk (GET hit)", resp_reply_length, b"$100\r\n" + VALUE + b"\r\n"),
    ("RESP $-1 nil (GET miss)", resp_reply_length, b"$-1\r\n"),
    ("RESP *2 array", resp_reply_length, b"*2\r\n$3\r\nfoo\r\n:42\r\n"),
    ("memcached STORED (set)", memcache_reply_length, b"STORED\r\n"),
    ("memcached VALUE + END (get hit)", memcache_reply_length,
     b"VALUE key:000000000001 0 100\r\n" + VALUE + b"\r\nEND\r\n"),
    ("memcached END (get miss)", memcache_reply_length, b"END\r\n"),
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


VARIANTS = {
    "PING, --send/--expect (fixed-size pump, anchor)": [
        "--send", "PING\\r\\n", "--expect", "+PONG\\r\\n",
    ],
    "GET, --protocol redis --ratio 0:1 (protocol pump)": [
        "--protocol", "redis", "--ratio", "0:1", "--value-size", "100", "--key-space", "1000",
    ],
    "SET, --protocol redis --ratio 1:0 (protocol pump)": [
        "--protocol", "redis", "--ratio", "1:0", "--value-size", "100", "--key-space", "1000",
    ],
}  # fmt: skip


def generator_costs(args: argparse.Namespace) -> list[list[str]]:
    port = free_port()
    cpu_us: dict[str, list[float]] = {name: [] for name in VARIANTS}
    rps: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="sockbench-redis-") as workdir:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", workdir, "--loglevel", "warning"]  # fmt: skip
        with running(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT):
            wait_tcp(port)
            for rep in range(args.reps):
                for name, extra in VARIANTS.items():
                    wait_for_quiet()
                    result = sockbench_run(
                        [
                            "--target", f"tcp://127.0.0.1:{port}", *extra,
                            "--clients", str(args.clients), "--duration", str(args.duration),
                            "--warmup", "1", "--workers", "1",
                        ],
                        timeout_s=args.duration + 120,
                    )  # fmt: skip
                    totals = result["totals"]
                    assert not totals["errors"], totals["errors"]
                    cpu = result["generator"]["cpu_percent_mean"] / 100
                    cpu_us[name].append(cpu / totals["throughput_rps"] * 1e6)
                    rps[name].append(totals["throughput_rps"])
                    log(f"rep {rep + 1} {name}: {cpu_us[name][-1]:.2f} µs CPU/request")
    anchor = median(next(iter(cpu_us.values())))
    return [
        [name, fmt(median(cpu_us[name]), 2), f"{median(cpu_us[name]) / anchor:.2f}",
         fmt(median(rps[name])), ", ".join(fmt(v, 2) for v in cpu_us[name])]
        for name in VARIANTS
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="A B A B rounds of parser timing")
    parser.add_argument("--reps", type=int, default=3, help="runs per generator variant")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "protocol_cost.md")
    args = parser.parse_args()
    parsers = parser_costs(args.rounds)
    generator = generator_costs(args)
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
            f"## Generator CPU per request against one redis-server ({args.clients} clients, "
            f"{args.duration:g} s, `--workers 1`; median of {args.reps}, A B C A B C)",
            "",
            md_table(
                ["workload", "CPU µs/request", "vs PING", "req/s", "every run (µs)"], generator
            ),
            "",
        ]
    )
    write_markdown(args.out, text)


if __name__ == "__main__":
    main()
