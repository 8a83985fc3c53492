"""sockbench vs iperf3: one-way TCP stream throughput on loopback, 64 KiB messages.

The anchor is iperf3 (C on both ends): ``iperf3 -c 127.0.0.1 -l 64K [-P 4] -t D -O W``
against ``iperf3 -s``. The measured side is ``sockbench run --mode stream --payload
65536 --clients N --duration D --warmup W`` against its built-in sink (``--server``,
default: the run's default model). Both run for the same time after the same
warm-up (iperf3's ``-O`` omits it), alternated A B A B ``--reps`` times, for 1 and
for 4 streams; every run is listed, with the ratio of each B to the A before it.
``--baseline TREE`` adds a third variant, the sockbench code at TREE (e.g. an
export of ``main``), for before/after numbers in the same alternation.

Which side limits (``--diagnose``, 1 stream): every sender against every receiver,
alternated. Senders: the sockbench generator, and a plain Python blocking sender
(``send`` of 1 MiB from a memoryview, no event loop: the least a Python sender
does). Receivers: the sockbench sink model (``sockbench serve --behaviour sink``),
and a plain Python blocking sink (``recv_into`` one 64 KiB buffer). Sender against
sender on the same receiver and receiver against receiver with the same sender say
which side costs what; the CPU columns say which side was busy.

    .venv/bin/python benchmarks/vs_iperf3.py                # ~3 minutes
    .venv/bin/python benchmarks/vs_iperf3.py --quick        # ~1 minute
    git archive main sockbench | tar -x -C /tmp/base        # then, for before/after:
    .venv/bin/python benchmarks/vs_iperf3.py --baseline /tmp/base --diagnose
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

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

TOOLS = {"iperf3": "iperf3"}
PAYLOAD = 65536
PLAIN_WRITE = 1 << 20
PLAIN_READ = 1 << 16
SCRIPT = str(Path(__file__).resolve())


def gbit(bps: float | None) -> str:
    return fmt(None if bps is None else bps / 1e9, 1)


# -- the variants --------------------------------------------------------------------


def iperf3(port: int, streams: int, args: argparse.Namespace, length: str) -> dict[str, Any]:
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-l", length, "-J",
            "-t", str(args.seconds), "-O", str(args.warmup), "-P", str(streams)]  # fmt: skip
    done = run_bounded(argv, args.seconds + args.warmup + 30)
    doc = json.loads(done.stdout.decode(errors="replace") or "{}")
    if "end" not in doc:
        raise RuntimeError(f"iperf3 failed: {doc.get('error') or done.stderr[-500:]!r}")
    end, cpu = doc["end"], doc["end"].get("cpu_utilization_percent", {})
    return {
        "sender_bps": end["sum_sent"]["bits_per_second"],
        "receiver_bps": end["sum_received"]["bits_per_second"],
        "sender_cpu": cpu.get("host_total"),
        "receiver_cpu": cpu.get("remote_total"),
    }


def sockbench(
    streams: int, args: argparse.Namespace, *, target: str | None = None, tree: Path | None = None
) -> dict[str, Any]:
    where = ["--target", target] if target else ["--server", args.server] if args.server else []
    run_args = ["--mode", "stream", "--payload", str(PAYLOAD), "--clients", str(streams),
                "--duration", str(args.seconds), "--warmup", str(args.warmup), *where]  # fmt: skip
    prefix = ["env", f"PYTHONPATH={tree}", PYTHON, "-m", "sockbench"] if tree else []
    if tree:
        argv = [*prefix, "run", *run_args, "--json", "-", "--out", ""]
        # From TREE itself: the checkout's own directory would come first on sys.path.
        done = run_bounded(argv, args.seconds + args.warmup + 60, cwd=str(tree))
        result = json.loads(done.stdout.decode(errors="replace"))
    else:
        result = sockbench_run(run_args, args.seconds + args.warmup + 60)
    stream, totals = result["stream"], result["totals"]
    sender = stream.get("sender", {}).get("bps") or totals["bytes_sent"] * 8 / result["duration_s"]
    receiver = (stream.get("receiver") or {}).get("bps")
    return {
        "sender_bps": sender,
        "receiver_bps": receiver,
        "sender_cpu": (result.get("generator") or {}).get("cpu_percent_mean"),
        "receiver_cpu": (result.get("server_resources") or {}).get("cpu_percent_mean"),
    }


def plain_sender(port: int, args: argparse.Namespace) -> dict[str, Any]:
    argv = [PYTHON, SCRIPT, "--plain-sender", str(port), str(args.seconds), str(args.warmup)]
    done = run_bounded(argv, args.seconds + args.warmup + 30)
    return json.loads(done.stdout.decode())  # type: ignore[no-any-return]


# -- the plain Python ends (run as subprocesses of this script) ----------------------


def run_plain_sender(port: int, seconds: float, warmup: float) -> None:
    """Blocking ``send`` of 1 MiB from a memoryview; bytes of writes started in the window."""
    view = memoryview(b"x" * PLAIN_WRITE)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        send, clock = sock.send, time.monotonic
        start = clock() + warmup
        end = start + seconds
        counted = 0
        while (now := clock()) < end:
            n = send(view)
            if now >= start:
                counted += n
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):  # the sink's report, if it gives one, then its close
            pass
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime) / (
        seconds + warmup
    )
    print(json.dumps({"sender_bps": counted * 8 / seconds, "receiver_bps": None,
                      "sender_cpu": 100 * cpu, "receiver_cpu": None}))  # fmt: skip


def run_plain_sink(port: int) -> None:
    """Blocking ``recv_into`` one 64 KiB buffer per connection; answers the half-close
    with sockbench's sink report, so the generator gets its receiver line."""
    sys.path.insert(0, str(Path(SCRIPT).parents[1]))
    from sockbench.core.sink_report import encode_report

    def serve(conn: socket.socket) -> None:
        buf = bytearray(PLAIN_READ)
        reads = total = 0
        with conn:
            try:
                while n := conn.recv_into(buf):
                    reads += 1
                    total += n
                conn.sendall(encode_report(reads, total))
            except OSError:
                pass

    with socket.create_server(("127.0.0.1", port)) as listener:
        print("READY", flush=True)
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


