"""The pump's Python per request at ``--pipeline N``, without sockets (issue 32).

One closed-loop client of a real :class:`~sockbench.engine.clients.pump.Pump`, its
``WorkerRecorder`` and the protocol's exchange: each round ``Pump._fill`` refills the
pipeline (its write goes to a socket stand-in that takes every byte), and the replies to
the requests in flight (redis ``+OK`` / a 32-byte bulk, memcached ``STORED`` / a
``VALUE`` block; SET:GET 1:10) are fed to ``StreamExchange.received`` in one read, as a
``recv_into`` would give them. What is timed is the process's CPU clock over the rounds,
per request: the issue, build, note, admission, framing, matching and recording the pump
does per batch and per reply, with the syscalls left out (``vs_memtier.py`` has them).

``--baseline DIR`` alternates a tree of sockbench (``git archive REV | tar -x -C DIR``)
with the working tree, each in a fresh process pinned to CPU 1, A B A B: CPU time per
request is what a loaded machine disturbs least, so the ratio holds where req/s do not.

    .venv/bin/python benchmarks/pipeline_cost.py --protocol redis --pipeline 8
    .venv/bin/python benchmarks/pipeline_cost.py --baseline /tmp/old --reps 3
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERIOD = 11  # SET:GET 1:10


def measure(protocol: str, depth: int, rounds: int, trials: int) -> tuple[float, str]:
    """Median CPU µs per request over ``trials`` runs of ``rounds`` refills, and the counts."""
    import trio

    from sockbench.core.exchange import RequestWindow
    from sockbench.core.protocols.mix import value_bytes
    from sockbench.endpoints import Endpoint, Proto
    from sockbench.engine.clients.gate import StartGate
    from sockbench.engine.clients.pump import Pump, _Stream
    from sockbench.engine.clients.recorder import WorkerRecorder
    from sockbench.engine.worker.run import WorkOrder, _contexts, _Shared
    from sockbench.machine import build_run_spec

    spec = build_run_spec(
        {"proto": "tcp", "clients": 1, "duration_s": 1.0, "warmup_s": 0.0, "timeout_s": 5.0,
         "target": "tcp://127.0.0.1:1", "server_model": None, "out_dir": None,
         "protocol": protocol, "ratio": (1, 10), "key_space": 100_000, "pipeline": depth}
    )  # fmt: skip
    shared = _Shared.build(spec)
    assert shared.protocol is not None
    window = RequestWindow(5 * 10**9, None, clients=1)
    now = time.monotonic_ns()
    window.set_times(now - 10**9, now + 10**15, None)  # every request measured
    recorder = WorkerRecorder(1, window)
    recorder.track_kinds(shared.protocol.kinds, shared.protocol.lookups)
    order = WorkOrder(spec, Endpoint(Proto.TCP, "127.0.0.1", 1), 1)

    async def contexts() -> list:  # type: ignore[type-arg]
        return _contexts(order, shared, recorder, StartGate(1), trio.CapacityLimiter(1))

    ctxs = trio.run(contexts)
    pump = Pump(ctxs)
    conn = _Stream(ctxs[0], depth)

    class Taker:
        def send(self, data: bytes) -> int:
            return len(data)

    conn.sock = Taker()  # type: ignore[assignment]
    conn.fd = 99
    conn.connected()
    conn.opened(0)
    value = value_bytes(32)
    if protocol == "redis":
        ok, hit = b"+OK\r\n", b"$32\r\n" + value + b"\r\n"
    else:
        ok, hit = b"STORED\r\n", b"VALUE key:000000000001 0 32\r\n" + value + b"\r\nEND\r\n"
    # Every round refills all ``depth`` slots, so request seq's phase picks its reply.
    replies = {
        p: b"".join(ok if (p + i) % PERIOD < 1 else hit for i in range(depth))
        for p in range(PERIOD)
    }
    ex = conn.ex
    gc.disable()
    per_request = []
    for _ in range(trials):
        before = recorder.requests
        start = time.process_time_ns()
        for _ in range(rounds):
            reply = replies[conn.seq % PERIOD]
            pump._fill(conn)
            ex.space()[: len(reply)] = reply
            ex.received(len(reply), time.monotonic_ns())
        per_request.append((time.process_time_ns() - start) / (recorder.requests - before) / 1e3)
    counts = (
        f"requests {recorder.requests}, failures {sum(recorder.failures.values())}, "
        f"by kind {[(k, s.requests) for k, s in recorder.by_kind.items()]}"
    )
    assert recorder.requests == window.issued - ex.in_flight and not recorder.failures
    return statistics.median(per_request), counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--protocol", default="redis", choices=("redis", "memcache"))
    parser.add_argument("--pipeline", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10_000, help="refills per trial")
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="a sockbench tree to alternate with")
    parser.add_argument("--reps", type=int, default=2, help="A B pairs with --baseline")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one or args.baseline is None:
        cost, counts = measure(args.protocol, args.pipeline, args.rounds, args.trials)
        print(f"{cost:.3f} µs CPU per request ({counts})")
        return
    argv = [
        "taskset", "-c", "1", sys.executable, __file__, "--one", "--protocol", args.protocol,
        "--pipeline", str(args.pipeline), "--rounds", str(args.rounds),
        "--trials", str(args.trials),
    ]  # fmt: skip
    costs: dict[str, list[float]] = {"baseline": [], "working tree": []}
    for _ in range(args.reps):
        for side, tree in (("baseline", args.baseline), ("working tree", ROOT)):
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run(
                argv, env=env, cwd=tree, capture_output=True, text=True, check=True
            )
            print(f"{side}: {out.stdout.strip()}", flush=True)
            costs[side].append(float(out.stdout.split()[0]))
    old, new = (statistics.median(costs[side]) for side in costs)
    print(
        f"{args.protocol} --pipeline {args.pipeline}: baseline {old:.3f}, working tree "
        f"{new:.3f} µs CPU per request (median of {args.reps}): {new / old:.2f}x"
    )


if __name__ == "__main__":
    main()
