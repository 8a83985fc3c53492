"""A TCP echo whose service time grows while it runs: a server degrading (issue 27);
or one that is slow while it warms up (``--cold-ms``, ``--cold-s``).

    python -m tests.support.drift_server --service-ms 2 --growth 0.01 --size 64
    python -m tests.support.drift_server --service-ms 1 --growth 0 --cold-ms 5 --cold-s 1

Each request of ``--size`` bytes is echoed after a service time of ``--service-ms``
times (1 + ``--growth``) to the power of the seconds since its first request: 1 % a
second by ``--growth 0.01``, compounding (a 20 s run ends 22 % slower than it began);
for the first ``--cold-s`` seconds it is ``--cold-ms`` instead (a cold cache, a JIT). A
thread per connection, so the service time is each request's latency in a closed loop
of one request in flight per connection. ``--growth 0`` is a steady server of the same
shape. It prints ``READY <port>`` once listening on 127.0.0.1 and exits on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
import time
from dataclasses import dataclass
from types import FrameType


@dataclass(frozen=True)
class Service:
    base_s: float
    growth: float
    cold_s: float = 0.0  # for this long after the first request, cold_service_s
    cold_service_s: float = 0.0


def service_s(service: Service, since_s: float) -> float:
    """The service time ``since_s`` seconds after the first request."""
    if since_s < service.cold_s:
        return service.cold_service_s
    return service.base_s * (1.0 + service.growth) ** since_s


def _serve(conn: socket.socket, size: int, service: Service, first: list[float]) -> None:
    with conn:
        buf = b""
        try:
            while data := conn.recv(65536):
                buf += data
                while len(buf) >= size:
                    request, buf = buf[:size], buf[size:]
                    now = time.monotonic()
                    if not first:
                        first.append(now)
                    time.sleep(service_s(service, now - first[0]))
                    conn.sendall(request)
        except OSError:
            return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--service-ms", type=float, default=2.0)
    parser.add_argument("--growth", type=float, default=0.01, help="per second, compounding")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--cold-ms", type=float, default=0.0)
    parser.add_argument("--cold-s", type=float, default=0.0, help="cold this long")
    args = parser.parse_args()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"READY {listener.getsockname()[1]}", flush=True)
    first: list[float] = []  # when the first request came: the drift's origin
    service = Service(args.service_ms / 1000, args.growth, args.cold_s, args.cold_ms / 1000)
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(
            target=_serve,
            args=(conn, args.size, service, first),
            daemon=True,
        ).start()


if __name__ == "__main__":
    main()
