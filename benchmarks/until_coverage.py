"""``--until 'p99 ±5%'`` against a steady server: when it stops, and whether the p99 of
repeated runs falls inside each other's intervals about as often as promised.

Each run measures a built-in server (uvloop by default) on 127.0.0.1 in closed loop
with ``--until`` and ``--duration`` as the maximum, in this process (one worker). The
table gives each run's stop (``until.needed_s``; the maximum when the rule was not
reached), its p99 with the 95 % interval the rule read (``validity.percentiles``) and
its width. Then the pairwise coverage: of the n·(n-1) ordered pairs (i, j), the share
where run i's p99 lies inside run j's interval. Were every interval a 95 % interval of
one true p99 and the runs' estimates normal with equal spread, that share would be
P(|Z| < 1.96/√2) ≈ 0.83 (the difference of two estimates has √2 times the spread of
one), not 0.95; far less says the runs measured different p99s (the machine moved
between them) or the intervals are too narrow.

    .venv/bin/python benchmarks/until_coverage.py                 # 10 runs, 30 s at most each
    .venv/bin/python benchmarks/until_coverage.py --runs 4 --duration 15 --until 'p99 ±10%'
    .venv/bin/python benchmarks/until_coverage.py --shared-server   # one server for all runs
    .venv/bin/python benchmarks/until_coverage.py --segments 10,15,30 --result long.json

With ``--shared-server`` one ``sockbench serve`` process serves every run (a target of
theirs), so the spread between runs leaves out what differs between server processes
(where a fresh one lands in memory and on which CPU): whether the runs then agree as
often as their intervals promise tells that part apart from the machine's drift.

With ``--segments`` it runs nothing: it cuts one saved result's intervals
(``sockbench run ... --json FILE``) into consecutive segments of N intervals, takes each
segment's p99 and 95 % interval as a run of that length would have (the same
``percentile_ci`` code), and gives their pairwise coverage: within one run, one server
and one process, how far apart its own stretches are.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import (
    RESULTS,
    SOCKBENCH,
    free_port,
    log,
    machine_line,
    md_table,
    spawn,
    stop,
    wait_tcp,
    write_markdown,
)

from sockbench.core.histogram import decode
from sockbench.core.percentile_ci import percentile_interval
from sockbench.engine.orchestration.runner import run
from sockbench.machine import build_run_spec

#: Two estimates of one normal quantity, each with its 95 % interval: how often one
#: falls in the other's interval.
EXPECTED = math.erf(1.959964 / math.sqrt(2) / math.sqrt(2))


def one_run(options: dict[str, Any]) -> dict[str, Any]:
    result = run(build_run_spec(options), command="benchmarks/until_coverage.py").result
    until = result["until"]
    p99 = result["validity"]["percentiles"]["99"]
    load = (result.get("environment") or {}).get("loadavg") or [None]
    return {
        "reached": until["reached"],
        "stop_s": result["duration_s"],
        "p99": p99["value"],
        "low": p99["low"],
        "high": p99["high"],
        "relative": until["relative"],
        "rps": result["totals"]["throughput_rps"],
        "verdict": result["validity"]["verdict"],
        "load": load[0],
    }


@contextlib.contextmanager
def _serving(model: str) -> Iterator[str]:
    """``sockbench serve --server MODEL`` on a free port for the ``with`` block: its target."""
    port = free_port()
    server = spawn([*SOCKBENCH, "serve", "--server", model, "--bind", f"127.0.0.1:{port}"])
    try:
        wait_tcp(port)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        stop(server)


def segment_coverage(result: dict[str, Any], length: int) -> tuple[int, int, int, float]:
    """(inside, pairs, segments, mean relative width) of the p99 intervals of consecutive
    segments of ``length`` intervals of one result."""
    hists = [decode(r["histogram"]) for r in result["intervals"] if r.get("histogram")]
    found = []
    for start in range(0, len(hists) - length + 1, length):
        p99 = percentile_interval(hists[start : start + length], 99.0)
        if p99 is not None and p99.low is not None and p99.high is not None:
            found.append({"p99": p99.value, "low": p99.low, "high": p99.high,
                          "relative": p99.relative})  # fmt: skip
    inside, total = coverage(found)
    width = sum(f["relative"] for f in found) / len(found) if found else float("nan")
    return inside, total, len(found), width


def segments_text(path: Path, lengths: list[int]) -> str:
    result = json.loads(path.read_text())
    rates = [row["rps"] for row in result["intervals"]]
    rows = []
    for length in lengths:
        inside, total, count, width = segment_coverage(result, length)
        share = f"{inside / total:.0%}" if total else "-"
        rows.append([str(length), str(count), f"±{width:.1%}", f"{inside} of {total}", share])
    return (
        f"# p99 intervals of one run's segments\n\n{machine_line()}\n\n"
        f"`{result['command']}` ({len(rates)} intervals of "
        f"{result['config']['interval_s']:g} s; req/s per interval {min(rates):,.0f} to "
        f"{max(rates):,.0f}), cut into consecutive segments; about {EXPECTED:.0%} of the "
        "ordered pairs expected inside each other's intervals for one steady p99.\n\n"
        + md_table(
            ["intervals per segment", "segments", "mean width", "pairs inside", "coverage"],
            rows,
            "rrrrr",
        )
        + "\n"
    )


def coverage(runs: list[dict[str, Any]]) -> tuple[int, int]:
    """(pairs where run i's p99 lies in run j's interval, ordered pairs i != j)."""
    inside = total = 0
    for a, b in itertools.permutations(runs, 2):
        if b["low"] is None or b["high"] is None:
            continue
        total += 1
        inside += b["low"] <= a["p99"] <= b["high"]
    return inside, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--until", default="p99 ±5%")
    parser.add_argument("--duration", type=float, default=30.0, help="the maximum, seconds")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--server", default="uvloop", help="built-in server model")
    parser.add_argument("--shared-server", action="store_true", help="one server, all runs")
    parser.add_argument("--segments", help="comma-separated lengths: cut --result, run nothing")
    parser.add_argument("--result", type=Path, help="a saved result (--json) for --segments")
    parser.add_argument("--output", type=Path, default=RESULTS / "until_coverage.md")
    args = parser.parse_args()
    if args.segments:
        if args.result is None:
            parser.error("--segments needs --result FILE")
        lengths = [int(n) for n in args.segments.split(",")]
        write_markdown(args.output, segments_text(args.result, lengths))
        return
    machine = machine_line()
    runs = []
    with contextlib.ExitStack() as stack:
        target = stack.enter_context(_serving(args.server)) if args.shared_server else None
        for k in range(args.runs):
            options: dict[str, Any] = dict(
                server_model=None if target else args.server, target=target, proto="",
                clients=args.clients, duration_s=args.duration, warmup_s=2.0, until=args.until,
                workers="1", out_dir=None, quiet=True,
            )  # fmt: skip
            runs.append(one_run(options))
            log(f"run {k + 1}/{args.runs}: {runs[-1]}")
    rows = [
        [
            str(i), "yes" if r["reached"] else "no (maximum)", f"{r['stop_s']:.1f}",
            f"{r['p99']:,}", f"{r['low']:,}" if r["low"] is not None else "-",
            f"{r['high']:,}" if r["high"] is not None else "-",
            f"±{r['relative'] * 100:.1f} %" if r["relative"] is not None else "-",
            f"{r['rps']:,.0f}", r["verdict"], f"{r['load']:.1f}" if r["load"] else "-",
        ]
        for i, r in enumerate(runs, start=1)
    ]  # fmt: skip
    table = md_table(
        ["run", "reached", "stopped at s", "p99 µs", "low µs", "high µs", "width", "req/s",
         "validity", "load avg"],
        rows, "llrrrrrrlr",
    )  # fmt: skip
    inside, total = coverage(runs)
    reached = sum(r["reached"] for r in runs)
    share = inside / total if total else float("nan")
    text = (
        f"# `--until '{args.until}'`: stop times and coverage\n\n{machine}\n\n"
        f"{args.runs} runs, `--server {args.server}"
        f"{' (one process for all runs: --shared-server)' if args.shared_server else ''}"
        f" --clients {args.clients} --warmup 2 "
        f"--duration {args.duration:g} --until '{args.until}'`, one worker, closed loop.\n\n"
        f"{table}\n\n"
        f"Reached before the maximum: {reached} of {args.runs}. Pairwise coverage: "
        f"{inside} of {total} ordered pairs ({share:.0%}) have one run's p99 inside the "
        f"other's interval; about {EXPECTED:.0%} expected of one steady p99.\n"
    )
    write_markdown(args.output, text)


if __name__ == "__main__":
    main()
