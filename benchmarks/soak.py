"""Soak: 5,000 clients held for minutes against each of asyncio, selectors and prefork.

For each model: ``sockbench run --server MODEL --clients 5000 --duration D --warmup 5
--rate 1000 --workers auto --timeout 10 --interval 10``, while a thread samples the
resident memory and open descriptors of the server's process tree and of the
generator's (the sockbench process and its workers) every 10 s. The target: zero
errors, and RSS and descriptors flat within 5 % after the first minute (the first
minute holds the connect ramp and the allocators' warm-up). An open-loop rate of
one request per client every 5 s keeps a 2-core machine from measuring its own
saturation (at 1 per second a nice'd generator fell behind); the point is what leaks
over time, not the peak throughput.

    .venv/bin/python benchmarks/soak.py --nice 10        # 10 min per model: ~32 minutes
    .venv/bin/python benchmarks/soak.py --minutes 3      # shorter, same table
"""

from __future__ import annotations

import argparse
import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from _common import (
    RESULTS,
    SOCKBENCH,
    fmt,
    log,
    machine_line,
    md_table,
    raise_fd_limit,
    spawn,
    stop,
    write_markdown,
)

MODELS = ("asyncio", "selectors", "prefork")
SAMPLE_S = 10.0
SETTLE_S = 60.0  # samples before this are the ramp, outside the flatness check
FLAT = 0.05
MIB = 1024 * 1024


@dataclass
class Point:
    t_s: float  # since the start of measurement, once known (see Soak.__post_init__)
    wall_s: float
    server_rss: int
    server_fds: int
    generator_rss: int
    generator_fds: int


def _tree_usage(pids: list[int]) -> tuple[int, int]:
    rss = fds = 0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            rss += proc.memory_info().rss
            fds += proc.num_fds()
        except psutil.Error:
            continue
    return rss, fds


def _split(root_pid: int) -> tuple[list[int], list[int]]:
    """(server pids, generator pids) under the sockbench process ``root_pid``."""
    server: list[int] = []
    generator = [root_pid]
    try:
        for child in psutil.Process(root_pid).children():
            tree = [child.pid] + [c.pid for c in child.children(recursive=True)]
            (server if "sockbench.servers" in " ".join(child.cmdline()) else generator).extend(tree)
    except psutil.Error:
        pass
    return server, generator


@dataclass
class Sampler:
    """Every ``SAMPLE_S``, the RSS and descriptors of both trees, in a thread."""

    pid: int
    limit_s: float
    points: list[Point] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        end = self.t0 + self.limit_s
        while not self._stop.wait(SAMPLE_S) and time.monotonic() < end:
            server, generator = _split(self.pid)
            s_rss, s_fds = _tree_usage(server)
            g_rss, g_fds = _tree_usage(generator)
            self.points.append(Point(0.0, time.time(), s_rss, s_fds, g_rss, g_fds))


def drift(values: list[int]) -> float | None:
    """(max - min) / min of the values, or None with fewer than two."""
    if len(values) < 2 or min(values) <= 0:
        return None
    return (max(values) - min(values)) / min(values)


@dataclass
class Soak:
    model: str
    result: dict[str, Any]
    exit_code: int
    points: list[Point]

    def __post_init__(self) -> None:
        """Samples inside the measurement window only (not connect, not shutdown)."""
        start = self.result.get("measurement_started_at_s") or 0.0
        end = start + self.result["duration_s"]
        for p in self.points:
            p.t_s = p.wall_s - start
        self.points = [p for p in self.points if start <= p.wall_s <= end]

    def settled(self) -> list[Point]:
        return [p for p in self.points if p.t_s >= SETTLE_S]

    def drifts(self) -> dict[str, float | None]:
        after = self.settled()
        return {
            key: drift([getattr(p, key) for p in after])
            for key in ("server_rss", "server_fds", "generator_rss", "generator_fds")
        }


