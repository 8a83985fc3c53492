"""UDP open loop past the knee: two source trees of sockbench, A B A B, and the kernel's
own count of datagrams dropped at full receive buffers.

Runs ``sockbench run --proto udp --clients 50 -d 3 --rate R`` (the built-in asyncio
server) from a BEFORE and an AFTER tree, alternated, and writes per run: requests
issued, datagrams sent, received and lost, loss, req/s served, the result's
``generator_drops`` and ``target_drops`` (absent before they were counted), the
machine's ``Udp: RcvbufErrors`` delta over the run (``/proc/net/snmp``: every datagram
dropped at a full receive buffer, at either end), the validity verdict and the load.

    git worktree add /tmp/before 467120c
    .venv/bin/python benchmarks/udp_past_the_knee.py --before /tmp/before \\
        --rates 50k,100k,200k --out results/udp_past_the_knee.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, machine_line, md_table, write_markdown

COLUMNS = (
    "rate", "tree", "issued", "sent", "received", "lost", "loss %", "req/s served",
    "generator_drops", "target_drops", "kernel RcvbufErrors", "validity", "load",
)  # fmt: skip


def rcvbuf_errors() -> int:
    """The machine's count of UDP datagrams dropped at a full receive buffer."""
    with open("/proc/net/snmp") as snmp:
        names, values = (line.split() for line in snmp if line.startswith("Udp:"))
    return int(values[names.index("RcvbufErrors")])


def one_run(tree: Path, rate: str, out: Path) -> list[str]:
    before = rcvbuf_errors()
    subprocess.run(
        [sys.executable, "-m", "sockbench", "run", "--proto", "udp", "--clients", "50",
         "-d", "3", "--rate", rate, "--json", str(out), "--out", "", "--quiet"],
        env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tree, check=False,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    dropped = rcvbuf_errors() - before
    doc = json.loads(out.read_text())
    totals, d = doc["totals"], doc["datagrams"]
    loss = 100 * d["lost"] / d["sent"] if d["sent"] else 0.0
    return [
        rate, "", f"{totals['requests_issued']:,}", f"{d['sent']:,}", f"{d['received']:,}",
        f"{d['lost']:,}", f"{loss:.2f}", f"{totals['throughput_rps']:,.0f}",
        f"{d['generator_drops']:,}" if "generator_drops" in d else "—",
        f"{d['target_drops']:,}" if "target_drops" in d else "—", f"{dropped:,}",
        doc["validity"]["verdict"], f"{os.getloadavg()[0]:.2f}",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the BEFORE source tree")
    parser.add_argument("--after", type=Path, default=ROOT, help="the AFTER source tree")
    parser.add_argument("--rates", default="50k,100k,200k")
    parser.add_argument("--reps", type=int, default=2, help="A B pairs per rate")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "udp_past_the_knee.md")
    args = parser.parse_args()
    machine = machine_line()
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.rates.split(","):
            for rep in range(args.reps):
                for name, tree in (("before", args.before), ("after", args.after)):
                    row = one_run(tree, rate, Path(tmp) / f"{name}-{rate}-{rep}.json")
                    row[1] = name
                    rows.append(row)
                    print(" | ".join(row), flush=True)
    write_markdown(
        args.out,
        "\n\n".join(
            [
                "# UDP open loop past the knee: before and after",
                machine,
                f"`{' '.join(sys.argv)}`; each run `sockbench run --proto udp --clients 50 "
                "-d 3 --rate R` against the built-in asyncio server, the trees alternated.",
                md_table(COLUMNS, rows),
            ]
        ),
    )


if __name__ == "__main__":
    main()
