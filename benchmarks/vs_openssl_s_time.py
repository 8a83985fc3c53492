"""sockbench churn over TLS vs ``openssl s_time``: handshakes per second on loopback.

The anchor is ``openssl s_time -connect 127.0.0.1:PORT -www /index.html -new`` (a full
handshake per connection) and ``-reuse`` (the first session resumed on every later
connection): C, one connection at a time, each a handshake, a ``GET`` and its reply.
The measured side is ``sockbench run --mode churn --clients 1`` with the same request
(``--send 'GET /index.html HTTP/1.0' --expect-until 'hello'``), without and with
``--tls-resume``. Both load the same nginx (https, one worker, a certificate trustme
made), pinned to CPU 0 with the clients on CPU 1 (``taskset``), alternated A B A B
``--reps`` times; every run is listed with the ratio of each sockbench run to the
s_time run just before it.

s_time's rate is its connection count over the wall time of its process (its own
"real seconds" are whole seconds); sockbench's is its served rate in the window.
nginx's access log counts what each run was served, as a cross-check.

    .venv/bin/python benchmarks/vs_openssl_s_time.py            # ~1 minute
    .venv/bin/python benchmarks/vs_openssl_s_time.py --quick    # ~20 s
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    RESULTS,
    ROOT,
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
    wait_tcp,
    write_markdown,
)

sys.path.insert(0, str(ROOT))

from tests.support.nginx import private_config

TOOLS = {"nginx": "nginx-light", "openssl": "openssl", "taskset": "util-linux"}
PAGE = "/index.html"
BODY = "hello\n"
SERVER_CPU, CLIENT_CPU = "0", "1"
SERVER = """
    access_log {dir}/access.log;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.pem;
        ssl_session_cache shared:tls:10m;
        root {dir}/www;
    }}"""
_S_TIME = re.compile(r"(\d+) connections in [\d.]+s;")


def _nginx_files(folder: Path, port: int) -> Path:
    """Certificate, page and config; the CA's PEM path."""
    import trustme

    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(folder / "server.pem")
    )
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    (folder / "www").mkdir()
    (folder / "www" / PAGE.lstrip("/")).write_text(BODY)
    config = private_config(folder, SERVER.format(dir=folder, port=port))
    (folder / "nginx.conf").write_text(config)
    return folder / "ca.pem"


def _served(log_path: Path) -> int:
    return len(log_path.read_text().splitlines()) if log_path.exists() else 0


def s_time(port: int, ca: Path, seconds: float, reuse: bool) -> dict[str, Any]:
    argv = ["taskset", "-c", CLIENT_CPU, "openssl", "s_time", "-connect", f"127.0.0.1:{port}",
            "-www", PAGE, "-CAfile", str(ca), "-time", str(int(seconds)),
            "-reuse" if reuse else "-new"]  # fmt: skip
    started = time.monotonic()
    done = run_bounded(argv, seconds + 30)
    wall = time.monotonic() - started
    found = _S_TIME.search(done.stdout.decode(errors="replace"))
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"s_time failed (rc {done.returncode}): {done.stderr[-500:]!r}")
    connections = int(found.group(1))
    return {"rate": connections / wall, "connections": connections, "p50_us": None}


def sockbench_churn(port: int, ca: Path, seconds: float, reuse: bool) -> dict[str, Any]:
    args = ["--target", f"tls://127.0.0.1:{port}", "--tls-ca", str(ca), "--mode", "churn",
            "--clients", "1", "--duration", str(seconds), "--warmup", "0.5",
            "--send", f"GET {PAGE} HTTP/1.0\\r\\n\\r\\n", "--expect-until", "hello\\n"]  # fmt: skip
    if reuse:
        args.append("--tls-resume")
    result = sockbench_run(args, seconds + 60, prefix=["taskset", "-c", CLIENT_CPU])
    errors = sum(result["totals"]["errors"].values())
    if errors:
        raise RuntimeError(f"sockbench counted errors: {result['totals']['errors']}")
    tls = result["tls"]
    return {
        "rate": result["totals"]["throughput_rps"],
        "connections": result["totals"]["requests"],
        "p50_us": result["handshake_us"]["p50"],
        "resumed": f"{tls['resumed']}/{tls['handshakes']}",
    }


Variant = tuple[str, bool, Callable[[int, Path, float, bool], dict[str, Any]]]
VARIANTS: list[Variant] = [
    ("s_time -new", False, s_time),
    ("sockbench churn", False, sockbench_churn),
    ("s_time -reuse", True, s_time),
    ("sockbench churn --tls-resume", True, sockbench_churn),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="2 reps of 2 s")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.seconds = 2, 2.0
    ensure_tools(TOOLS)
    machine = machine_line()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    rows: list[list[str]] = []
    rates: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    ratios: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS[1::2]}
    with tempfile.TemporaryDirectory(prefix="sb-s_time-") as tmp:
        folder = Path(tmp)
        port = free_port()
        ca = _nginx_files(folder, port)
        argv = ["taskset", "-c", SERVER_CPU, nginx, "-c", str(folder / "nginx.conf"),
                "-p", str(folder)]  # fmt: skip
        with running(argv, stdout=open(os.devnull, "wb"), stderr=open(os.devnull, "wb")):
            wait_tcp(port)
            for rep in range(1, args.reps + 1):
                anchor = 0.0
                for name, reuse, measure in VARIANTS:
                    before = _served(folder / "access.log")
                    got = measure(port, ca, args.seconds, reuse)
                    served = _served(folder / "access.log") - before
                    rates[name].append(got["rate"])
                    ratio = ""
                    if name.startswith("s_time"):
                        anchor = got["rate"]
                    else:
                        ratios[name].append(got["rate"] / anchor)
                        ratio = fmt(got["rate"] / anchor, 2)
                    log(f"rep {rep} {name}: {got['rate']:.0f} handshakes/s")
                    rows.append([
                        str(rep), name, fmt(got["rate"]), ratio, str(served),
                        fmt(got["p50_us"]), got.get("resumed", ""),
                    ])  # fmt: skip
    summary = [
        [name, fmt(median(rates[name])), fmt(median(ratios[name]), 2) if name in ratios else ""]
        for name, _, _ in VARIANTS
    ]
    load = os.getloadavg()[0]
    text = "\n\n".join(
        [
            "# sockbench churn over TLS vs openssl s_time (handshakes/s)",
            f"{machine}. nginx (https, 1 worker) on CPU {SERVER_CPU}, the client on CPU "
            f"{CLIENT_CPU} (taskset); one connection at a time, each a handshake, `GET {PAGE}` "
            f"and its reply; {args.reps} reps of {args.seconds:g} s, alternated. Load average "
            f"{load:.1f} at the end: the machine was shared, so read the ratios, not the rates.",
            "Command: `.venv/bin/python benchmarks/vs_openssl_s_time.py"
            + (" --quick`" if args.quick else "`"),
            "## Medians",
            md_table(["variant", "handshakes/s", "ratio to s_time"], summary, "lrr"),
            "## Every run",
            md_table(
                [
                    "rep",
                    "variant",
                    "handshakes/s",
                    "ratio",
                    "nginx served",
                    "handshake p50 µs",
                    "resumed",
                ],
                rows,
                "rlrrrrr",
            ),
        ]
    )
    write_markdown(RESULTS / "vs_openssl_s_time.md", text)


if __name__ == "__main__":
    main()
