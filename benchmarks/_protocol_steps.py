"""The per-request steps of a protocol's hot path, timed in-process (ns per call).

Run by ``protocol_cost.py`` in a subprocess whose ``PYTHONPATH`` picks the
sockbench tree to time (the working tree, or a ``git archive`` of ``--baseline``), so
two versions alternate A B A B in one run. It uses only what both sides of a change
have: the protocol contract (``request``, ``kind``, ``check_reply``) and the drivers'
``issue``/``new_exchange`` with a real ``StreamExchange`` and ``WorkerRecorder``.

Steps: ``build`` (``request``), ``kind`` (``kind``), ``parse`` (``check_reply`` on the
reply), and ``cycle``: issue + reply fed in + recorded, as the pump does per request
(the socket calls left out). The fixed ``--send/--expect`` cycle is the anchor.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from types import SimpleNamespace

from sockbench.core.exchange import RequestWindow
from sockbench.core.expect import Exact
from sockbench.core.protocols import ProtocolOptions, build_protocol
from sockbench.core.protocols.mix import value_bytes
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.clients.reference import issue, new_exchange
from sockbench.engine.worker.workload import ProtocolMatcher

CALLS = 50_000
VALUE_SIZE = 100
# A GET hit on a value sockbench's own SETs wrote, as a SET:GET mix reads.
HIT = b"$%d\r\n%s\r\n" % (VALUE_SIZE, value_bytes(VALUE_SIZE))
REPLIES = {"ping": b"+PONG\r\n", "get": HIT, "set": b"+OK\r\n", "get-miss": b"$-1\r\n"}
RATIOS = {"get": (0, 1), "set": (1, 0), "get-miss": (0, 1)}


def best_ns(run: Callable[[int], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        run(CALLS)
        best = min(best, time.perf_counter_ns() - t0)
    return best / CALLS


def cycle(workload: str) -> Callable[[int], None]:
    """The pump's per-request work for one workload, sockets aside."""
    reply = REPLIES[workload]
    window = RequestWindow(10**15, clients=1, measure_start_ns=0)
    recorder = WorkerRecorder(1, window)
    if workload == "ping":
        protocol = None
        matcher: object = Exact(reply)
    else:
        options = ProtocolOptions(value_size=VALUE_SIZE, key_space=100_000, ratio=RATIOS[workload])
        protocol = build_protocol("redis", options)
        recorder.track_kinds(protocol.kinds)
        matcher = ProtocolMatcher(protocol.check_reply)
    ctx = SimpleNamespace(
        protocol=protocol, request=b"PING\r\n", matcher=matcher, window=window,
        recorder=recorder, pipeline=1, index_in_run=0, timeout_s=1.0,
    )  # fmt: skip
    ex = new_exchange(ctx)  # type: ignore[arg-type]
    size = len(reply)

    def run_fixed(n: int) -> None:
        for _ in range(n):
            ex.issue(1, 1)
            ex.space()[:size] = reply
            ex.received(size, 2)

    def run_protocol(n: int) -> None:
        for seq in range(n):
            issue(ctx, ex, seq, 1, 1)  # type: ignore[arg-type]
            ex.space()[:size] = reply
            ex.received(size, 2)

    return run_fixed if protocol is None else run_protocol


def steps(repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for workload in ("get", "set"):
        options = ProtocolOptions(value_size=VALUE_SIZE, key_space=100_000, ratio=RATIOS[workload])
        protocol = build_protocol("redis", options)
        request = protocol.request
        # What the engine calls per request: kind_index where the tree has it.
        kind = getattr(protocol, "kind_index", None) or protocol.kind
        assert kind is not None

        def build(n: int, request: Callable[[int, int], bytes] = request) -> None:
            for seq in range(n):
                request(0, seq)

        def kinds(n: int, kind: Callable[[int, int], object] = kind) -> None:
            for seq in range(n):
                kind(0, seq)

        out[f"build {workload}"] = best_ns(build, repeat)
        out[f"kind {workload}"] = best_ns(kinds, repeat)
    for name in ("ping", "get", "set", "get-miss"):
        check: Callable[[bytearray, int, int], int]
        if name == "ping":
            check = Exact(REPLIES[name]).check
        else:  # the run's own parser: built-ins may order their tests by the ratio
            options = ProtocolOptions(value_size=VALUE_SIZE, ratio=RATIOS[name])
            check = build_protocol("redis", options).check_reply
        buf = bytearray(REPLIES[name]) + bytearray(64)
        end = len(REPLIES[name])
        assert check(buf, 0, end) == end

        def parse(n: int, c: Callable[[bytearray, int, int], int] = check,
                  b: bytearray = buf, e: int = end) -> None:  # fmt: skip
            for _ in range(n):
                c(b, 0, e)

        out[f"parse {name}"] = best_ns(parse, repeat)
    for workload in ("ping", "get", "set", "get-miss"):
        out[f"cycle {workload}"] = best_ns(cycle(workload), repeat)
    return out


if __name__ == "__main__":
    print(json.dumps(steps(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
