"""Open loop at high rates: what a C echo receives in the window, against what was asked.

The open loop's claim is that the target gets the schedule: ``--rate R`` for the
window's ``D`` seconds is R x D requests at the server. The generator's own counts say
what it sent; this counts at the server. ``tests/support/echo.c PORT OUT`` (the C echo of
docs/models.md, built here with ``cc`` into ``build/``; one epoll thread, pinned to CPU 0)
echoes each read and adds its bytes to the bin of the wall-clock millisecond it arrived
in. A run's
``measurement_started_at_s`` (the window's start, wall clock) and ``duration_s`` then
pick the window's bins: the requests it got are their bytes over the payload (64 B).

    .venv/bin/python benchmarks/open_loop_rate.py                       # ~2 min
    .venv/bin/python benchmarks/open_loop_rate.py --rates 100k --workers 2 --reps 3
    .venv/bin/python benchmarks/open_loop_rate.py --rates 100k --pipeline 1,8

Each cell alternates its runs with the others' (A B A B); the table gives each run:
requests at the server in the window over R x D, the generator's own count of the
requests due in the window over R x D, its send lag p99 (``scheduler_lag_us``), the
generator's CPU per request (user and kernel, over the window, spin included), the
result's arrival test and verdict, and the load average it started at. ``--pipeline``
bounds what each connection has in flight: 100 connections at 100,000 req/s and
``--pipeline 1`` leave each request 1 ms for its round trip, or it waits for a slot.
Without a C compiler the script says so in one line.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    RESULTS,
    ROOT,
    free_port,
    log,
    machine_line,
    md_table,
    sockbench_run,
    spawn,
    stop,
    write_markdown,
)

from sockbench.core.units import parse_number

SOURCE = ROOT / "tests" / "support" / "echo.c"
BINARY = ROOT / "build" / "echo_counting"
PAYLOAD = 64


def build() -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("open_loop_rate: no C compiler (apt-get install gcc)")
    if not BINARY.exists() or BINARY.stat().st_mtime < SOURCE.stat().st_mtime:
        BINARY.parent.mkdir(exist_ok=True)
        subprocess.run([compiler, "-O2", "-o", str(BINARY), str(SOURCE)], check=True)
    return BINARY


def received_in(bins: Path, start_s: float, duration_s: float) -> int:
    """Requests whose bytes arrived in [start, start + duration), by millisecond bins."""
    start_ms, end_ms = round(start_s * 1000), round((start_s + duration_s) * 1000)
    total = 0
    for line in bins.read_text().splitlines():
        ms, count = (int(x) for x in line.split())
        if start_ms <= ms < end_ms:
            total += count
    return total // PAYLOAD


def one_run(
    rate: float, workers: str, pipeline: int, clients: int, duration_s: float, shared: bool
) -> dict[str, Any]:
    port = free_port()
    # The echo is on CPU 0 either way; the generator's workers are kept off it, or (shared)
    # left to the scheduler on every core, the echo's too.
    placement = ["--client-cpus", "none"] if shared else ["--server-cpus", "0"]
    with tempfile.TemporaryDirectory() as tmp:
        bins = Path(tmp) / "bins"
        server = spawn(
            ["taskset", "-c", "0", str(BINARY), str(port), str(bins)], stdout=subprocess.PIPE
        )
        try:
            assert server.stdout is not None
            if not server.stdout.readline().startswith(b"listening on"):
                raise SystemExit("tests/support/echo.c did not start")
            result = sockbench_run(
                [
                    "--target", f"tcp://127.0.0.1:{port}", "--rate", f"{rate:g}",
                    "--workers", workers, "--clients", str(clients), "--payload", str(PAYLOAD),
                    "--duration", f"{duration_s:g}", "--warmup", "1", *placement,
                    "--pipeline", str(pipeline),
                ],
                timeout_s=duration_s + 60,
            )  # fmt: skip
        finally:
            stop(server)
        arrived = received_in(bins, result["measurement_started_at_s"], result["duration_s"])
    asked = rate * result["duration_s"]
    validity = result.get("validity") or {}
    arrivals = validity.get("arrivals") or {}
    generator = result.get("generator") or {}
    per_request_us = 1e4 / max(float(result["totals"]["throughput_rps"]), 1.0)  # % -> µs
    cpu = float(generator.get("cpu_percent_mean") or 0.0) * per_request_us
    user = float(generator.get("cpu_user_percent_mean") or 0.0) * per_request_us
    return {
        "rate": rate,
        "workers": f"{workers} ({result['config']['workers']})",
        "pipeline": pipeline,
        "cpu": f"{cpu:.1f} ({user:.1f} / {cpu - user:.1f})",
        "verdict": validity.get("verdict") or "-",
        "server": arrived / asked,
        "sent": result["totals"]["requests_issued"] / asked,
        "lag_p99": (result.get("scheduler_lag_us") or {}).get("p99"),
        "followed": arrivals.get("followed"),
        "load": ((result.get("environment") or {}).get("loadavg") or [0.0])[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50k,100k", help="comma-separated req/s")
    parser.add_argument("--workers", default="1,2", help="comma-separated --workers values")
    parser.add_argument("--pipeline", default="1", help="comma-separated --pipeline values")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument(
        "--shared-cores",
        action="store_true",
        help="workers on every core, the echo's CPU 0 too (default: kept off CPU 0)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "open_loop_rate.md")
    args = parser.parse_args()
    build()
    if shutil.which("taskset") is None:
        sys.exit("open_loop_rate: taskset is missing (util-linux)")
    cells = list(
        itertools.product(
            [parse_number(r) for r in args.rates.split(",")],
            args.workers.split(","),
            [int(p) for p in args.pipeline.split(",")],
        )
    )
    rows = []
    for rep, (rate, workers, pipeline) in itertools.product(range(args.reps), cells):
        log(f"rep {rep + 1}/{args.reps}: {rate:,.0f} req/s, --workers {workers} ...")
        found = one_run(rate, workers, pipeline, args.clients, args.duration, args.shared_cores)
        rows.append(
            [
                f"{found['rate']:,.0f}",
                found["workers"],
                str(found["pipeline"]),
                f"{found['server']:.4f}",
                f"{found['sent']:.4f}",
                f"{found['lag_p99'] or 0:,}",
                found["cpu"],
                {True: "yes", False: "no"}.get(found["followed"], "-"),
                found["verdict"],
                f"{found['load']:.1f}",
            ]
        )
        log(" | ".join(rows[-1]))
    rows.sort(key=lambda r: (float(r[0].replace(",", "")), r[1], int(r[2])))
    headers = [
        "req/s asked", "--workers (started)", "--pipeline", "at the server / asked",
        "due / asked", "send lag p99 µs", "generator CPU µs/req (user / kernel)",
        "arrivals followed", "verdict", "load avg",
    ]  # fmt: skip
    text = (
        f"# Open loop: what a C echo receives in the window\n\n{machine_line()}\n\n"
        f"`{' '.join(sys.argv)}`: {args.clients} clients, {PAYLOAD} B requests, "
        f"{args.duration:g} s windows after 1 s of warm-up, the echo on CPU 0, "
        + (
            "the workers on every core (`--client-cpus none`)"
            if args.shared_cores
            else "the workers kept off it (`--server-cpus 0`: on the other core)"
        )
        + "; runs alternated.\n\n"
        + md_table(headers, rows, "llrrrrrllr")
        + "\n"
    )
    write_markdown(args.out, text)


if __name__ == "__main__":
    main()
