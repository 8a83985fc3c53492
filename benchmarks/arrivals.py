"""Uniform against Poisson arrivals (``--arrival``): what a due time costs, what goes out.

1. **due(k)**: the time per call of a client's ``due(k)`` for k = 0, 1, 2, ... (what the
   pump asks after each send), uniform and Poisson, with and without ``--ramp``, in
   rounds that alternate the variants (the median of the rounds' times).
2. **A real run** per arrival and driver (the pump; the reference driver, ``--no-batch``):
   ``--rate`` (20k by default) from one in-process worker to a built-in server on
   127.0.0.1. Every open-loop send is recorded as it happens (the recorder's
   ``scheduled_send``: due and send times); the table gives the requests due in the
   window against rate × duration, and the coefficient of variation (stdev / mean) of the
   gaps between consecutive due times and between consecutive sends, over all clients:
   1 for a Poisson process, 0 for evenly spaced requests. A send's gap also carries the
   generator's jitter (two sends a wake apart, or together), so the index of dispersion
   of the counts per 10 ms (variance / mean: 1 for Poisson, 0 for evenly spaced) says
   more at high rates. Then the result's latency p50, p99 and the generator's own lag
   p99.
3. **The server's side** (``--server-side N``): N runs of the pump per arrival against
   ``reference_servers/arrival_log_echo.py`` (uvloop), which stamps each request when the
   read that completes it returns; the table gives the coefficient of variation of the
   gaps between consecutive arrivals in the window, as the server saw them, the index
   of dispersion of its counts per 10 ms, and what the result's arrival test said
   (``validity.arrivals``: followed, the generator's lag p99, the counts' dispersion
   over the intervals), with the load average the run started at.

    .venv/bin/python benchmarks/arrivals.py                     # ~1 minute
    .venv/bin/python benchmarks/arrivals.py --rate 5k --duration 3
    .venv/bin/python benchmarks/arrivals.py --server-side 7 --skip-client-side
"""

from __future__ import annotations

import argparse
import array
import itertools
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    RESULTS,
    ROOT,
    free_port,
    log,
    machine_line,
    md_table,
    spawn,
    stop,
    write_markdown,
)

from sockbench.core.kinds import Arrival
from sockbench.core.schedule import RateSchedule
from sockbench.core.units import parse_number
from sockbench.engine.clients.recorder import WorkerRecorder
from sockbench.engine.orchestration.runner import run
from sockbench.machine import build_run_spec

CALLS = 100_000
BIN_NS = 10_000_000  # counts per 10 ms for the index of dispersion


def due_cost_ns(arrival: Arrival, ramp_ns: int) -> float:
    """ns per ``due(k)`` over ``CALLS`` consecutive k of one client (20k/s over 100)."""
    client = RateSchedule(20_000.0, 100, seed=1, ramp_ns=ramp_ns, arrival=arrival).client(7)
    due = client.due
    start = time.perf_counter_ns()
    for k in range(CALLS):
        due(k)
    return (time.perf_counter_ns() - start) / CALLS


def due_costs(rounds: int) -> str:
    variants = [(a, r) for a in Arrival for r in (0, 10**9)]
    times: dict[tuple[Arrival, int], list[float]] = {v: [] for v in variants}
    for _ in range(rounds):
        for variant in variants:
            times[variant].append(due_cost_ns(*variant))
    rows = [
        [arrival.value, "1 s" if ramp else "none", f"{statistics.median(t):.0f}", f"{min(t):.0f}"]
        for (arrival, ramp), t in times.items()
    ]
    return md_table(["arrival", "ramp", "median ns/call", "best ns/call"], rows, "llrr")


def _cv(values: list[int]) -> float:
    return statistics.pstdev(values) / statistics.fmean(values)


def _gaps(times: list[int]) -> list[int]:
    ordered = sorted(times)
    return [b - a for a, b in itertools.pairwise(ordered)]