def soak_one(model: str, args: argparse.Namespace) -> Soak:
    duration = args.minutes * 60
    argv = [
        *SOCKBENCH, "run",
        "--server", model,
        "--clients", str(args.clients),
        "--duration", f"{duration:g}",
        "--warmup", "5",
        "--rate", f"{args.clients * args.per_client_rate:g}",
        "--workers", "auto",
        "--timeout", "10",
        "--interval", f"{SAMPLE_S:g}",
        "--quiet", "--json", "-", "--out", "",
    ]  # fmt: skip
    if args.nice:
        argv = ["nice", "-n", str(args.nice), *argv]
    log(f"soak {model}: {' '.join(argv)}")
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # nice execs sockbench in place: the pid is sockbench's either way
        with Sampler(proc.pid, duration + 120) as sampler:
            out, err = proc.communicate(timeout=duration + 180)
    finally:
        stop(proc)
    try:
        result = json.loads(out)
    except json.JSONDecodeError:
        raise RuntimeError(f"{model}: rc {proc.returncode}\n{err.decode()[-2000:]}") from None
    return Soak(model, result, proc.returncode, sampler.points)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def table(soaks: list[Soak]) -> str:
    rows = []
    for s in soaks:
        totals = s.result["totals"]
        d = s.drifts()
        last = s.points[-1] if s.points else None
        rows.append(
            [
                s.model,
                s.result["status"],
                fmt(totals["requests"]),
                fmt(sum(totals["errors"].values())),
                fmt(s.result["latency_us"].get("p99")),
                fmt(s.result["totals"].get("throughput_rps")),
                fmt(last.server_rss / MIB if last else None, 1),
                _pct(d["server_rss"]),
                fmt(last.server_fds if last else None),
                _pct(d["server_fds"]),
                fmt(last.generator_rss / MIB if last else None, 1),
                _pct(d["generator_rss"]),
                _pct(d["generator_fds"]),
                "yes" if _passes(s) else "**no**",
            ]
        )
    headers = ["model", "status", "requests", "errors", "p99 µs", "req/s", "server RSS MiB",
               "drift", "server fds", "drift", "generator RSS MiB", "drift",
               "generator fds drift", "target met"]  # fmt: skip
    return md_table(headers, rows, "llrrrrrrrrrrrl")


def _passes(s: Soak) -> bool:
    drifts = [v for v in s.drifts().values() if v is not None]
    errors = sum(s.result["totals"]["errors"].values())
    return errors == 0 and bool(drifts) and max(drifts) <= FLAT


def plot(soaks: list[Soak], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6))
    axes = fig.subplots(2, 2, sharex=True)
    for s in soaks:
        t = [p.t_s / 60 for p in s.points]
        axes[0][0].plot(t, [p.server_rss / MIB for p in s.points], label=s.model)
        axes[0][1].plot(t, [p.server_fds for p in s.points], label=s.model)
        axes[1][0].plot(t, [p.generator_rss / MIB for p in s.points], label=s.model)
        axes[1][1].plot(t, [p.generator_fds for p in s.points], label=s.model)
    titles = ["server RSS (MiB)", "server descriptors", "generator RSS (MiB)",
              "generator descriptors"]  # fmt: skip
    for ax, title in zip([a for row in axes for a in row], titles, strict=True):
        ax.set_title(title)
        ax.axvline(SETTLE_S / 60, color="grey", linewidth=0.5)
        ax.set_ylim(bottom=0)
    for ax in axes[1]:
        ax.set_xlabel("minutes")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path)
    log(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="measured minutes per model")
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--per-client-rate", type=float, default=0.2, help="requests/s/client")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--nice", type=int, default=0, help="run sockbench under nice -n N")
    args = parser.parse_args()
    machine = machine_line()
    raise_fd_limit()
    soaks = [soak_one(model, args) for model in args.models.split(",")]
    samples = "\n".join(
        f"- {s.model}: " + ", ".join(
            f"{p.t_s / 60:.1f} min {p.server_rss / MIB:.0f}/{p.server_fds}"
            f"/{p.generator_rss / MIB:.0f}/{p.generator_fds}"
            for p in s.points
        )
        for s in soaks
    )  # fmt: skip
    plot(soaks, RESULTS / "soak.png")
    write_markdown(
        RESULTS / "soak.md",
        f"# Soak: {args.clients:,} clients, {args.minutes:g} min per model\n\n"
        f"{machine}. `benchmarks/soak.py --minutes {args.minutes:g}`: open loop at "
        f"{args.per_client_rate:g} request/s per client, `--workers auto`, samples every "
        f"{SAMPLE_S:g} s; drift is (max − min) / min of the samples after the first "
        f"minute; the target is zero errors and every drift ≤ {FLAT:.0%}.\n\n"
        f"{table(soaks)}\n\n![soak](soak.png)\n\n"
        "Samples (minutes: server RSS MiB / server fds / generator RSS MiB / generator fds):\n\n"
        f"{samples}\n",
    )


if __name__ == "__main__":
    main()
