"""Req/s and generator CPU per request over every transport, closed and open loop, per driver.

For TCP, UDP, unix and unix-dgram, closed loop and open loop (``--rate``), this runs
``sockbench run --server MODEL --workers 1`` with the server pinned to one CPU and the
generator to another, once with the pump (the default) and once with a trio task per
client (``--no-batch``), alternated A B A B in one run so a drifting machine hits
both alike. Per cell it reports req/s, the generator's CPU per request (its sampled
CPU share × the window / requests), both processes' CPU, and for open loop the share
of the asked rate achieved and the generator's scheduler lag (p99). The summary
gives the issue's ratio: closed-loop UDP over closed-loop TCP, both through the pump
(target ≥ 0.9×).

    .venv/bin/python benchmarks/datagrams.py            # ~10 minutes
    .venv/bin/python benchmarks/datagrams.py --quick    # ~2 minutes
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _common import (
    RESULTS,
    fmt,
    log,
    machine_line,
    md_table,
    median,
    sockbench_run,
    wait_for_quiet,
    write_markdown,
)

PROTOS = ("tcp", "udp", "unix", "unix-dgram")
DRIVERS = {"pump": [], "task per client": ["--no-batch"]}
PAYLOAD = 64


def one_run(proto: str, clients: int, rate: float | None, driver: str, args: Any) -> dict[str, Any]:
    argv = [
        "--server", args.model, "--proto", proto, "--clients", str(clients),
        "--payload", str(PAYLOAD), "--duration", str(args.duration), "--warmup", "0.5",
        "--workers", "1", *DRIVERS[driver],
    ]  # fmt: skip
    if rate is not None:
        argv += ["--rate", f"{rate:g}"]
    if args.server_cpu:
        argv += ["--server-cpus", args.server_cpu]
    if args.client_cpu:
        argv += ["--client-cpus", args.client_cpu]
    wait_for_quiet()
    return sockbench_run(argv, timeout_s=args.duration + 120)


def measures(result: dict[str, Any]) -> dict[str, float]:
    totals = result["totals"]
    gen = result["generator"]
    requests = max(1, totals["requests"])
    lag = result.get("scheduler_lag_us") or {}
    return {
        "rps": totals["throughput_rps"],
        "gen_us": gen["cpu_percent_mean"] / 100 * result["duration_s"] / requests * 1e6,
        "gen_cpu": gen["cpu_percent_mean"],
        "server_cpu": (result.get("server_resources") or {}).get("cpu_percent_mean", float("nan")),
        "achieved": 100 * totals.get("achieved_ratio", float("nan")),
        "lag_p99": lag.get("p99", float("nan")),
        "send_lag_p99": (result.get("send_lag_us") or {}).get("p99", float("nan")),
        "errors": sum(totals["errors"].values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default=None, help="default 100,1000 (--quick: 100)")
    parser.add_argument("--protos", default=",".join(PROTOS))
    parser.add_argument("--rate", type=float, default=50_000, help="open loop: asked req/s")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--reps", type=int, default=2, help="A B rounds per cell")
    parser.add_argument("--model", default="uvloop", help="server model")
    parser.add_argument("--server-cpu", default="0", help="pin the server ('' = no pinning)")
    parser.add_argument("--client-cpu", default="1", help="pin the generator ('' = no pinning)")
    parser.add_argument("--quick", action="store_true", help="2 s runs, 1 round")
    parser.add_argument("--out", type=Path, default=RESULTS / "datagrams.md")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.reps = 2.0, 1
    args.clients = args.clients or ("100" if args.quick else "100,1000")
    log(f"measuring {machine_line()}")
    rows = []
    pump_closed: dict[tuple[str, int], float] = {}
    for clients in (int(c) for c in args.clients.split(",")):
        for proto in args.protos.split(","):
            for loop, rate in (("closed", None), ("open", args.rate)):
                samples: dict[str, list[dict[str, float]]] = {d: [] for d in DRIVERS}
                for _ in range(args.reps):
                    for driver in DRIVERS:  # A B A B
                        m = measures(one_run(proto, clients, rate, driver, args))
                        samples[driver].append(m)
                        log(f"  {proto} {loop} C={clients} {driver}: {m['rps']:,.0f} req/s, "
                            f"{m['gen_us']:.1f} µs/req generator")  # fmt: skip
                for driver, ms in samples.items():
                    med = {k: median([m[k] for m in ms]) for k in ms[0]}
                    if loop == "closed" and driver == "pump":
                        pump_closed[proto, clients] = med["rps"]
                    rows.append([
                        proto, loop, str(clients), driver, fmt(med["rps"]),
                        fmt(med["achieved"], 1) if loop == "open" else "",
                        fmt(med["gen_us"], 1), fmt(med["gen_cpu"]), fmt(med["server_cpu"]),
                        fmt(med["lag_p99"]) if loop == "open" else "",
                        fmt(med["send_lag_p99"]) if loop == "open" else "",
                        fmt(med["errors"]),
                    ])  # fmt: skip
    headers = [
        "proto", "loop", "clients", "driver", "req/s", "achieved % (open)",
        "generator CPU µs/req", "generator CPU %", "server CPU %",
        "scheduler lag p99 µs", "send lag p99 µs", "errors",
    ]  # fmt: skip
    ratios = [
        [str(c), fmt(pump_closed[p, c]), fmt(pump_closed["tcp", c]),
         f"{pump_closed[p, c] / pump_closed['tcp', c]:.2f}×"]
        for (p, c) in pump_closed
        if p == "udp" and ("tcp", c) in pump_closed
    ]  # fmt: skip
    text = [
        "# Every transport through the pump and through a task per client",
        "",
        f"Machine: {machine_line()}. `sockbench run --server {args.model} --workers 1`, "
        f"{PAYLOAD}-byte requests, {args.duration:g} s measured after 0.5 s of warm-up; "
        f"server on CPU {args.server_cpu or '(any)'}, generator on CPU "
        f"{args.client_cpu or '(any)'}; the two drivers alternated A B, median of "
        f"{args.reps}. Open loop asks `--rate {args.rate:g}`. Generator CPU per request: "
        "its sampled CPU share × the window / requests.",
        "",
        md_table(headers, rows, "llll" + "r" * (len(headers) - 4)),
        "",
        "Closed-loop UDP over closed-loop TCP, both through the pump (target ≥ 0.9×):",
        "",
        md_table(["clients", "UDP req/s", "TCP req/s", "UDP / TCP"], ratios, "rrrr"),
        "",
    ]
    write_markdown(args.out, "\n".join(text))


if __name__ == "__main__":
    main()
