"""A stream sink written apart from sockbench's servers, counting what each connection
delivered, run as a real process by the tests.

    python -m tests.support.counting_sink [--unix PATH] [--no-report] [--delay-report S]

Prints ``READY <port or path>`` once listening. At each connection's EOF it answers
with the sink report (unless ``--no-report``: then it just closes, as a sink that is
not sockbench's would), ``--delay-report`` seconds later (a slow sink: the client's
drain waits for it). On SIGTERM prints ``COUNTS <json list of bytes per
connection, in order of EOF>`` and exits.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import threading
import time

from sockbench.core.sink_report import encode_report

COUNTS: list[int] = []
LOCK = threading.Lock()


def serve(conn: socket.socket, report: bool, delay_s: float = 0.0) -> None:
    total = reads = 0
    with conn:
        try:
            while data := conn.recv(1 << 16):
                total += len(data)
                reads += 1
            time.sleep(delay_s)
            if report:
                conn.sendall(encode_report(reads, total))
        except OSError:
            pass
    with LOCK:
        COUNTS.append(total)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--unix")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--delay-report", type=float, default=0.0)
    args = parser.parse_args()
    if args.unix:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(args.unix)
        where = args.unix
    else:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        where = str(listener.getsockname()[1])
    listener.listen(128)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            served = (conn, not args.no_report, args.delay_report)
            threading.Thread(target=serve, args=served, daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print(f"READY {where}", flush=True)
    stopped.wait()
    with LOCK:
        print(f"COUNTS {json.dumps(COUNTS)}", flush=True)


if __name__ == "__main__":
    main()
