"""How late do open-loop clients send? Lag = actual send time - due time.

Runs N clients sharing a total rate of R requests/s for D seconds per variant,
each sending one small UDP datagram to a sink socket on 127.0.0.1 (loopback only)
at its due times from :class:`sockbench.core.schedule.RateSchedule`, and reports
the lag distribution and the CPU the process used (all cores, over wall time).

    .venv/bin/python benchmarks/send_lag.py --clients 100 --rate 1000 --duration 5
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio
from hdrh.histogram import HdrHistogram

from sockbench.core.schedule import RateSchedule
from sockbench.engine.io.timing import EARLY_NS, sleep_until_ns, uses_timerfd

Sleeper = Callable[[int], Awaitable[None]]
START_DELAY_NS = 100_000_000


async def trio_sleep_until(deadline_ns: int) -> None:
    """The naive way, converting to trio's clock (which is offset from monotonic)."""
    await trio.sleep_until(trio.current_time() + (deadline_ns - time.monotonic_ns()) / 1e9)


async def coarse_then_spin(deadline_ns: int, guard_ns: int = 2_000_000) -> None:
    """trio.sleep_until ~2 ms early, then spin on checkpoints: precise but CPU-hungry."""
    remaining = deadline_ns - guard_ns - time.monotonic_ns()
    await trio.sleep(max(0, remaining) / 1e9)
    while time.monotonic_ns() < deadline_ns:
        await trio.lowlevel.checkpoint()


@dataclass(frozen=True)
class Outcome:
    name: str
    sends: int
    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float
    cpu_percent: float


async def _client(
    schedule: RateSchedule,
    index: int,
    start_ns: int,
    end_ns: int,
    sleeper: Sleeper,
    sink: tuple[str, int],
    lags: list[int],
) -> None:
    client = schedule.client(index)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect(sink)
        k = 0
        while (due := start_ns + client.due(k)) < end_ns:
            await sleeper(due)
            lags.append(time.monotonic_ns() - due)
            try:
                sock.send(b"x" * 16)
            except BlockingIOError:
                pass
            k += 1


async def _drain(sock: socket.socket) -> None:
    while True:
        await trio.lowlevel.wait_readable(sock)
        try:
            while True:
                sock.recv(2048)
        except BlockingIOError:
            pass


async def measure(
    name: str, sleeper: Sleeper, clients: int, rate: float, duration_s: float
) -> Outcome:
    schedule = RateSchedule(rate, clients, seed=1)
    lags: list[int] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.setblocking(False)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain, sink)
            start = time.monotonic_ns() + START_DELAY_NS
            end = start + int(duration_s * 1e9)
            async with trio.open_nursery() as clients_nursery:
                for i in range(clients):
                    clients_nursery.start_soon(
                        _client, schedule, i, start, end, sleeper, sink.getsockname(), lags
                    )
                await sleep_until_ns(start)
                cpu0, wall0 = time.process_time(), time.monotonic()
            cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
            nursery.cancel_scope.cancel()
    hist = HdrHistogram(1, 60_000_000_000, 3)
    for lag in lags:
        hist.record_value(max(1, lag))
    pct = hist.get_percentile_to_value_dict([50.0, 90.0, 99.0])
    return Outcome(
        name=name,
        sends=len(lags),
        p50_us=pct[50.0] / 1000,
        p90_us=pct[90.0] / 1000,
        p99_us=pct[99.0] / 1000,
        max_us=hist.get_max_value() / 1000,
        cpu_percent=100 * cpu,
    )


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| sleep | sends | p50 µs | p90 µs | p99 µs | max µs | CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.name} | {o.sends} | {o.p50_us:.1f} | {o.p90_us:.1f} | {o.p99_us:.1f} "
            f"| {o.max_us:.1f} | {o.cpu_percent:.1f} |"
        )
    return "\n".join(lines)


def median_outcome(outcomes: list[Outcome]) -> Outcome:
    """Each column's median over repeated runs of one variant."""

    def med(column: str) -> float:
        return float(statistics.median(getattr(o, column) for o in outcomes))

    return Outcome(
        name=outcomes[0].name,
        sends=round(med("sends")),
        p50_us=med("p50_us"),
        p90_us=med("p90_us"),
        p99_us=med("p99_us"),
        max_us=med("max_us"),
        cpu_percent=med("cpu_percent"),
    )


def variants(early_us: list[int]) -> dict[str, Sleeper]:
    found: dict[str, Sleeper] = {"trio.sleep_until": trio_sleep_until}
    if uses_timerfd():
        found["timerfd only (early 0)"] = partial(sleep_until_ns, early_ns=0)
    for early in early_us:
        default = " (default)" if early * 1000 == EARLY_NS else ""
        name = f"sleep_until_ns, early {early} µs{default}"
        found[name] = partial(sleep_until_ns, early_ns=early * 1000)
    found["trio sleep 2 ms early + spin"] = coarse_then_spin
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1000.0, help="total requests/s")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per variant")
    parser.add_argument(
        "--early", type=int, nargs="*", default=[50, 100, 200], help="µs, a row each"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; columns are medians")
    parser.add_argument("--output", type=Path, default=Path("results/send_lag.md"))
    args = parser.parse_args()
    if not 0 < args.duration <= 60 or not 1 <= args.repeat <= 10:
        parser.error("--duration must be in (0, 60] seconds and --repeat in [1, 10]")

    sleepers = variants(args.early)
    runs: dict[str, list[Outcome]] = {name: [] for name in sleepers}
    for _ in range(args.repeat):  # round-robin, so slow drifts in load hit every row alike
        for name, sleeper in sleepers.items():
            outcome = trio.run(measure, name, sleeper, args.clients, args.rate, args.duration)
            print(table([outcome]).splitlines()[-1], flush=True)
            runs[name].append(outcome)
    outcomes = [median_outcome(found) for found in runs.values()]
    text = (
        f"# Send lag: {args.clients} clients, {args.rate:g} requests/s in total\n\n"
        f"Each row: median of {args.repeat} run(s) of {args.duration:g} s, column by column. "
        "Lag = time of the send - due time. CPU = process CPU time / wall time "
        f"(100% = one core; {os.cpu_count()} cores here).\n\n"
        f"{table(outcomes)}\n"
    )
    print()
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)


if __name__ == "__main__":
    main()