def _dispersion(times: list[int], start: int, end: int, bin_ns: int) -> float:
    """Variance over mean of the counts in consecutive bins: 1 for a Poisson process, 0
    for evenly spaced requests; a send's jitter moves it to a neighbouring bin at most."""
    counts = [0] * ((end - start) // bin_ns)
    for t in times:
        i = (t - start) // bin_ns
        if 0 <= i < len(counts):
            counts[i] += 1
    return statistics.pvariance(counts) / statistics.fmean(counts)


def measure_run(options: dict[str, Any]) -> dict[str, Any]:
    """One run with every open-loop send recorded: (due, sent) in monotonic ns."""
    sends: list[tuple[int, int]] = []
    windows: list[tuple[int, int]] = []
    original: Callable[[WorkerRecorder, int, int, int], None] = WorkerRecorder.scheduled_send

    def recording(self: WorkerRecorder, due_ns: int, ready_ns: int, sent_ns: int) -> None:
        if not windows:
            windows.append((self.measure_start_ns, self.measure_end_ns))
        sends.append((due_ns, sent_ns))
        original(self, due_ns, ready_ns, sent_ns)

    WorkerRecorder.scheduled_send = recording  # type: ignore[method-assign]
    try:
        result = run(build_run_spec(options), command="benchmarks/arrivals.py").result
    finally:
        WorkerRecorder.scheduled_send = original  # type: ignore[method-assign]
    start, end = windows[0]
    inside = [(due, sent) for due, sent in sends if start <= due < end]
    dues, sent = [due for due, _ in inside], [sent for _, sent in inside]
    return {
        "result": result,
        "window": (start, end),
        "due": len(inside),
        "cv_due": _cv(_gaps(dues)),
        "cv_sent": _cv(_gaps(sent)),
        "dispersion_due": _dispersion(dues, start, end, BIN_NS),
        "dispersion_sent": _dispersion(sent, start, end, BIN_NS),
    }


def _options(
    rate: float, arrival: Arrival, clients: int, duration_s: float, **more: Any
) -> dict[str, Any]:
    """One run's options: one worker, 1 s of warm-up, nothing saved."""
    return dict(
        rate=rate, arrival=arrival.value, clients=clients, duration_s=duration_s,
        warmup_s=1.0, workers="1", out_dir=None, quiet=True, **more,
    )  # fmt: skip


def runs(rate: float, clients: int, duration_s: float, server: str, repeat: int) -> str:
    rows = []
    for _ in range(repeat):
        for batch, arrival in itertools.product((True, False), Arrival):
            options = _options(rate, arrival, clients, duration_s, server_model=server, batch=batch)
            log(f"{arrival.value}, {'pump' if batch else 'reference'} ...")
            found = measure_run(options)
            result = found["result"]
            lag = result.get("scheduler_lag_us") or {}
            rows.append(
                [
                    arrival.value,
                    "pump" if batch else "reference",
                    f"{found['due']:,}",
                    f"{found['due'] / (rate * duration_s):.3f}",
                    f"{found['cv_due']:.3f}",
                    f"{found['cv_sent']:.3f}",
                    f"{found['dispersion_due']:.2f}",
                    f"{found['dispersion_sent']:.2f}",
                    f"{result['latency_us']['p50']:,}",
                    f"{result['latency_us']['p99']:,}",
                    f"{lag.get('p99', 0):,}",
                    f"{result['generator']['cpu_percent_mean']:.0f}",
                ]
            )
            log(" | ".join(rows[-1]))
    headers = [
        "arrival", "driver", "due in window", "/ rate×T", "CV due gaps", "CV send gaps",
        "dispersion due", "dispersion sent", "latency p50 µs", "p99 µs",
        "generator lag p99 µs", "generator CPU %",
    ]  # fmt: skip
    return md_table(headers, rows, "ll" + "r" * 10)


SERVERS = ROOT / "benchmarks" / "reference_servers"
#: The stamping echo per transport: over TCP the stamp is taken when the read that
#: completes a request returns; over UDP it is the kernel's, per datagram.
STAMPING = {"tcp": "arrival_log_echo.py", "udp": "arrival_log_udp.py"}
PAYLOAD = 64


def server_stamps(
    options: dict[str, Any], proto: str, out: Path
) -> tuple[dict[str, Any], list[int]]:
    """One run against the stamping echo: (what measure_run found, the stamps)."""
    port = free_port(socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    script = SERVERS / STAMPING[proto]
    extra = [] if proto == "udp" else [str(PAYLOAD)]
    server = spawn(
        [sys.executable, str(script), f"{proto}:{port}", *extra, str(out)],
        cwd=SERVERS,
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != b"READY":
            raise SystemExit(f"{script.name} did not start")
        found = measure_run({**options, "target": f"{proto}://127.0.0.1:{port}", "proto": ""})
    finally:
        stop(server)
    return found, list(array.array("q", out.read_bytes()))


def server_side(rate: float, clients: int, duration_s: float, repeat: int, proto: str) -> str:
    rows = []
    for k, arrival in itertools.product(range(repeat), Arrival):
        options = _options(rate, arrival, clients, duration_s, server_model=None, payload=PAYLOAD)
        log(f"server side {k + 1}/{repeat}, {arrival.value} ...")
        with tempfile.TemporaryDirectory() as tmp:
            found, stamps = server_stamps(options, proto, Path(tmp) / "stamps")
        result, (start, end) = found["result"], found["window"]
        inside = [t for t in stamps if start <= t < end]
        checked = result["validity"].get("arrivals") or {}
        load = (result.get("environment") or {}).get("loadavg") or [0.0]
        rows.append(
            [
                arrival.value,
                f"{len(inside):,}",
                f"{_cv(_gaps(inside)):.3f}",
                f"{_dispersion(inside, start, end, BIN_NS):.2f}",
                f"{found['cv_sent']:.3f}",
                "yes" if checked.get("followed") else "no",
                f"{checked.get('generator_lag_p99_us') or 0:,}",
                "-"
                if checked.get("dispersion_index") is None
                else f"{checked['dispersion_index']:.2f}",
                "-" if checked.get("dispersion_p") is None else str(checked["dispersion_p"]),
                f"{result['latency_us']['p99']:,}",
                f"{load[0]:.1f}",
            ]
        )
        log(" | ".join(rows[-1]))
    headers = [
        "arrival", "arrived in window", "CV arrival gaps (server)", "dispersion per 10 ms",
        "CV send gaps (client)", "arrivals followed", "lag p99 µs", "dispersion (intervals)",
        "p", "latency p99 µs", "load avg",
    ]  # fmt: skip
    return md_table(headers, rows, "l" + "r" * 4 + "l" + "r" * 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=parse_number, default=20_000.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--server", default="uvloop", help="built-in server model")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the due(k) timing")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row")
    parser.add_argument("--server-side", type=int, default=0, help="runs per arrival (3.)")
    parser.add_argument(
        "--server-proto",
        choices=sorted(STAMPING),
        default="tcp",
        help="3.: tcp (stamped when read) or udp (the kernel's stamp per datagram)",
    )
    parser.add_argument("--skip-client-side", action="store_true", help="only 3.")
    parser.add_argument("--output", type=Path, default=RESULTS / "arrivals.md")
    args = parser.parse_args()
    text = f"# Arrivals: uniform against Poisson\n\n{machine_line()}\n\n"
    if not args.skip_client_side:
        costs = due_costs(args.rounds)
        print(costs, flush=True)
        table = runs(args.rate, args.clients, args.duration, args.server, args.repeat)
        text += (
            f"## due(k), {CALLS:,} consecutive calls of one client, {args.rounds} rounds\n\n"
            f"{costs}\n\n"
            f"## {args.rate:,.0f} req/s, {args.clients} clients, {args.duration:g} s, "
            f"`--server {args.server}`, one worker\n\n{table}\n\n"
        )
    if args.server_side:
        proto = args.server_proto
        table = server_side(args.rate, args.clients, args.duration, args.server_side, proto)
        text += (
            f"## The server's side: {args.rate:,.0f} req/s, {args.clients} clients, "
            f"{args.duration:g} s, {proto}, the pump, one worker, against "
            f"`reference_servers/{STAMPING[proto]}`\n\n{table}\n"
        )
    write_markdown(args.output, text)


if __name__ == "__main__":
    main()
