"""Where the generator's time goes: a py-spy profile of ``sockbench run`` under load.

Starts a private redis-server (pinned to CPU 0, as in vs_redis_benchmark.py) and
runs ``sockbench run --target ... --send 'PING\\r\\n' --expect '+PONG\\r\\n'
--workers 1 --client-cpus 1`` for each ``--clients`` value while ``py-spy record
--nonblocking`` samples it (``--target selectors`` profiles against sockbench's own
echo server instead). Samples are grouped by what the code does; py-spy attributes
time inside a C call (a syscall) to the Python function that made it, so ``send_all``
is mostly the sendto syscall (which on loopback also delivers to the server's socket).

``--workload redis`` loads it with memtier's default mix instead of PING (``--protocol
redis --ratio 1:10 --value-size 32 --key-space 100000``, the cell benchmarks/vs_memtier.py
compares), and the tables add each function's inclusive share (the samples with it
anywhere on the stack), which shows what a request's path costs from the pump down.
``--native`` adds py-spy's native frames (C code of CPython, the kernel boundary); it
pauses the process per sample, so its req/s is lower than the plain run's.

py-spy comes from PyPI (``pip install py-spy``); the script says so when it is missing.

    .venv/bin/python benchmarks/profile_generator.py --clients 1,100
    .venv/bin/python benchmarks/profile_generator.py --workload redis --clients 50 \
        --out results/profile_generator_redis.md
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    RESULTS,
    SOCKBENCH,
    ensure_tools,
    free_port,
    log,
    machine_line,
    md_table,
    raise_fd_limit,
    running,
    spawn,
    stop,
    wait_for_quiet,
    wait_tcp,
    write_markdown,
)

#: ``--workload``: the request options after ``--target``.
WORKLOADS = {
    "ping": ["--send", "PING\\r\\n", "--expect", "+PONG\\r\\n"],
    "redis": [
        "--protocol", "redis", "--ratio", "1:10", "--value-size", "32", "--key-space", "100000",
    ],
}  # fmt: skip
# (category, regex on "function (file)"), first match wins; matched against the leaf frame.
CATEGORIES = [
    ("Pump._write/_flush: the send syscall (+ loopback delivery)", r"^Pump\._(write|flush) \("),
    ("Pump._pump: recv_into syscall, epoll poll, the loop", r"^Pump\._pump \("),
    ("Pump: sending (issue, _send_one, _fill, _freed)", r"^Pump\.|clients/pump\.py"),
    ("exchange: reply framing, matching, recording", r"core/exchange\.py"),
    ("protocol: request bytes, reply parser (resp, mix)", r"core/protocols/"),
    ("issue / request_for (clients/reference.py, context.py)", r"clients/(reference|context)\.py"),
    ("sock.send: sendto syscall (+ loopback delivery)", r"^(send_all|BatchedClients\._send) \("),
    ("batched pump: recv_into syscall, inner epoll poll(0), the loop", r"^BatchedClients\._pump"),
    ("sock.recv_into: recvfrom syscall + read loop", r"^_read \(.*stream"),
    ("epoll_wait (trio get_events)", r"get_events \(.*_io_epoll"),
    ("epoll_ctl re-arm per wait (trio _update_registrations)", r"_update_registrations"),
    ("trio IO wait bookkeeping", r"_io_epoll|_generated_io_epoll"),
    ("timeouts (cancel scopes, deadlines)",
     r"CancelScope|CancelStatus|move_on_after|move_on_at|contextlib|_might_change|Deadlines"),
    ("recording (WorkerRecorder, exchange, Recorder)",
     r"recorder\.py|exchange\.py|histogram\.py|numpy"),
    ("closed_loop loop body", r"^serve \("),
    ("trio scheduler (run loop, reschedule, outcome)", r"trio/_core/_run|_traps|outcome"),
    ("resource sampler thread (psutil)", r"psutil|sampling\.py"),
]  # fmt: skip
TIMEOUT = next(name for name, _ in CATEGORIES if name.startswith("timeouts"))
# --native: a sample whose innermost frame is one of these C functions is that syscall.
NATIVE = [
    ("epoll_wait: the pump blocked, idle", r"^epoll_wait \("),
    ("send syscall (+ loopback delivery to the server)", r"^(send|sendto|__send) \("),
    ("recv syscall", r"^(recv|recvfrom|__recv) \("),
]
SAMPLER_THREAD = r"TreeSampler|sampling\.py"
#: The inclusive table counts the frames below the first frame matching this (the pump).
HOT_ROOT = re.compile(r"^Pump\._pump \(")
_LINE = re.compile(r":\d+\)$")


def categorize(leaf: str, stack: list[str]) -> str:
    if any(re.search(SAMPLER_THREAD, f) for f in stack):
        return "resource sampler thread (psutil; idle between samples)"
    for name, pattern in NATIVE:
        if re.search(pattern, stack[-1]):
            return name
    for name, pattern in CATEGORIES:
        if re.search(pattern, leaf):
            return name
    # helpers (attrs __init__, heapq...) called by the timeout's cancel scope count as it
    if any("move_on_after" in f or "CancelScope" in f for f in stack[-3:]):
        return TIMEOUT
    return "other"


def summarize(raw: Path, top: int) -> tuple[list[list[str]], list[list[str]], list[list[str]], int]:
    """(categories, top leaf functions, top inclusive functions, samples) of a raw profile.

    With native frames, a sample whose innermost frame is a syscall of :data:`NATIVE` is
    that syscall's, any other its innermost Python frame's category; its leaf is its
    innermost frame, native or not. The inclusive share counts the functions called
    below the pump loop (:data:`HOT_ROOT`), each once per sample."""
    by_cat: collections.Counter[str] = collections.Counter()
    by_leaf: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [_LINE.sub(")", f) for f in stack_text.split(";")]
        python = [f for f in frames if ".py)" in f] or frames
        by_cat[categorize(python[-1], frames)] += n
        by_leaf[frames[-1]] += n
        root = next((i for i, f in enumerate(frames) if HOT_ROOT.search(f)), None)
        if root is not None:
            for frame in set(frames[root + 1 :]):
                inclusive[frame] += n
        total += n
    cats = [[name, f"{100 * n / total:.1f}"] for name, n in by_cat.most_common()]
    leaves = [[f"`{name}`", f"{100 * n / total:.1f}"] for name, n in by_leaf.most_common(top)]
    under = [[f"`{name}`", f"{100 * n / total:.1f}"] for name, n in inclusive.most_common(top)]
    return cats, leaves, under, total


def profile_run(
    target: str, clients: int, args: argparse.Namespace, workdir: Path
) -> tuple[list[list[str]], list[list[str]], list[list[str]], int, str]:
    sb = [
        *SOCKBENCH, "run", "--clients", str(clients), "--duration", str(args.seconds + 2),
        "--warmup", "1", "--workers", "1", "--client-cpus", "1", "--timeout", "5",
        "--json", str(workdir / f"result-{clients}.json"), "--out", "",
    ]  # fmt: skip
    if target == "redis":
        sb += ["--target", f"tcp://127.0.0.1:{args.port}", *WORKLOADS[args.workload]]
        sb += ["--pipeline", str(args.pipeline)]
    else:
        sb += ["--server", target, "--server-cpus", "0"]
    raw = workdir / f"profile-{clients}.txt"
    wait_for_quiet()
    proc = spawn(sb, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(args.startup)  # imports, connects, warm-up
        spy = [
            args.py_spy, "record", "--pid", str(proc.pid), "--duration", str(int(args.seconds)),
            "--rate", "250", "--format", "raw", "-o", str(raw),
            *(["--native"] if args.native else ["--nonblocking"]),
            *(["--gil"] if args.gil else []),
        ]  # fmt: skip
        subprocess.run(spy, capture_output=True, timeout=args.seconds + 60, check=True)
        proc.wait(timeout=120)
    finally:
        stop(proc)
    result = json.loads((workdir / f"result-{clients}.json").read_text())
    gen = result["generator"]
    info = (
        f"{result['totals']['throughput_rps']:,.0f} req/s, generator CPU "
        f"{gen['cpu_percent_mean']:.0f}% (user {gen['cpu_user_percent_mean']:.0f}%, "
        f"system {gen['cpu_system_percent_mean']:.0f}%), "
        f"{gen['cpu_percent_mean'] / 100 / result['totals']['throughput_rps'] * 1e6:.1f} "
        "µs CPU per request"
    )
    cats, leaves, under, total = summarize(raw, args.top)
    return cats, leaves, under, total, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,100")
    parser.add_argument("--target", default="redis", help="redis, or a sockbench model")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds sampled")
    parser.add_argument("--startup", type=float, default=3.0, help="seconds before sampling")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="ping")
    parser.add_argument("--pipeline", type=int, default=1, help="sockbench's --pipeline")
    parser.add_argument("--native", action="store_true", help="py-spy --native (pauses it)")
    parser.add_argument(
        "--gil", action="store_true", help="py-spy --gil: only samples holding the GIL (Python)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "profile_generator.md")
    args = parser.parse_args()
    log(f"measuring {machine_line()}")
    args.py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(args.py_spy).exists():
        raise SystemExit("py-spy is missing: .venv/bin/pip install py-spy")
    raise_fd_limit()
    sections = []
    with tempfile.TemporaryDirectory(prefix="sockbench-profile-") as tmp:
        workdir = Path(tmp)
        redis = None
        if args.target == "redis":
            ensure_tools({"redis-server": "redis-server", "taskset": "util-linux"})
            args.port = free_port()
            redis = [
                "taskset", "-c", "0", "redis-server", "--port", str(args.port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp,
                "--maxclients", "10000", "--daemonize", "no",
            ]  # fmt: skip
        with running(redis or ["sleep", "3600"], stdout=subprocess.DEVNULL):
            if redis:
                wait_tcp(args.port)
            for clients in (int(c) for c in args.clients.split(",")):
                log(f"profiling {clients} client(s) ...")
                cats, leaves, under, total, info = profile_run(args.target, clients, args, workdir)
                sections += [
                    f"## {clients} client(s): {info}",
                    "",
                    f"{total:,} samples. By what the code does (leaf frame):",
                    "",
                    md_table(["where the time goes", "% of samples"], cats),
                    "",
                    f"Top {args.top} leaf functions:",
                    "",
                    md_table(["function (file)", "% of samples"], leaves),
                    "",
                    f"Top {args.top} functions called by the pump loop (`Pump._pump`), by "
                    "inclusive share (on the stack at all, of all samples):",
                    "",
                    md_table(["function (file)", "% of samples"], under),
                    "",
                ]
    server = (
        f"a private redis-server on CPU 0 (`{' '.join(WORKLOADS[args.workload])} "
        f"--pipeline {args.pipeline}`)"
        if args.target == "redis"
        else (f"sockbench's `{args.target}` server on CPU 0")
    )
    text = "\n".join(
        [
            "# Profile of the generator (py-spy)",
            "",
            f"Machine: {machine_line()}. sockbench `--workers 1 --client-cpus 1` against "
            f"{server}; `py-spy record {'--native' if args.native else '--nonblocking'}"
            f"{' --gil' if args.gil else ''} --rate 250` for {args.seconds:g} s "
            "of the measurement window. Time inside a syscall is charged to the Python "
            "function that made it.",
            "",
            *sections,
        ]
    )
    write_markdown(args.out, text)


if __name__ == "__main__":
    main()
