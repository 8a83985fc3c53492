"""How much of a one-client round trip is the machine's wake-up path, not the client.

At one client a closed loop sleeps between a send and its reply, and so does the
server between requests. On a VM each sleep can halt the virtual CPU, and each reply
then wakes it through the hypervisor. This measures that share directly: a plain
blocking Python client (``_blocking_redis.py``) that, after each send, spins on the
clock for B µs before its blocking ``recv``, touching no socket. It does strictly
more work per request than at B = 0, so any gain in req/s is the wake-up path's.

The rotation, A B A B per repetition, against one pinned ``redis-server`` (CPU 0):
the spinning client at every ``--burn-us`` value, ``sockbench run`` (default: no
``--busy-poll``) and ``redis-benchmark -c 1``, all on the client CPU. Placements:
``split`` (client on CPU 1: every reply crosses CPUs) and ``same`` (client on CPU 0
with the server: no cross-CPU wake-up; a spin there only adds work).

    .venv/bin/python benchmarks/vcpu_wakeup.py                 # ~5 minutes
    .venv/bin/python benchmarks/vcpu_wakeup.py --reps 3 --placements split
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import psutil
from _common import (
    RESULTS,
    ensure_tools,
    fmt,
    free_port,
    log,
    machine_line,
    md_table,
    median,
    running,
    wait_tcp,
    write_markdown,
)
from vs_redis_benchmark import (
    MIN_REQUESTS,
    TOOLS,
    run_blocking_python,
    run_redis_benchmark,
    run_sockbench,
    start_redis,
)

CLIENT_CPU = {"split": "1", "same": "0"}


def steal_s() -> float:
    """The VM's steal time so far, all CPUs, in seconds (0 outside a VM)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / 100 if len(fields) > 8 else 0.0


def halt_poll() -> str:
    """The guest's idle driver and its halt-poll setting, as the table's context."""
    driver = Path("/sys/devices/system/cpu/cpuidle/current_driver")
    poll = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
    parts = [f"cpuidle driver {driver.read_text().strip() if driver.exists() else '?'}"]
    if poll.exists():
        parts.append(f"guest_halt_poll_ns {poll.read_text().strip()}")
    return ", ".join(parts)


def measure(placement: str, args: argparse.Namespace) -> str:
    cpu = CLIENT_CPU[placement]
    variants = [f"blocking, burn {b:g} µs" for b in args.burn_us]
    variants += ["sockbench (default)", "redis-benchmark -c 1"]
    rps: dict[str, list[float]] = {v: [] for v in variants}
    p50: dict[str, list[float]] = {v: [] for v in variants}
    port = free_port()
    stolen = steal_s()
    with (
        tempfile.TemporaryDirectory(prefix="sockbench-wakeup-") as workdir,
        Path(workdir, "redis.log").open("wb") as redis_log,
        running(start_redis(port, workdir, "0"), stdout=redis_log,
                stderr=subprocess.STDOUT) as proc,
    ):  # fmt: skip
        wait_tcp(port)
        server = psutil.Process(proc.pid)
        for rep in range(args.reps):
            for burn, variant in zip(args.burn_us, variants, strict=False):
                got = run_blocking_python(port, "ping", args, cpu, burn)
                rps[variant].append(got[0])
                p50[variant].append(got[1])
            sb = run_sockbench(port, 1, args, cpu, server, test="ping")
            assert not sb[5], f"sockbench counted {sb[5]} errors"
            rps[variants[-2]].append(sb[0])
            p50[variants[-2]].append(sb[1])
            requests = max(MIN_REQUESTS, int(rps[variants[-2]][-1] * args.duration))
            rb = run_redis_benchmark(port, 1, requests, 120 + 10 * args.duration, cpu, server)
            rps[variants[-1]].append(rb[0])
            p50[variants[-1]].append(rb[1])
            log(f"{placement} rep {rep + 1}: " + ", ".join(
                f"{v} {rps[v][-1]:,.0f}/s" for v in variants))  # fmt: skip
    stolen = steal_s() - stolen
    base = median(rps[variants[0]])
    best = max(range(len(args.burn_us)), key=lambda i: median(rps[variants[i]]))
    rows = [
        [v, fmt(median(rps[v])), f"{median(rps[v]) / base:.2f}", fmt(median(p50[v]), 1),
         ", ".join(fmt(x) for x in rps[v])]
        for v in variants
    ]  # fmt: skip
    where = (
        "client on CPU 1, redis-server on CPU 0: every reply wakes the other CPU"
        if placement == "split"
        else "client and redis-server both on CPU 0: no cross-CPU wake-up"
    )
    return "\n".join([
        f"## {placement}: {where}",
        "",
        md_table(["client", "req/s (median)", "vs burn 0", "p50 µs", "every run, req/s"], rows),
        "",
        f"sockbench does {median(rps[variants[-2]]) / base:.2f}× the plain blocking loop's "
        f"req/s, redis-benchmark {median(rps[variants[-1]]) / base:.2f}×; the loop spinning "
        f"{args.burn_us[best]:g} µs after each send does "
        f"{median(rps[variants[best]]) / base:.2f}×. "
        f"The VM's steal time grew by {stolen:.1f} s (both CPUs) during these runs.",
        "",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=0.5, help="sockbench warm-up seconds")
    parser.add_argument("--burn-us", default="0,5,10,20,40", help="comma-separated spins")
    parser.add_argument("--placements", default="split,same", help="split, same")
    parser.add_argument("--out", type=Path, default=RESULTS / "vcpu_wakeup.md")
    args = parser.parse_args()
    args.burn_us = [float(b) for b in args.burn_us.split(",")]
    args.workers, args.data_size = 1, 3  # what vs_redis_benchmark's runners read (PING)
    placements = [p.strip() for p in args.placements.split(",") if p.strip()]
    if not args.burn_us or args.burn_us[0] != 0 or set(placements) - set(CLIENT_CPU):
        parser.error("--burn-us must start at 0; --placements: split, same")
    log(f"measuring {machine_line()}")
    ensure_tools(TOOLS)
    sections = [measure(p, args) for p in placements]
    header = [
        "# One client's round trip: the client's work, or the machine's wake-up path?",
        "",
        f"Machine: {machine_line()}; {halt_poll()}.",
        f"`benchmarks/vcpu_wakeup.py --reps {args.reps} --duration {args.duration:g} "
        f"--burn-us {','.join(f'{b:g}' for b in args.burn_us)} --placements "
        f"{','.join(placements)}`: PING against one redis-server pinned to CPU 0, one "
        "connection, medians of the runs, A B A B. *blocking, burn B µs*: a blocking "
        "`sendall` + `recv_into` loop that spins B µs on the clock after each send and "
        "before its `recv`, touching no socket, so it does more work per request, never "
        "less.",
        "",
    ]
    write_markdown(args.out, "\n".join(header + sections))


if __name__ == "__main__":
    main()