# -- the runs ---------------------------------------------------------------------------


def main_table(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    port = free_port()
    variants = ["iperf3", "sockbench", "iperf3 -l 1M"]
    variants += ["sockbench (baseline)"] if args.baseline else []
    rows, runs = [], []
    with running(["iperf3", "-s", "-p", str(port)], stdout=open(os.devnull, "wb")):
        wait_tcp(port)
        time.sleep(0.3)
        for streams in (1, 4):
            got: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
            for rep in range(args.reps):
                for variant in variants:
                    wait_for_quiet()
                    if variant.startswith("iperf3"):
                        sample = iperf3(port, streams, args, "1M" if "1M" in variant else "64K")
                    else:
                        tree = args.baseline if variant != "sockbench" else None
                        sample = sockbench(streams, args, tree=tree)
                    got[variant].append(sample)
                    log(f"{streams} stream(s) rep {rep + 1} {variant}: "
                        f"{gbit(sample['sender_bps'])} Gbit/s")  # fmt: skip
            anchor = [s["sender_bps"] for s in got["iperf3"]]
            for variant in variants:
                samples = got[variant]
                ratios = [s["sender_bps"] / a for s, a in zip(samples, anchor, strict=True)]
                rows.append([
                    str(streams), variant,
                    gbit(median([s["sender_bps"] for s in samples])),
                    gbit(median([s["receiver_bps"] or float("nan") for s in samples])),
                    fmt(median([s["sender_cpu"] or float("nan") for s in samples])),
                    fmt(median([s["receiver_cpu"] or float("nan") for s in samples])),
                    fmt(median(ratios), 2),
                    ", ".join(f"{r:.2f}" for r in ratios),
                ])  # fmt: skip
                runs.append(
                    f"{streams} stream(s), {variant}: "
                    + ", ".join(gbit(s["sender_bps"]) for s in samples)
                    + " Gbit/s"
                )
    headers = ["streams", "sender", "sent Gbit/s", "received Gbit/s", "sender CPU %",
               "receiver CPU %", "÷ iperf3 (median)", "÷ iperf3, each run"]  # fmt: skip
    return [md_table(headers, rows, "rlrrrrrl")], runs


def diagnose(args: argparse.Namespace) -> list[str]:
    """Every sender against every receiver, 1 stream, alternated."""
    sink_port, plain_port = free_port(), free_port()
    model = args.server or "asyncio"
    serve = [*SOCKBENCH, "serve", "--server", model, "--behaviour", "sink",
             "--bind", f"127.0.0.1:{sink_port}"]  # fmt: skip
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    receivers = {f"sockbench {model} sink": sink_port, "plain Python sink": plain_port}
    devnull = open(os.devnull, "wb")  # noqa: SIM115
    with (
        running(serve, stdout=devnull),
        running([PYTHON, SCRIPT, "--plain-sink", str(plain_port)], stdout=devnull),
    ):
        wait_tcp(sink_port)
        wait_tcp(plain_port)
        for _ in range(args.diagnose_reps):
            for receiver, port in receivers.items():
                for sender in ("sockbench generator", "plain Python sender"):
                    wait_for_quiet()
                    if sender == "plain Python sender":
                        sample = plain_sender(port, args)
                    else:
                        sample = sockbench(1, args, target=f"tcp://127.0.0.1:{port}")
                        sample["receiver_cpu"] = None  # an external target: not measured
                    cells.setdefault((sender, receiver), []).append(sample)
    devnull.close()
    rows = [
        [sender, receiver,
         gbit(median([s["sender_bps"] for s in samples])),
         fmt(median([s["sender_cpu"] or float("nan") for s in samples])),
         ", ".join(gbit(s["sender_bps"]) for s in samples)]
        for (sender, receiver), samples in cells.items()
    ]  # fmt: skip
    headers = ["sender", "receiver", "Gbit/s (median)", "sender CPU %", "each run"]
    return [md_table(headers, rows, "llrrl")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--server", default="", help="sockbench sink model [run's default]")
    parser.add_argument("--baseline", type=Path, help="also measure the sockbench code at TREE")
    parser.add_argument("--diagnose", action="store_true", help="sender x receiver matrix")
    parser.add_argument("--diagnose-reps", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 s runs, 2 reps, 1 diagnose rep")
    parser.add_argument("--out", type=Path, default=RESULTS / "vs_iperf3.md")
    parser.add_argument("--plain-sender", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--plain-sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_sender:
        port, seconds, warmup = args.plain_sender
        run_plain_sender(int(port), float(seconds), float(warmup))
        return
    if args.plain_sink:
        run_plain_sink(args.plain_sink)
        return
    if args.quick:
        args.seconds, args.reps, args.diagnose_reps = 2.0, 2, 1
    ensure_tools(TOOLS)
    machine = machine_line()
    table, runs = main_table(args)
    text = [
        "# sockbench vs iperf3: one-way TCP stream throughput, 64 KiB messages",
        "",
        f"Machine: {machine}. Alternated A B A B, {args.reps} reps, {args.seconds:g} s "
        f"measured after {args.warmup:g} s warm-up per run. A: `iperf3 -c 127.0.0.1 -l 64K "
        f"[-P 4] -t {args.seconds:g} -O {args.warmup:g}` against `iperf3 -s`. B: `sockbench run "
        f"--mode stream --payload 65536 --clients N` against its built-in sink "
        f"({args.server or 'the default model'}), which writes 1 MiB (16 messages) per call; "
        "`iperf3 -l 1M` is there for reference. Ratio: sent bit/s over iperf3 `-l 64K`'s, "
        "each run with the anchor run of its round. CPU %: of one core, mean over the run "
        "(iperf3's own "
        "figures; for sockbench the generator's and the server's). Target: ≥ 1.0×. "
        "`--baseline` rows: the code at that tree (before this change).",
        "",
        *table,
        "",
        "Every run: " + "; ".join(runs) + ".",
        "",
    ]
    if args.diagnose:
        text += [
            "## Which side limits: every sender against every receiver, 1 stream",
            "",
            *diagnose(args),
            "",
        ]
    write_markdown(args.out, "\n".join(text))


if __name__ == "__main__":
    main()
