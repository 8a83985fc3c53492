"""Each command's examples, shown at the end of its ``--help`` (as wrk's and hyperfine's
usage texts end) and run by a test with the load patched out, so none can rot."""

from __future__ import annotations

EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "run": (
        ("a built-in model, 100 clients, closed loop",
         "sockbench run --server uvloop --clients 100 -d 10s"),
        ("redis at 20k req/s, open loop (latency from when each request was due)",
         "sockbench run --target tcp://127.0.0.1:6379 --protocol redis -c 50 --rate 20k"),
        ("UDP, Poisson arrivals, fail the run (exit 3) past 1 ms",
         "sockbench run --proto udp -c 200 --rate 50k --arrival poisson --check 'p99 < 1ms'"),
        ("your own server, started and stopped by sockbench",
         "sockbench run --server-cmd 'python3 srv.py {port}' -c 1k -d 1m --json r.json"),
        ("three repeats, each with its Markdown report, ready for sockbench diff",
         "sockbench run --server selectors -c 50 --repeat 3 --export md=run.md"),
        ("the options of a checked-in scenario file, one of them overridden",
         "sockbench run --config bench.toml --clients 200"),
    ),
    "compare": (
        ("three models over two transports and two client counts",
         "sockbench compare --server threaded,asyncio,uvloop --proto tcp,udp --clients 10,100"),
        ("each model's capacity at an SLO",
         "sockbench compare --server selectors,uvloop --capacity 'p99 < 1ms'"),
    ),
    "sweep": (
        ("a latency-load curve, 10k to 90k req/s",
         "sockbench sweep --server asyncio -c 50 --rate 10k:90k:10k"),
    ),
    "search": (
        ("the highest rate that keeps p99 under 1 ms with no errors",
         "sockbench search --target tcp://127.0.0.1:9000 --slo 'p99 < 1ms' --slo 'errors == 0'"),
    ),
    "serve": (
        ("a built-in model on its own, for another tool to load",
         "sockbench serve --server uvloop --bind 127.0.0.1:9000"),
    ),
    "report": (
        ("a saved result as HTML", "sockbench report result.json -f html -o report.html"),
    ),
    "diff": (
        ("two results, or two folders of repeats", "sockbench diff before.json after.json"),
    ),
}  # fmt: skip


def epilog(command: str) -> str:
    """``command``'s examples as click prints an epilog (``\\b``: kept as written)."""
    lines = ["Examples:"]
    for what, line in EXAMPLES[command]:
        lines += ["", "\b", f"  # {what}", f"  {line}"]
    return "\n".join(lines)
