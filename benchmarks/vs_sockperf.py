"""sockbench vs sockperf: one-client ping-pong round-trip time over TCP and UDP.

Variants, run interleaved (A B C A B C ...) ``--reps`` times, medians reported:

* ``sockperf -> sockperf server``: ``sockperf ping-pong --full-rtt -m 64`` against
  ``sockperf server`` (C on both ends; ``--full-rtt`` makes sockperf report the round
  trip itself instead of half of it);
* ``sockbench -> sockperf server`` (TCP only): the same server, so the difference to
  the row above is the client's own cost. sockbench sends a valid 64-byte sockperf
  ping (14-byte header: sequence, flags 0x0003 = client + pong request, length) with
  ``--send`` and accepts any 64-byte reply (``--expect-size 64``). Over UDP sockbench
  writes its own random payload after an 8-byte sequence number, which sockperf's
  server rejects, so that cell is n/a;
* ``sockbench -> sockbench MODEL``: ``sockbench run --clients 1 --server MODEL``
  with the fastest model, picked first by a short run of every model;
* ``sockbench --busy-poll -> ...`` (TCP, when the option exists): the closed-loop pump
  spins on its epoll set instead of sleeping in trio's, trading a core for latency;
  its counterpart is ``sockperf --nonblocked`` (non-blocking sockets, polled);
* ``plain Python blocking loop -> sockperf server``: a reference, not sockbench: the
  least a Python client can do (blocking ``send`` + ``recv_into`` + two clock reads
  per round trip, no event loop), i.e. the floor for any Python engine.

CPU placement matters a lot on a small VM: a cross-CPU wake-up costs tens of
microseconds. ``same`` pins client and server to CPU 0, ``split`` puts the server on
CPU 0 and the client on CPU 1, ``none`` lets the scheduler choose.

    .venv/bin/python benchmarks/vs_sockperf.py              # ~4 minutes
    .venv/bin/python benchmarks/vs_sockperf.py --quick      # ~1 minute
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    PYTHON,
    RESULTS,
    SOCKBENCH,
    ensure_tools,
    fmt,
    free_port,
    log,
    machine_line,
    md_table,
    median,
    run_bounded,
    running,
    sockbench_run,
    wait_for_quiet,
    wait_tcp,
    write_markdown,
)

TOOLS = {"sockperf": "sockperf", "taskset": "util-linux"}
MODELS = ("selectors", "uvloop", "asyncio", "trio", "threaded", "threadpool", "prefork")
PAYLOAD = 64
# sockperf's message header: u64 sequence, u16 flags (1 = client, 2 = pong request),
# u16 (unused here), u16 length; all big-endian. The rest of the 64 bytes is filler.
SOCKPERF_PING = "\\x00" * 7 + "\\x01" + "\\x00\\x03" + "\\x00\\x00" + "\\x00\\x40" + "x" * 50
UDP_SERVER_START_S = 0.3  # no way to probe a UDP echo server without a valid ping
PLACEMENTS = {"same": ("0", "0"), "split": ("0", "1"), "none": (None, None)}
_PERCENTILE = re.compile(r"percentile\s+(\d+\.\d+)\s*=\s*([\d.]+)")
_VALID = re.compile(r"\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); Received")


@dataclass(frozen=True)
class Sample:
    p50_us: float
    p99_us: float
    rps: float


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    def med(self, attr: str) -> float:
        return median([getattr(s, attr) for s in self.samples])


def taskset(cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu] if cpu else []


def sockperf_client(port: int, proto: str, seconds: float, cpu: str | None, *extra: str) -> Sample:
    argv = [
        *taskset(cpu), "sockperf", "ping-pong", "-i", "127.0.0.1", "-p", str(port),
        "-t", str(int(seconds)), "-m", str(PAYLOAD), "--full-rtt", *extra,
    ]  # fmt: skip
    if proto == "tcp":
        argv.append("--tcp")
    done = run_bounded(argv, timeout_s=seconds + 60)
    text = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    pct = {float(p): float(v) for p, v in _PERCENTILE.findall(text)}
    valid = _VALID.search(text)
    if done.returncode != 0 or 50.0 not in pct or valid is None:
        raise RuntimeError(f"sockperf ping-pong failed (rc {done.returncode}):\n{text[-2000:]}")
    return Sample(pct[50.0], pct[99.0], int(valid.group(2)) / float(valid.group(1)))


def plain_client_main(proto: str, port: int, seconds: float, warmup: float) -> None:
    """A blocking Python ping-pong loop (what a minimal Python client costs); prints JSON."""
    import array
    import socket

    import numpy as np

    from sockbench.core.expect import parse_escapes

    ping = parse_escapes(SOCKPERF_PING)
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.connect(("127.0.0.1", port))
        if proto == "tcp":
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray(PAYLOAD)
        view = memoryview(buf)
        clock = time.monotonic_ns
        samples = array.array("q")
        start_measure = clock() + int(warmup * 1e9)
        end = start_measure + int(seconds * 1e9)
        while (t0 := clock()) < end:
            sock.send(ping)
            got = 0
            while got < PAYLOAD:
                n = sock.recv_into(view[got:] if got else view)
                if n == 0:
                    raise SystemExit("the server closed the connection")
                got += n
            if t0 >= start_measure:
                samples.append(clock() - t0)
    values = np.frombuffer(samples, dtype=np.int64) / 1000
    print(json.dumps({
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "rps": len(values) / seconds,
    }))  # fmt: skip


def plain_client(port: int, proto: str, seconds: float, cpu: str | None) -> Sample:
    argv = [*taskset(cpu), PYTHON, __file__, "--plain-client", proto, str(port), str(seconds)]
    done = run_bounded(argv, timeout_s=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"plain client failed: {done.stderr.decode(errors='replace')[-2000:]}")
    got = json.loads(done.stdout)
    return Sample(got["p50"], got["p99"], got["rps"])


def sockperf_server(port: int, proto: str, cpu: str | None) -> list[str]:
    argv = [*taskset(cpu), "sockperf", "server", "-i", "127.0.0.1", "-p", str(port)]
    return [*argv, "--tcp"] if proto == "tcp" else argv


def sockbench_sample(
    args: list[str], seconds: float, warmup: float, prefix: Sequence[str] = ()
) -> Sample:
    result = sockbench_run(
        ["--clients", "1", "--duration", str(seconds), "--warmup", str(warmup), *args],
        timeout_s=seconds + warmup + 60,
        prefix=prefix,
    )
    errors = sum(result["totals"]["errors"].values())
    if errors or result["totals"]["requests"] == 0:
        raise RuntimeError(f"sockbench run {args}: {result['totals']}")
    lat = result["latency_us"]
    return Sample(float(lat["p50"]), float(lat["p99"]), float(result["totals"]["throughput_rps"]))


def sockbench_vs_model(
    proto: str, model: str, placement: str, seconds: float, warmup: float, *extra: str
) -> Sample:
    server_cpu, client_cpu = PLACEMENTS[placement]
    args = ["--proto", proto, "--server", model, "--payload", str(PAYLOAD), *extra]
    if model == "prefork":
        args += ["--server-processes", "1"]
    if server_cpu == client_cpu and server_cpu:
        # sockbench refuses to pin both sides to one CPU (a run that measures their
        # contention); this placement wants exactly that, so taskset pins the generator.
        args += ["--server-cpus", server_cpu, "--client-cpus", "none"]
        return sockbench_sample(args, seconds, warmup, prefix=taskset(client_cpu))
    if server_cpu:
        args += ["--server-cpus", server_cpu, "--client-cpus", str(client_cpu)]
    return sockbench_sample(args, seconds, warmup)


def pick_model(proto: str, args: argparse.Namespace) -> tuple[str, list[list[str]]]:
    """The model with the lowest p50 RTT (then p99) in one short run each."""
    rows = []
    best: tuple[float, float, str] | None = None
    for model in args.models:
        wait_for_quiet()
        try:
            s = sockbench_vs_model(proto, model, args.placements[0], args.probe_seconds, 0.5)
        except RuntimeError as exc:
            log(f"  {proto} {model}: failed: {str(exc)[:200]}")
            rows.append([proto, model, "failed", "", ""])
            continue
        log(f"  {proto} {model}: p50 {s.p50_us:.0f} µs, p99 {s.p99_us:.0f} µs")
        rows.append([proto, model, fmt(s.p50_us), fmt(s.p99_us), fmt(s.rps)])
        if best is None or (s.p50_us, s.p99_us) < best[:2]:
            best = (s.p50_us, s.p99_us, model)
    if best is None:
        raise SystemExit(f"no sockbench model served {proto}")
    return best[2], rows


def measure(proto: str, model: str, placement: str, args: argparse.Namespace) -> dict[str, Series]:
    server_cpu, client_cpu = PLACEMENTS[placement]
    series: dict[str, Series] = {}
    variants: dict[str, Callable[[int], Sample]] = {
        "sockperf -> sockperf server": lambda port: sockperf_client(
            port, proto, args.seconds, client_cpu
        ),
        # sockperf's own low-latency mode: non-blocking sockets, polled; the counterpart
        # of sockbench --busy-poll.
        "sockperf --nonblocked -> sockperf server": lambda port: sockperf_client(
            port, proto, args.seconds, client_cpu, "--nonblocked"
        ),
    }
    if proto == "tcp":
        pin = ["--client-cpus", client_cpu] if client_cpu else []
        ping = ["--send", SOCKPERF_PING, "--expect-size", str(PAYLOAD), *pin]
        variants["sockbench -> sockperf server"] = lambda port: sockbench_sample(
            ["--target", f"tcp://127.0.0.1:{port}", *ping], args.seconds, args.warmup
        )
    variants["plain Python blocking loop -> sockperf server"] = lambda port: plain_client(
        port, proto, args.seconds, client_cpu
    )
    variants[f"sockbench -> sockbench {model}"] = lambda _port: sockbench_vs_model(
        proto, model, placement, args.seconds, args.warmup
    )
    if proto == "tcp" and args.busy_poll:
        # The closed-loop TCP pump can spin instead of sleeping (a full core for latency).
        variants["sockbench --busy-poll -> sockperf server"] = lambda port: sockbench_sample(
            ["--target", f"tcp://127.0.0.1:{port}", *ping, "--busy-poll"],
            args.seconds,
            args.warmup,
        )
        variants[f"sockbench --busy-poll -> sockbench {model}"] = lambda _port: sockbench_vs_model(
            proto, model, placement, args.seconds, args.warmup, "--busy-poll"
        )
    for rep in range(args.reps):
        for name, run in variants.items():
            # A fresh sockperf server (and port) per run: it lacks SO_REUSEADDR.
            port = free_port()
            wait_for_quiet()
            if "sockperf server" in name:
                with running(sockperf_server(port, proto, server_cpu)):
                    if proto == "tcp":
                        wait_tcp(port)
                    else:
                        time.sleep(UDP_SERVER_START_S)
                    sample = run(port)
            else:
                sample = run(port)
            series.setdefault(name, Series()).samples.append(sample)
            log(
                f"[{placement} {proto}] rep {rep + 1} {name}: p50 {sample.p50_us:.1f} µs, "
                f"p99 {sample.p99_us:.1f} µs, {sample.rps:,.0f} round trips/s"
            )
    return series


def render(placement: str, results: dict[str, dict[str, Series]]) -> str:
    headers = ["proto", "client -> server", "p50 RTT µs", "p99 RTT µs", "round trips/s",
               "p50 / sockperf's", "p99 / sockperf's", "p50 / sockperf --nonblocked's"]  # fmt: skip
    rows = []
    for proto, series in results.items():
        base = series["sockperf -> sockperf server"]
        spin = series.get("sockperf --nonblocked -> sockperf server")
        for name, s in series.items():
            r50 = s.med("p50_us") / base.med("p50_us")
            r99 = s.med("p99_us") / base.med("p99_us")
            rows.append(
                [
                    proto.upper(),
                    name,
                    fmt(s.med("p50_us"), 1),
                    fmt(s.med("p99_us"), 1),
                    fmt(s.med("rps")),
                    f"{r50:.2f}",
                    f"{r99:.2f}",
                    f"{s.med('p50_us') / spin.med('p50_us'):.2f}" if spin else "",
                ]
            )
        if proto == "udp":
            rows.append(["UDP", "sockbench -> sockperf server", "n/a", "n/a", "", "", "", ""])
        rows.sort(key=lambda r: (r[0], "plain" in r[1], "busy" in r[1] or "nonblocked" in r[1]))
    server_cpu, client_cpu = PLACEMENTS[placement]
    where = (
        f"server on CPU {server_cpu}, client on CPU {client_cpu}" if server_cpu else "no pinning"
    )
    spread = "; ".join(
        f"{proto.upper()} {name}: {', '.join(fmt(x.p50_us, 1) for x in s.samples)}"
        for proto, series in results.items()
        for name, s in series.items()
    )
    return "\n".join(
        [
            f"## Placement `{placement}`: {where}",
            "",
            md_table(headers, rows, "llrrrrrr"),
            "",
            f"p50 of every run (µs): {spread}.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="sockbench warm-up seconds")
    parser.add_argument("--placements", default="same,split",
                        help="comma-separated: same, split, none")  # fmt: skip
    parser.add_argument("--models", default=",".join(MODELS), help="models to probe")
    parser.add_argument("--probe-seconds", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true", help="2 s runs, placement same only")
    parser.add_argument("--out", type=Path, default=RESULTS / "vs_sockperf.md")
    parser.add_argument("--plain-client", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    log(f"measuring {machine_line()}")
    if args.plain_client:
        proto, port, seconds = args.plain_client
        plain_client_main(proto, int(port), float(seconds), warmup=0.4)
        return
    if args.quick:
        args.seconds, args.probe_seconds, args.placements = 2.0, 1.0, "same"
    args.placements = args.placements.split(",")
    args.busy_poll = "--busy-poll" in run_bounded([*SOCKBENCH, "run", "--help"], 60).stdout.decode()
    args.models = args.models.split(",")
    ensure_tools(TOOLS)
    log(f"picking the fastest model (placement {args.placements[0]}) ...")
    best: dict[str, str] = {}
    probe_rows: list[list[str]] = []
    for proto in ("tcp", "udp"):
        best[proto], rows = pick_model(proto, args)
        probe_rows += rows
    sections = []
    for placement in args.placements:
        results = {proto: measure(proto, best[proto], placement, args) for proto in ("tcp", "udp")}
        sections.append(render(placement, results))
    all_p50 = [float(r[2].replace(",", "")) for r in probe_rows if r[2] not in ("failed",)]
    header = [
        "# sockbench vs sockperf: one-client ping-pong RTT, 64-byte messages",
        "",
        f"Machine: {machine_line()}. Each cell: median of {args.reps} runs, variants "
        f"interleaved; {args.seconds:g} s measured per run (sockbench after {args.warmup:g} s "
        "warm-up, sockperf after its own 400 ms warm-up). sockperf reports RTT directly "
        "(`--full-rtt`), sockbench records whole microseconds.",
        "Target: sockbench p50 RTT ≤ 1.1 × sockperf's.",
        "",
        f"## Which sockbench model is fastest (one {args.probe_seconds:g} s run each, "
        f"placement `{args.placements[0]}`)",
        "",
        md_table(
            ["proto", "model", "p50 RTT µs", "p99 RTT µs", "round trips/s"], probe_rows, "llrrr"
        ),
        "",
        f"Fastest: TCP `{best['tcp']}`, UDP `{best['udp']}` "
        f"(p50 spread over models: {min(all_p50):.0f}-{max(all_p50):.0f} µs; "
        f"stdev {statistics.pstdev(all_p50):.1f}).",
        "",
    ]
    write_markdown(args.out, "\n".join(header + sections))


if __name__ == "__main__":
    main()
