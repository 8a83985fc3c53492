"""What one send per pipelined batch would save: 8 sends of one request against 1 of 8.

A plain blocking client on one connection to a private redis-server (pinned to CPU 0,
the client on CPU 1) keeps ``--pipeline`` RESP requests in flight in batches (SET:GET
1:10, 32-byte values, random keys of 100,000): variant ``per-request`` sends each request
with its own ``send`` (as sockbench's pump does, ``Pump._fill``), ``per-batch`` joins the
batch into one ``send``; both read the replies with ``recv_into`` until all are in. The
client's CPU (``time.process_time``, user + system) per request, A B A B, medians. It
estimates candidate 1 of docs/performance.md's memtier section without changing the pump.

    .venv/bin/python benchmarks/pipelined_sends.py --reps 3
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

from _common import free_port, log, machine_line, median, running, wait_tcp
from vs_redis_benchmark import start_redis

KEYS = 100_000
VALUE = b"x" * 32


def command(*items: bytes) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(b"$%d\r\n%s\r\n" % (len(i), i) for i in items)


def requests(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for seq in range(n):
        key = b"key:%012d" % rng.randrange(KEYS)
        out.append(command(b"SET", key, VALUE) if seq % 11 == 0 else command(b"GET", key))
    return out


def replies_in(buf: bytes) -> int:
    """Complete RESP replies at the start of ``buf`` (+OK, $-1, $N bulk) and their end."""
    count = pos = 0
    while True:
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return count
        if buf[pos : pos + 1] == b"$" and buf[pos + 1 : pos + 2] != b"-":
            end = buf.find(b"\r\n", end + 2 + int(buf[pos + 1 : end]))
            if end < 0:
                return count
        count += 1
        pos = end + 2


def run(port: int, batched: bool, depth: int, seconds: float) -> float:
    """CPU µs per request of one variant over ``seconds``."""
    work = requests(depth * 1024, seed=depth)
    batches = [work[i : i + depth] for i in range(0, len(work), depth)]
    joined = [b"".join(b) for b in batches]
    buf = bytearray(1 << 16)
    done = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cpu0, deadline = time.process_time(), time.monotonic() + seconds
        while time.monotonic() < deadline:
            for i, batch in enumerate(batches):
                if batched:
                    sock.sendall(joined[i])
                else:
                    for req in batch:
                        sock.sendall(req)
                got = b""
                while replies_in(got) < depth:
                    n = sock.recv_into(buf)
                    got += bytes(buf[:n])
                done += depth
        cpu = time.process_time() - cpu0
    return cpu / done * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pipeline", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one variant in a process pinned to CPU 1
        port, variant = args.child.split(":")
        print(run(int(port), variant == "per-batch", args.pipeline, args.seconds))
        return
    log(f"measuring {machine_line()}")
    port = free_port()
    cpu: dict[str, list[float]] = {"per-request": [], "per-batch": []}
    with (
        tempfile.TemporaryDirectory() as workdir,
        running(start_redis(port, workdir, "0"), stdout=subprocess.DEVNULL),
    ):
        wait_tcp(port)
        for _ in range(args.reps):
            for variant, runs in cpu.items():
                argv = ["taskset", "-c", "1", sys.executable, __file__]
                argv += ["--child", f"{port}:{variant}", "--pipeline", str(args.pipeline)]
                argv += ["--seconds", str(args.seconds)]
                out = subprocess.run(argv, capture_output=True, timeout=120, check=True)
                runs.append(float(out.stdout))
                log(f"{variant}: {runs[-1]:.2f} µs CPU per request")
    a, b = median(cpu["per-request"]), median(cpu["per-batch"])
    print(
        f"pipeline {args.pipeline}, load average {os.getloadavg()[0]:.1f}: one send per request "
        f"{a:.2f} µs CPU per request, one per batch {b:.2f} µs ({a / b:.2f}×); runs "
        f"{', '.join(f'{v:.2f}' for v in cpu['per-request'])} / "
        f"{', '.join(f'{v:.2f}' for v in cpu['per-batch'])}"
    )


if __name__ == "__main__":
    main()
